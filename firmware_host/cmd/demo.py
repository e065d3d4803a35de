"""``twitchmon demo``: simulated nights, detection and the page, in a temporary data dir."""
from __future__ import annotations

from ..demo import run_demo


def main(args) -> int:
    return run_demo(port=args.port, nights=args.nights, minutes=args.minutes)
