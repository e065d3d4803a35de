"""The night's heart rate through time, from the detector's confident beats.

The detector keeps the beat period of each analysis step in which it
tracked the heartbeat with confidence (``Detector.periods``, working
samples) and reports their median as the night's heart rate, or None.
:class:`HeartTrack` watches that list grow as the night is fed, so each
confident step gets its time, and gives the lowest 10-minute median: a
resting heart rate a doctor can compare with one taken in the clinic.
Steps the detector was unsure about are never counted, so a window with
too few confident steps has no median at all.

Plain Python: the page and the report read what it stored.
"""
from __future__ import annotations

import statistics

WINDOW_S = 600.0  #: the resting-rate window, s
MIN_BEATS_STEPS = 10  #: confident steps a window needs (half of ten minutes of 30-s steps)


class HeartTrack:
    """Time-stamps the detector's confident beat periods as they come."""

    def __init__(self) -> None:
        self.seen = 0
        self.points: list[tuple[float, float]] = []  #: (s from the first sample, bpm)

    def update(self, det) -> None:
        """After each ``det.process``/``det.finish``: stamp the new confident steps
        with how far the detector has analysed (s)."""
        periods = getattr(det, "periods", None)
        fw = getattr(det, "fw", None)
        if periods is None or not fw:
            return  # a detector that does not expose its beats: no series, never a guess
        t = float(getattr(det, "analysed_s", 0.0))
        for p in periods[self.seen:]:
            if p > 0:
                self.points.append((t, float(60.0 * fw / p)))
        self.seen = len(periods)

    def lowest_10min_bpm(self) -> float | None:
        return lowest_window_median(self.points)


def lowest_window_median(points: list[tuple[float, float]], window_s: float = WINDOW_S,
                         min_steps: int = MIN_BEATS_STEPS) -> float | None:
    """The lowest median heart rate (bpm) over consecutive ``window_s``
    windows from the night's start that hold at least ``min_steps``
    confident steps; None when no window does."""
    windows: dict[int, list[float]] = {}
    for t, bpm in points:
        windows.setdefault(int(t // window_s), []).append(bpm)
    medians = [statistics.median(v) for v in windows.values() if len(v) >= min_steps]
    return round(min(medians), 1) if medians else None
