"""One module a ``twitchmon`` command, each with ``main(args) -> int``.

The command line (:mod:`..cli`) loads only the command it runs, by name
(:data:`..cli.COMMANDS`), so ``twitchmon serve`` never loads the daemon and
``twitchmon run`` never loads the page.  Errors to say in one line are
raised as :class:`..errors.UsageError` (exit 2) or
:class:`..errors.StartError` (exit 1).
"""
