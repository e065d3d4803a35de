"""The night checks itself: after each night the daemon starts the
injection check (:mod:`firmware_host.injection`, ``python -m
firmware_host.injection --night ID``) on it, in a process of its own at low
priority (one more detector pass, whose memory is given back when it ends;
its one line goes to the journal), and reaps it when it ends."""
from __future__ import annotations

import os
import subprocess
import sys

from ..log import get_logger

log = get_logger(__name__)

NICE = 10  #: the check's niceness: the night being recorded comes first


def start_night_check(night_id: int, ddir) -> subprocess.Popen | None:
    """The night's injection check, started; None (and a warning) if it cannot start."""
    try:
        return subprocess.Popen([sys.executable, "-m", "firmware_host.injection", "--night", str(night_id),
                                 "--data-dir", str(ddir)], stdin=subprocess.DEVNULL,
                                preexec_fn=lambda: os.nice(NICE))
    except OSError as exc:
        log.warning(f"the night's check could not start: {exc}")
        return None


class NightChecks:
    """The nights' check processes still running."""

    def __init__(self):
        self.running: list[subprocess.Popen] = []

    def start(self, night_id: int | None, ddir) -> None:
        if night_id is None:
            return
        p = start_night_check(night_id, ddir)
        if p is not None:
            self.running.append(p)

    def reap(self) -> None:
        """Forget (and so reap) the checks that have ended."""
        self.running = [p for p in self.running if p.poll() is None]
