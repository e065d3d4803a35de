"""The recording's time base kept true across the sampler's missed periods."""
from __future__ import annotations

import numpy as np


class GapFiller:
    """Keeps the recording's time base true: the sampler skips whole periods
    it missed (and says so by its blocks' ``first_index``); each missed
    period becomes a copy of the last frame, so sample n is still n/rate
    seconds into the night.  Also counts SPI read errors between health
    checks."""

    MAX_GAP = 600_000  #: frames made up at most for one gap (10 min at 1 kHz; a stall that long is a fault)

    def __init__(self):
        self.next_index: int | None = None
        self.last = None
        self.filled = 0  #: frames made up so far
        self._errors_seen = 0
        self._errors_reported = 0

    def fill(self, block) -> np.ndarray:
        codes = block.codes
        if self.next_index is not None and block.first_index > self.next_index and self.last is not None:
            gap = min(block.first_index - self.next_index, self.MAX_GAP)
            codes = np.vstack([np.repeat(self.last[None, :], gap, axis=0), codes])
            self.filled += gap
        if len(block.codes):
            self.last = block.codes[-1].copy()  # the block is a view of the sampler's ring
        self.next_index = block.first_index + len(block.codes)
        self._errors_seen = max(self._errors_seen, getattr(block, "read_errors", 0))
        return codes

    def take_errors(self) -> int:
        """SPI read errors since the last call."""
        n = self._errors_seen - self._errors_reported
        self._errors_reported = self._errors_seen
        return n
