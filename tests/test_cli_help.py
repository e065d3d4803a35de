"""Issue 18, item 9: every option of every command says what it is for."""
import argparse

from firmware_host.cli import build_parser, main


def _walk(parser, path=("twitchmon",)):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, path + (name,))
        else:
            yield path, action


def test_every_option_of_every_command_has_help_text():
    seen = list(_walk(build_parser()))
    commands = {p[1] for p, _ in seen if len(p) > 1}
    assert {"demo", "run", "serve", "replay", "simulate", "record", "passwd"} <= commands
    bare = [f"{' '.join(p)} {'/'.join(a.option_strings) or a.dest}" for p, a in seen
            if a.help is None or not str(a.help).strip()]
    assert not bare, f"options without help: {bare}"


def test_help_renders_with_the_defaults_and_the_shared_wording(capsys):
    for argv, want in ((["serve", "--help"], ["--host HOST", "0.0.0.0 the home network", "(default 8080)"]),
                       (["simulate", "--help"], ["(default 0)", "(default 4)", ".edf"]),
                       (["run", "--help"], ["--data-dir", "$TWITCHMON_DATA"])):
        try:
            main(argv)
        except SystemExit as exc:
            assert exc.code == 0
        out = " ".join(capsys.readouterr().out.split())
        for w in want:
            assert w in out, (argv, w)
