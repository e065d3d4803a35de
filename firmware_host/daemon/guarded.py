"""The night's detector, kept counting through a fault of its own.

A detector that raises on some stretch of signal (a bug: the tenth
session found a region that stopped it on one simulated night) would
otherwise take the daemon down; systemd would restart it, but the counts
of the chunks the detector held (it decides events about two 30-s chunks
after they happen) would be gone, and the same stretch, replayed, could
stop it again.  :class:`GuardedDetector` catches the fault, says it in one
line (the traceback goes to the journal at debug level), and starts a
fresh detector on the last ``TAIL_CHUNKS`` chunks of signal it kept, so
what the old one had not yet decided is counted by the new one.  If the
fresh detector raises on that same signal, it starts again after it: the
night loses those seconds of counts, never the night.  The raw recording
is not touched either way.

The new detector's times are shifted to the night's; a twitch at or before
the last one already handed out is dropped (it was counted, or lies in a
span the old detector had decided), so nothing is counted twice.
"""
from __future__ import annotations

import dataclasses
from collections import deque

import numpy as np

from ..detector.events import Events
from ..log import get_logger

log = get_logger(__name__)

TAIL_CHUNKS = 4  #: chunks of raw signal kept for a restart: what a detector has not yet decided, and one more


class GuardedDetector:
    """``process``/``finish`` and the properties the recorder reads, over a
    detector that is replaced by a fresh one (``type(det)(det.cfg)``) when
    it raises.  ``faults_s``: when that happened, s into the night."""

    def __init__(self, det):
        self.det = det
        self.cfg = det.cfg
        self.rate_hz = float(det.cfg.rate_hz)
        self.faults_s: list[float] = []
        self.fed = 0  #: raw samples fed so far
        self.offset = 0  #: raw samples before the current detector's first one
        self._tail: deque[np.ndarray] = deque()
        self._tail_n = 0
        self._tail_max = int(TAIL_CHUNKS * det.chunk_raw)
        self._done_t = -np.inf  # the last twitch onset handed out, s of the night
        self._done_move = -np.inf  # the last movement end handed out, s
        self._count = 0
        self._base_rest_s = 0.0
        self._overlap_rest_s = 0.0  # the current detector's rest over the span the one before had counted, s
        self._base_analysed_s = 0.0
        self._base_periods: list[float] = []
        self._base_hr: float | None = None
        self._base_moves: list = []
        self._move_cut = -np.inf  # movements ending by then belong to an earlier detector, s

    # -- the detector's face ---------------------------------------------------------------
    def process(self, codes) -> Events:
        x = np.array(codes, copy=True)  # kept: a live block's buffer is reused by the sampler
        self.fed += len(x)
        self._keep(x)
        try:
            ev = self.det.process(x)
        except Exception as exc:  # noqa: BLE001 - any fault of the detector's must not end the night
            return self._restart(exc)
        return self._hand_out(ev)

    def finish(self) -> Events:
        try:
            ev = self.det.finish()
        except Exception as exc:  # noqa: BLE001
            self._say(exc, "at the night's end: the last minute or two of counts are lost")
            return Events()
        return self._hand_out(ev)

    @property
    def rest_s(self) -> float:
        """The night's rest, s: the earlier detectors' and the current one's
        past the span they shared: its rest there is what it had counted
        after the kept signal, whose count ends where the old one's did
        (a fault in the region stage comes after that chunk's rest was
        counted, and the fresh detector counts all but the last chunk of
        the four it is given; a fault earlier in a chunk leaves up to a
        chunk's rest uncounted)."""
        return self._base_rest_s + self.det.rest_s - self._overlap_rest_s

    @property
    def analysed_s(self) -> float:
        return max(self._base_analysed_s, self.offset / self.rate_hz + self.det.analysed_s)

    @property
    def periods(self) -> list[float]:
        return self._base_periods + list(self.det.periods)

    @property
    def heart_rate_bpm(self) -> float | None:
        hr = self.det.heart_rate_bpm
        return hr if hr is not None else self._base_hr

    @property
    def movements(self) -> list:
        return self._base_moves + self._shifted_moves(self.det.movements, self._move_cut)

    @property
    def twitch_count(self) -> int:
        return self._count

    def __getattr__(self, name):  # mains_hz, status, sigma, fw, ...: the current detector's
        return getattr(self.__dict__["det"], name)

    # -- inside ----------------------------------------------------------------------------
    def _keep(self, x: np.ndarray) -> None:
        self._tail.append(x)
        self._tail_n += len(x)
        while self._tail and self._tail_n - len(self._tail[0]) >= self._tail_max:
            self._tail_n -= len(self._tail.popleft())

    def _say(self, exc: BaseException, what: str) -> None:
        at = self.fed / self.rate_hz
        log.error(f"the detector failed {at:.0f} s into the night ({type(exc).__name__}: {exc}); {what}")
        log.debug("the detector's fault", exc_info=exc)

    def _retire(self) -> None:
        """Keep what the failed detector found before the fresh one takes over."""
        self._base_rest_s = self.rest_s
        self._base_analysed_s = self.analysed_s
        self._base_periods = self.periods
        self._base_hr = self.heart_rate_bpm
        self._base_moves = self.movements
        self._move_cut = self._done_move

    def _fresh(self, offset: int) -> None:
        self.det = type(self.det)(self.cfg)
        self.offset = offset
        self._overlap_rest_s = 0.0

    @property
    def restarts(self) -> int:
        return len(self.faults_s)

    def _restart(self, exc: BaseException) -> Events:
        self.faults_s.append(self.fed / self.rate_hz)
        self._retire()
        tail = np.concatenate(list(self._tail))  # (never empty: it holds the block that failed)
        self._say(exc, f"counting goes on with a fresh detector from the last {len(tail) / self.rate_hz:.0f} s")
        self._fresh(self.fed - len(tail))
        try:
            ev = self.det.process(tail)
        except Exception as again:  # noqa: BLE001 - the same signal stops it again: start after it
            self._say(again, "again on the same signal: counting starts afresh after it, those seconds uncounted")
            self._tail.clear()
            self._tail_n = 0
            self._fresh(self.fed)
            return Events()
        self._overlap_rest_s = self.det.rest_s
        return self._hand_out(ev)

    def _shifted_moves(self, moves, cut: float) -> list:
        """The current detector's ``moves`` at the night's times, those ending after ``cut`` (s)."""
        off = self.offset / self.rate_hz
        return [dataclasses.replace(m, t=m.t + off, end=m.end + off) for m in moves if m.end + off > cut]

    def _hand_out(self, ev: Events) -> Events:
        if not self.restarts:  # the usual night: as the detector said it
            self._count += len(ev.twitches)
            if ev.twitches:
                self._done_t = max(self._done_t, max(t.t for t in ev.twitches))
            if ev.movements:
                self._done_move = max(self._done_move, max(m.end for m in ev.movements))
            return ev
        off = self.offset / self.rate_hz
        out = Events()
        out.twitches = [dataclasses.replace(t, t=t.t + off) for t in ev.twitches if t.t + off > self._done_t]
        out.movements = self._shifted_moves(ev.movements, self._done_move)
        out.faults = [dict(f, t=f["t"] + off) for f in ev.faults]
        self._count += len(out.twitches)
        if out.twitches:
            self._done_t = max(t.t for t in out.twitches)
        if out.movements:
            self._done_move = max(m.end for m in out.movements)
        return out
