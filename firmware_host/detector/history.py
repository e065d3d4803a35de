"""The working-rate history the heartbeat and region stages share."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class History:
    """The working-rate signals of the last chunks, channel-major (C, samples)."""
    y: np.ndarray  #: 3-35 Hz band, codes
    e: np.ndarray  #: pulse envelope, codes
    model: np.ndarray  #: the heartbeat as fitted, codes (y - model is the residual)
    base: int = 0  #: working index of column 0

    @classmethod
    def new(cls, channels: int) -> "History":
        return cls(np.zeros((channels, 0)), np.zeros((channels, 0)), np.zeros((channels, 0)))

    def append(self, y: np.ndarray, e: np.ndarray) -> None:
        self.y = np.concatenate([self.y, y], axis=1)
        self.e = np.concatenate([self.e, e], axis=1)
        self.model = np.concatenate([self.model, np.zeros_like(y)], axis=1)

    def keep(self, n: int) -> None:
        """Keep the last n samples."""
        if self.y.shape[1] > n:
            cut = self.y.shape[1] - n
            self.y, self.e, self.model = self.y[:, cut:], self.e[:, cut:], self.model[:, cut:]
            self.base += cut
