"""``twitchmon doctor``: SPI, GPIO, clock, free space and the page, a line each."""
from __future__ import annotations

from ..doctor import run


def main(args) -> int:
    return run(args)
