"""``twitchmon run``: the appliance daemon (:mod:`..daemon`)."""
from __future__ import annotations

from ..daemon import run_daemon


def main(args) -> int:
    return run_daemon(args)
