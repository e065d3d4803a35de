"""The README's commands are the ones CI runs."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands():
    return re.findall(r"```sh\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_readme_starts_with_the_two_commands():
    cmds = readme_commands()
    assert "twitchmon demo" in cmds[0] and "venv" in cmds[0]
    assert "pytest" in cmds[1] and "venv" in cmds[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci


def test_readme_says_not_a_medical_device():
    assert "not a medical device" in (ROOT / "README.md").read_text()
