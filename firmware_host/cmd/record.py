"""``twitchmon record``: raw ADC to a file, for fixtures."""
from __future__ import annotations

from ..daemon import record


def main(args) -> int:
    return record(args)
