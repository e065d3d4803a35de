"""twitchmon's log: the :mod:`logging` module, with levels, to the journal.

Under systemd, stdout and stderr go to the journal; a line that begins with
``<N>`` (syslog priority N) is stored at that level (systemd.exec,
``SyslogLevelPrefix=``, on by default), so ``journalctl -p warning -u
twitchmon`` shows only what needs the owner.  The prefix is written only
when the stream is the journal (``$JOURNAL_STREAM`` names it); on a terminal
a line reads as before: ``twitchmon: ...``, warnings and worse on stderr.
"""
from __future__ import annotations

import logging
import os
import sys

#: logging level -> syslog priority (sd-daemon(3))
PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


def _is_journal(stream) -> bool:
    """True when ``stream`` is the journal's socket systemd handed us."""
    want = os.environ.get("JOURNAL_STREAM", "")
    try:
        st = os.fstat(stream.fileno())
        return want == f"{st.st_dev}:{st.st_ino}"
    except (AttributeError, OSError, ValueError):  # a test's captured stream has no file
        return False


class ConsoleHandler(logging.Handler):
    """Info to stdout, warnings and worse to stderr, looked up at each record
    (so a test capturing sys.stderr sees them), with the journal's level prefix."""

    def emit(self, record: logging.LogRecord) -> None:
        stream = sys.stderr if record.levelno >= logging.WARNING else sys.stdout
        try:
            prefix = f"<{PRIORITY.get(record.levelno, 6)}>" if _is_journal(stream) else ""
            stream.write(prefix + self.format(record) + "\n")
            stream.flush()
        except (OSError, ValueError):  # a closed or broken stream: logging's own report of it
            self.handleError(record)


def get_logger(name: str) -> logging.Logger:
    """The logger for module ``name`` (the daemon's or the page's), under twitchmon's one handler."""
    top = logging.getLogger("twitchmon")
    if not any(isinstance(h, ConsoleHandler) for h in top.handlers):
        handler = ConsoleHandler()
        handler.setFormatter(logging.Formatter("twitchmon: %(message)s"))
        top.addHandler(handler)
        top.setLevel(logging.INFO)
        top.propagate = False
    return top.getChild(name)
