"""A twitch's waveform from the night's raw recording, for the page's
gallery: a second around its onset, band-passed as the detector sees it."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .traces import EdfReader, TraceError

BEFORE_S = 0.25  #: signal shown before the onset, s
AFTER_S = 0.75  #: and after it, s
PAD_S = 1.0  #: extra signal read each side so the filter settles, s
BAND_HZ = (3.0, 35.0)  #: the detector's twitch band, Hz


def confined(data_dir: str | os.PathLike, rel: str) -> Path | None:
    """``data_dir/rel`` if it stays inside the data dir (no ``..``, no
    absolute path, no symlink out), else None."""
    base = Path(data_dir).resolve()
    try:
        p = (base / rel).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    return p if p.is_relative_to(base) and p != base else None


def recording_at(recordings: list[dict], t_s: float) -> dict | None:
    """The recording holding second ``t_s`` of the night (files are in order)."""
    best = None
    for r in recordings:
        if r["start_t"] <= t_s:
            best = r
    return best


class Snippets:
    """Reads snippets from a night's recordings, each file opened once."""

    def __init__(self, store, data_dir, night: dict):
        self.data_dir, self.night = data_dir, night
        self.recs = store.recordings(night["id"])
        self.rate = float(night["rate_hz"])
        self._readers: dict[int, EdfReader | None] = {}
        from scipy.signal import butter  # noqa: PLC0415
        hi = min(BAND_HZ[1], 0.45 * self.rate)
        self._sos = butter(2, [BAND_HZ[0], hi], btype="band", fs=self.rate, output="sos")

    @property
    def has_raw(self) -> bool:
        paths = (confined(self.data_dir, r["path"]) for r in self.recs)
        return any(p is not None and p.exists() for p in paths)

    def _reader(self, rec: dict) -> EdfReader | None:
        if rec["id"] not in self._readers:
            p = confined(self.data_dir, rec["path"])
            try:
                self._readers[rec["id"]] = EdfReader(p) if p is not None and p.exists() else None
            except (TraceError, OSError):
                self._readers[rec["id"]] = None
        return self._readers[rec["id"]]

    def get(self, t_s: float, channel: int) -> np.ndarray | None:
        """Band-passed codes from ``t_s - BEFORE_S`` to ``t_s + AFTER_S`` on
        ``channel``; None if the raw signal is not there (deleted, disk full)."""
        from scipy.signal import sosfiltfilt  # noqa: PLC0415
        rec = recording_at(self.recs, t_s)
        r = self._reader(rec) if rec is not None else None
        if r is None or not 0 <= channel < r.info.channels:
            return None
        want0 = int(round((t_s - rec["start_t"] - BEFORE_S) * self.rate))
        pad = int(PAD_S * self.rate)
        n = int(round((BEFORE_S + AFTER_S) * self.rate))
        a = max(0, want0 - pad)
        x = r.read(a, want0 + n + pad - a)[:, channel]
        lead = want0 - a
        if want0 < 0 or len(x) < lead + n:
            return None
        y = sosfiltfilt(self._sos, x - np.median(x)) if len(x) > 15 else x - np.median(x)
        return y[lead:lead + n]
