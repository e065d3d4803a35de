"""Making the gallery's waveforms: each twitch's second around its onset,
band-passed as the detector sees it, read from the night's raw EDF+ files
once and stored (store table ``snippets``), so the page never reads EDF or
imports scipy.

The daemon makes them in a thread of their own (:class:`SnippetWorker`)
whenever an hour's file is finished and at a night's end, and at start for
any ended night that has none yet (nights recorded before this existed, or a
night a crash ended); ``twitchmon demo`` makes them as it stores a night.
"""
from __future__ import annotations

import datetime as dt
import queue
import sqlite3
import threading

import numpy as np

from .detector import filters
from .log import get_logger
from .paths import confined
from .store import unavailable
from .traces import EdfReader, TraceError
from .waveforms import AFTER_S, BEFORE_S, encode, recording_at

log = get_logger(__name__)

PAD_S = 1.0  #: extra signal read each side so the filter settles, s


class _Reader:
    """Band-passed snippets from one night's finished recordings, each file opened once."""

    def __init__(self, data_dir, rate_hz: float):
        self.data_dir, self.rate = data_dir, float(rate_hz)
        self._files: dict[int, EdfReader | None] = {}
        # the detector's 3-35 Hz band at the recording's rate (from the
        # design table: the daemon makes snippets without scipy.signal)
        self._sos = filters.design("band", self.rate)

    def _file(self, rec: dict) -> EdfReader | None:
        if rec["id"] not in self._files:
            p = confined(self.data_dir, rec["path"])
            try:
                self._files[rec["id"]] = EdfReader(p) if p is not None and p.exists() else None
            except (TraceError, OSError) as exc:
                log.warning("no waveforms from %s: %s", rec["path"], exc)
                self._files[rec["id"]] = None
        return self._files[rec["id"]]

    def get(self, rec: dict, t_s: float, channel: int) -> np.ndarray | None:
        """Band-passed codes from ``t_s - BEFORE_S`` to ``t_s + AFTER_S`` on
        ``channel``; None if that stretch is not in the file."""
        r = self._file(rec)
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
        y = filters.sosfiltfilt(self._sos, x - np.median(x)) if len(x) > 15 else x - np.median(x)
        return y[lead:lead + n]


def make_snippets(store, data_dir, night_id: int) -> int:
    """Store the waveform of each of the night's twitches that has none yet
    and lies in a finished recording; once the night has ended, note it as
    done.  Returns how many were made."""
    night = store.night(night_id)
    if night is None:
        return 0
    recs = [r for r in store.recordings(night_id) if r["finished"]]
    have = store.snippets(night_id)
    reader = _Reader(data_dir, night["rate_hz"])
    rows = []
    for tw in store.twitches(night_id):
        if (tw["t"], tw["channel"]) in have:
            continue
        rec = recording_at(recs, tw["t"])
        y = reader.get(rec, tw["t"], tw["channel"]) if rec is not None else None
        if y is not None:
            rows.append((rec["id"], tw["t"], tw["channel"], encode(y)))
    store.add_snippets(night_id, rows)
    if night["status"] != "recording":
        store.mark_snippets_done(night_id, dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    return len(rows)


class SnippetWorker:
    """The daemon's thread that makes waveforms: ``post(night_id)`` asks for
    a night's (at once, never waiting for the thread); ``backfill()`` asks for
    every ended night that has none.  A busy or full store, or an unreadable
    file, costs that night's waveforms until the next start, never a count."""

    def __init__(self, store, data_dir):
        self.store, self.data_dir = store, data_dir
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="snippets", daemon=True)

    def start(self) -> SnippetWorker:
        self._thread.start()
        return self

    def post(self, night_id: int | None) -> None:
        if night_id is not None:
            self._queue.put(int(night_id))

    def backfill(self) -> None:
        try:
            for nid in self.store.nights_without_snippets():
                self.post(nid)
        except sqlite3.Error as exc:
            if not unavailable(exc):
                raise
            log.warning("waveforms of older nights not made now: %s", exc)

    def _run(self) -> None:
        while (night_id := self._queue.get()) is not None:
            try:
                n = make_snippets(self.store, self.data_dir, night_id)
            except sqlite3.Error as exc:
                if not unavailable(exc):
                    raise
                log.warning("waveforms of night %s not stored: %s", night_id, exc)
                continue
            except (TraceError, OSError, ValueError) as exc:  # a damaged file: the night's counts stand
                log.warning("waveforms of night %s not made: %s", night_id, exc)
                continue
            if n:
                log.info("made %d waveform(s) for night %s", n, night_id)
        self.store.close()  # this thread's connection

    def stop(self, timeout_s: float = 5.0) -> None:
        """Finish what is queued (up to ``timeout_s``), then end the thread."""
        self._queue.put(None)
        self._thread.join(timeout_s)
