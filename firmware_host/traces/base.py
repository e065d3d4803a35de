"""What every trace format shares: the error, the header facts, and the
reader and writer faces (:class:`TraceReader`, :class:`TraceWriter`)."""
from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import TraceError

FORMATS = (".edf", ".wav", ".npz", ".csv")
WAV_SCALE = 64  # 16-bit PCM units per code
CODE_MID = 512


@dataclass
class TraceInfo:
    path: str
    format: str
    rate_hz: float
    channels: int
    n_samples: int | None  #: whole samples the file holds (None: unknown until read)
    start_unix: float | None = None
    channel_names: list[str] = field(default_factory=list)
    truncated: bool = False  #: the file ends inside a record / row / frame
    notes: list[str] = field(default_factory=list)
    #: codes per code of the first board: the sensor board's gain as the
    #: recording says (an EDF+ prefilter field "gain:2.22"), else 1
    gain: float = 1.0

    @property
    def duration_s(self) -> float | None:
        return None if self.n_samples is None else self.n_samples / self.rate_hz


def _check_rate(rate_hz: float, where: str) -> float:
    if not (isinstance(rate_hz, (int, float)) and math.isfinite(rate_hz) and 1 <= rate_hz <= 100_000):
        raise TraceError(f"{where}: sampling rate {rate_hz!r} Hz is not a usable rate")
    return float(rate_hz)


class TraceReader:
    """Base reader: ``info`` and :meth:`blocks`."""

    info: TraceInfo

    def blocks(self, block_samples: int = 10_000) -> Iterator[np.ndarray]:
        """Blocks of (samples, channels) codes as float64."""
        raise NotImplementedError

    def code_blocks(self, block_samples: int = 10_000) -> Iterator[np.ndarray]:
        """The same codes as :meth:`blocks`, in whatever numeric type is
        cheapest for the format (int16 straight from an EDF whose digital
        range is the ADC's); for the detector, which takes any."""
        return self.blocks(block_samples)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@runtime_checkable
class TraceWriter(Protocol):
    """What every writer does: ``write(codes)`` appends (samples, channels)
    codes, ``annotate(onset_s, duration_s, text)`` marks an event, ``close()``."""

    def write(self, codes) -> None: ...

    def annotate(self, onset_s: float, duration_s: float, text: str) -> None: ...

    def close(self) -> None: ...


class SidecarAnnotations:
    """Annotations for a format that has no place for them (WAV, NPZ, CSV):
    kept in order and written on close beside the file, as
    ``FILE.annotations.csv`` (onset_s, duration_s, text), so an annotation
    is never silently dropped."""

    def __init__(self, path):
        self.annotations_path = Path(f"{path}.annotations.csv")
        self._annotations: list[tuple[float, float, str]] = []

    def annotate(self, onset_s: float, duration_s: float, text: str) -> None:
        self._annotations.append((float(onset_s), float(duration_s), str(text)))

    def _write_annotations(self) -> None:
        if not self._annotations:
            return
        with open(self.annotations_path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["onset_s", "duration_s", "text"])
            w.writerows(self._annotations)
