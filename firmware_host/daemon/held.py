"""Store writes that wait: what a busy, locked, full or read-only store
refused, held in memory in order and tried again, so counting never waits
on the database and a night's events reach it when it takes writes."""
from __future__ import annotations

import collections
import sqlite3
import time
from collections.abc import Callable

from ..log import get_logger
from ..store import unavailable

log = get_logger(__name__)

RETRY_S = 10.0  #: how often writes the store refused (busy, full) are tried again, s
HELD_MAX_EVENTS = 200_000  #: events held in memory at most while the store takes no writes (~200 B each)


class HeldWrites:
    """Store writes done now, or held until the store takes them: ordered
    writes in order, then the latest of each running total (``key``).
    ``on_full(reason)`` is told when the store is full (the recorder stops
    raw recording and releases its reserve) and says whether space was freed."""

    def __init__(self, on_full: Callable[[str], bool]):
        self.on_full = on_full
        self._ordered: collections.deque = collections.deque()
        self._latest: dict = {}
        self.held_events = 0  #: events waiting in memory for the store
        self.lost_events = 0  #: events dropped because more than HELD_MAX_EVENTS were waiting
        self.db_problem: str | None = None  #: why the store takes no writes now, or None
        self._retry_at = 0.0
        self._flushing = False

    @property
    def pending(self) -> bool:
        """Writes are waiting."""
        return bool(self._ordered or self._latest)

    def retry_now(self) -> None:
        """Space was freed: the next flush need not wait ``RETRY_S``."""
        self._retry_at = 0.0

    def drop(self, key: str) -> None:
        """Forget a held running total (a later write holds it all)."""
        self._latest.pop(key, None)

    def do(self, op, *, key: str | None = None, events: int = 0) -> None:
        """Do a store write now, or hold it until the store takes writes.
        ``key``: a running total (counts, duration) whose latest value
        replaces an earlier held one; held after every ordered write."""
        if not (self._ordered or self._latest):
            try:
                op()
                return
            except sqlite3.Error as exc:
                if not unavailable(exc):
                    raise
                freed = self._unavailable(exc)
            self._hold(op, key, events)
            if freed:
                self.flush(force=True)
            return
        self._hold(op, key, events)
        self.flush()

    def _hold(self, op, key: str | None, events: int) -> None:
        if key is not None:
            self._latest.pop(key, None)  # re-inserted last: after every earlier write
            self._latest[key] = op
            return
        if events and self.held_events + events > HELD_MAX_EVENTS:
            if not self.lost_events:
                log.warning(f"more than {HELD_MAX_EVENTS} events wait for the database; "
                      "dropping the newest")
            self.lost_events += events
            return
        self._ordered.append((events, op))
        self.held_events += events

    def _unavailable(self, exc: sqlite3.Error) -> bool:
        """Note why the store takes no writes; on a full disk stop raw
        recording and release the reserve.  True if space was freed."""
        first = self.db_problem is None
        self.db_problem = str(exc)
        self._retry_at = time.monotonic() + RETRY_S
        if first:
            log.warning(f"the database takes no writes ({exc}); the night's events are held in memory "
                  f"and stored when it does; counting goes on")
        if getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL" or "full" in str(exc):
            return self.on_full(f"raw recording stopped: the disk is full ({exc})")
        return False

    def flush(self, force: bool = False) -> bool:
        """Try the held writes, in order (at most every ``RETRY_S`` unless
        ``force``).  True when nothing is held."""
        if self._flushing or not (self._ordered or self._latest):
            return not (self._ordered or self._latest)
        if not force and time.monotonic() < self._retry_at:
            return False
        self._flushing = True
        done = 0
        try:
            for _attempt in range(3):  # a second go right after the reserve is released
                try:
                    while self._ordered:
                        self._ordered[0][1]()
                        n, _ = self._ordered.popleft()
                        self.held_events -= n
                        done += 1
                    while self._latest:
                        key = next(iter(self._latest))
                        self._latest[key]()
                        del self._latest[key]
                        done += 1
                except sqlite3.Error as exc:
                    if not unavailable(exc):
                        raise
                    if self._unavailable(exc):
                        continue
                    return False
                break
            else:
                return False
            log.info(f"the database takes writes again; {done} held write(s) stored")
            self.db_problem = None
            return True
        finally:
            self._flushing = False
