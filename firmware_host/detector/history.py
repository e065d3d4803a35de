"""The working-rate history the heartbeat and region stages share."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class History:
    """The working-rate signals of the last chunks, channel-major (C, samples).

    ``y``, ``e``, ``lf`` and ``model`` are views of larger buffers: a chunk is
    appended in place and :meth:`keep` moves their start, so the history
    is not copied whole each chunk; the buffers are compacted (the kept
    part moved to their front) only when a chunk no longer fits after it."""
    y: np.ndarray  #: 3-35 Hz band, codes
    e: np.ndarray  #: pulse envelope, codes
    model: np.ndarray  #: the heartbeat as fitted, codes (y - model is the residual)
    lf: np.ndarray  #: 0.3-3 Hz slow band (a leg's swing), codes
    base: int = 0  #: working index of column 0
    _bufs: tuple | None = field(default=None, repr=False, compare=False)  #: (y, e, model, lf) buffers
    _start: int = field(default=0, repr=False, compare=False)  #: buffer column of column 0

    @classmethod
    def new(cls, channels: int) -> "History":
        return cls(np.zeros((channels, 0)), np.zeros((channels, 0)), np.zeros((channels, 0)),
                   np.zeros((channels, 0)))

    def append(self, y: np.ndarray, e: np.ndarray, lf: np.ndarray) -> None:
        n0, k = self.y.shape[1], y.shape[1]
        bufs, s = self._bufs, self._start
        if bufs is None or s + n0 + k > bufs[0].shape[1]:
            cap = 0 if bufs is None else bufs[0].shape[1]
            if bufs is None or n0 + k > cap // 2:  # (re)allocate, room for the next chunks
                C = y.shape[0]
                new_cap = 2 * (n0 + k) + 2 * k
                dt = (np.result_type(self.y, y), np.result_type(self.e, e), np.result_type(self.model, y),
                      np.result_type(self.lf, y))
                new = tuple(np.zeros((C, new_cap), dtype=d) for d in dt)
                for b, old in zip(new, (self.y, self.e, self.model, self.lf)):
                    b[:, :n0] = old
                self._bufs = bufs = new
            else:  # compact: the kept part to the front (numpy copies overlapping slices safely)
                for b in bufs:
                    b[:, :n0] = b[:, s:s + n0]
            s = self._start = 0
        by, be, bm, bl = bufs
        by[:, s + n0:s + n0 + k] = y
        be[:, s + n0:s + n0 + k] = e
        bm[:, s + n0:s + n0 + k] = 0.0
        bl[:, s + n0:s + n0 + k] = lf
        self._views(n0 + k)

    def keep(self, n: int) -> None:
        """Keep the last n samples."""
        if self.y.shape[1] > n:
            cut = self.y.shape[1] - n
            self.base += cut
            if self._bufs is None:
                self.y, self.e, self.model, self.lf = (a[:, cut:] for a in (self.y, self.e, self.model, self.lf))
            else:
                self._start += cut
                self._views(n)

    def _views(self, n: int) -> None:
        s = self._start
        self.y, self.e, self.model, self.lf = (b[:, s:s + n] for b in self._bufs)
