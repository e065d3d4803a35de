"""The sampler's clocks: CLOCK_MONOTONIC with absolute-deadline sleeps on a
Pi, and a fake one for tests.  Both follow :class:`Clock`, so the sampling
loop never asks which it has.  No numpy: the sampler's small process."""
from __future__ import annotations

import ctypes
import sys
import time
from collections.abc import Callable
from typing import Protocol

TIMER_SLACK_NS = 20_000  #: the sampler thread's timer slack: 2 % of a 1-ms period


class Clock(Protocol):
    """What the sampling loop needs of a clock."""

    def monotonic(self) -> float:
        """Now, s, on the clock the deadlines are on."""

    def sleep_until(self, t: float) -> None:
        """Sleep to the absolute deadline ``t`` (s); never return early."""

    def pause(self, s: float) -> None:
        """Wait ``s`` seconds (a retry's back-off)."""

    def spend(self) -> None:
        """A frame was read (a fake clock adds its cost; a real one has spent it)."""


_CLOCK_MONOTONIC = 1
_TIMER_ABSTIME = 1
_EINTR = 4
_PR_SET_TIMERSLACK = 29
_PR_SET_PDEATHSIG = 1


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _libc():
    """The C library's symbols: already in the process, so dlopen(NULL) finds
    them on Linux and macOS alike (ctypes.util's search would cost 1.4 MB)."""
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc()


def set_timer_slack(ns: int = TIMER_SLACK_NS) -> bool:
    """prctl(PR_SET_TIMERSLACK) for the calling thread: how late the kernel
    may fire its timers to batch wake-ups (50 us by default, more if a parent
    set it).  Real-time threads have none.  False where there is no prctl."""
    try:
        return _LIBC is not None and _LIBC.prctl(_PR_SET_TIMERSLACK, ctypes.c_ulong(ns), 0, 0, 0) == 0
    except AttributeError:
        return False


class MonotonicClock:
    """CLOCK_MONOTONIC (NTP steps do not move it); ``sleep_until`` sleeps to
    an absolute deadline and never returns early, with no busy-wait."""

    def __init__(self):
        fn = getattr(_LIBC, "clock_nanosleep", None) if sys.platform.startswith("linux") else None
        if fn is not None:
            fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.POINTER(_Timespec), ctypes.c_void_p]
            fn.restype = ctypes.c_int
            self._ts = _Timespec()
            self._ts_ref = ctypes.byref(self._ts)
        self._nanosleep = fn
        self.absolute = fn is not None  #: True with clock_nanosleep(TIMER_ABSTIME); False: relative sleeps

    def monotonic(self) -> float:
        return time.monotonic()  # CLOCK_MONOTONIC on Linux, the clock the deadlines are on

    def pause(self, s: float) -> None:
        time.sleep(s)

    def spend(self) -> None:
        pass  # a real read took its own time

    def sleep_until(self, t: float) -> None:
        fn = self._nanosleep
        if fn is None:  # no clock_nanosleep (macOS): a relative sleep, late by the scheduler's slack
            d = t - time.monotonic()
            if d > 0:
                time.sleep(d)
            return
        ns = int(t * 1e9)
        ts = self._ts
        ts.tv_sec, ts.tv_nsec = divmod(ns, 1_000_000_000)
        # absolute: a signal's EINTR resumes to the same deadline, never later
        while fn(_CLOCK_MONOTONIC, _TIMER_ABSTIME, self._ts_ref, None) == _EINTR:
            pass


class FakeClock:
    """A clock for tests: sleeping moves time; ``work`` adds time per read."""

    def __init__(self, start: float = 1000.0, work: Callable[[int], float] | None = None):
        self.now = start
        self.work = work or (lambda k: 0.0)
        self.reads = 0

    def monotonic(self) -> float:
        return self.now

    def sleep_until(self, t: float) -> None:
        self.now = max(self.now, t)

    def pause(self, s: float) -> None:
        self.now += s

    def spend(self) -> None:
        self.now += self.work(self.reads)
        self.reads += 1


