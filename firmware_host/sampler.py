"""The sampling loop and the small process it runs in.

The loop keeps absolute deadlines (``t0 + k / rate``) and sleeps to each one
with ``clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)`` (:mod:`.clock`):
error does not accumulate, and it never spins.  A frame read late is
counted as late, and the lateness of every frame goes into a histogram
reported as percentiles; when whole periods were missed the loop skips them,
counts them and says where (the block's ``first_index`` jumps), and never
silently re-times samples.

This module is the sampler process itself (``python -m firmware_host.sampler``,
started by :class:`~.sampler_process.SamplerProcess`): it imports this
module, :mod:`.clock`, :mod:`.sources`, :mod:`.adc`, :mod:`.pins` and
:mod:`.shmring` only (no numpy, scipy, flask or the detector), so its memory
is the interpreter, the driver and the rings.  Frames are packed straight
into a shared-memory ring (:class:`~.shmring.BlockRing`) that the daemon
reads in place.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from . import pins
from .adc import ADCError
from .clock import _LIBC, _PR_SET_PDEATHSIG, TIMER_SLACK_NS, FakeClock, MonotonicClock, set_timer_slack  # noqa: F401
from .shmring import BlockRing, SignalFeed
from .sources import AdcSource, EmulatedAdc, FeedSource, Source, TableSource, TableSpi, sampler_source  # noqa: F401

RT_PRIORITY = 50  #: SCHED_FIFO priority the sampler asks for (systemd's LimitRTPRIO allows it)

MAX_GAPS = 1000  #: gaps listed in SamplerStats (all are counted in ``missed``)
LATE_BIN_S = 10e-6  #: lateness histogram bin, s
LATE_BINS = 5000  #: bins up to 50 ms; later frames land in the last one (worst_late_s keeps the true worst)


@dataclass
class SamplerStats:
    frames: int = 0
    late: int = 0  #: frames read more than ``late_tolerance_s`` after their deadline
    missed: int = 0  #: whole periods skipped
    worst_late_s: float = 0.0
    read_errors: int = 0
    dropped_blocks: int = 0  #: the consumer had no free slot
    gaps: list = field(default_factory=list)  #: (sample index, samples missed), the first MAX_GAPS of them
    late_hist: list = field(default_factory=lambda: [0] * LATE_BINS, repr=False)  #: frames per LATE_BIN_S of lateness

    @property
    def late_fraction(self) -> float:
        return self.late / self.frames if self.frames else 0.0

    def late_percentile_s(self, q: float) -> float:
        """Lateness (deadline to read, s) that ``q`` percent of frames were within (bin's upper edge)."""
        total = sum(self.late_hist)
        if not total:
            return 0.0
        need, run = q / 100 * total, 0
        for i, n in enumerate(self.late_hist):
            run += n
            if run >= need:
                return (i + 1) * LATE_BIN_S
        return LATE_BINS * LATE_BIN_S

    def as_dict(self) -> dict:
        return {"frames": self.frames, "late": self.late, "late_fraction": round(self.late_fraction, 6),
                "missed": self.missed, "late_p50_ms": round(self.late_percentile_s(50) * 1000, 3),
                "late_p99_ms": round(self.late_percentile_s(99) * 1000, 3),
                "worst_late_ms": round(self.worst_late_s * 1000, 3),
                "read_errors": self.read_errors, "dropped_blocks": self.dropped_blocks}


@dataclass
class Block:
    first_index: int  #: sample index of the first frame (jumps after missed periods)
    t_mono: float  #: monotonic time of the first frame's deadline, s
    codes: object  #: (n, channels) uint16 codes (numpy)
    read_errors: int = 0  #: SPI transfers that failed so far (cumulative), for the health check


class RingSink:
    """Blocks into a :class:`~.shmring.BlockRing`, announced by a byte on ``notify_fd``."""

    def __init__(self, ring, notify_fd: int):
        self.ring, self.notify_fd = ring, notify_fd
        self.seq = 0
        self._scratch = bytearray(ring.slot_bytes)

    def claim(self):
        if self.seq - self.ring.released() >= self.ring.slots:
            return None  # the daemon holds every slot: this block is sampled and dropped
        return self.ring.mm, self.ring.slot_offset(self.seq)

    def commit(self, buf, first_index: int, t_mono: float, n: int, read_errors: int) -> None:
        self.ring.commit(self.seq, first_index, t_mono, n, read_errors)
        self.seq += 1
        os.write(self.notify_fd, b"b")  # never blocks: unread bytes <= slots < a pipe's capacity


class _Blocks:
    """Frames packed into the sink's blocks: ``put`` one frame; a full block
    is committed and the next claimed (a block with no free slot is sampled
    and dropped, and counted)."""

    def __init__(self, sink, block_samples: int, channels: int, stats: SamplerStats):
        self.sink, self.size, self.stats = sink, block_samples, stats
        self.pack = struct.Struct(f"<{channels}H").pack_into
        self.stride = 2 * channels
        self.first_k, self.first_t = 0, 0.0
        self._claim()

    def _claim(self) -> None:
        self.claimed = self.sink.claim()
        if self.claimed is None:
            self.stats.dropped_blocks += 1
        self.buf, self.off = self.claimed or (bytearray(self.size * self.stride), 0)
        self.fill = 0

    def put(self, k: int, deadline: float, frame) -> bool:
        """Pack frame ``k`` (its deadline, s); True when that filled the block."""
        if self.fill == 0:
            self.first_k, self.first_t = k, deadline
        self.pack(self.buf, self.off + self.fill * self.stride, *frame)
        self.fill += 1
        if self.fill == self.size:
            self.flush()
            return True
        return False

    def flush(self) -> None:
        if self.claimed is not None:
            self.sink.commit(self.buf, self.first_k, self.first_t, self.fill, self.stats.read_errors)
        self._claim()

    def finish(self) -> None:
        if self.fill and self.claimed is not None:
            self.sink.commit(self.buf, self.first_k, self.first_t, self.fill, self.stats.read_errors)


def _retry_read(source: Source, retry_backoff_s, pause, stats: SamplerStats):
    """After a failed read: try again after each back-off; None if every try failed."""
    for wait in retry_backoff_s:
        pause(wait)
        try:
            return source.read_frame()
        except ADCError:
            stats.read_errors += 1
    return None


def sample_loop(source: Source, *, sink, block_samples: int = 100,
                clock=None, should_stop: Callable[[], bool] = lambda: False,
                late_tolerance_s: float | None = None, max_frames: int | None = None,
                stats: SamplerStats | None = None, on_tick: Callable[[], None] | None = None,
                retry_backoff_s: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0),
                rate_hz: float | None = None) -> SamplerStats:
    """Sample ``source`` at ``rate_hz`` (default its own rate) until
    ``should_stop()``; hand each block to ``sink`` (a :class:`RingSink`, or
    in another process :class:`~.sampler_process.ListSink`): ``claim()`` a
    buffer, ``commit()`` it filled."""
    clock = clock or MonotonicClock()
    stats = stats or SamplerStats()
    period = 1.0 / (rate_hz or source.rate_hz)
    tol = late_tolerance_s if late_tolerance_s is not None else period / 2
    hist, top = stats.late_hist, LATE_BINS - 1
    sleep_until, monotonic, pause, spend = clock.sleep_until, clock.monotonic, clock.pause, clock.spend
    blocks = _Blocks(sink, block_samples, source.channels, stats)
    t0 = monotonic() + period
    k = 0
    last = [pins.ADC_MAX_CODE // 2] * source.channels
    while not should_stop() and (max_frames is None or stats.frames < max_frames):
        deadline = t0 + k * period
        sleep_until(deadline)
        now = monotonic()
        lateness = now - deadline
        if lateness >= period:  # whole periods gone: skip them, say so
            skip = int(lateness // period)
            if blocks.fill:
                blocks.flush()
            stats.missed += skip
            if len(stats.gaps) < MAX_GAPS:  # a night of stalls must not grow the sampler without bound
                stats.gaps.append((k, skip))
            k += skip
            deadline = t0 + k * period
            lateness = now - deadline
        if lateness > tol:
            stats.late += 1
        if lateness > stats.worst_late_s:
            stats.worst_late_s = lateness
        b = int(lateness / LATE_BIN_S)
        hist[b if b < top else top] += 1
        try:
            frame = source.read_frame()
        except ADCError:
            stats.read_errors += 1
            frame = _retry_read(source, retry_backoff_s, pause, stats)
        if frame is None:
            frame = last  # flagged: the detector sees a flat line and reports the channel
        last = frame
        spend()
        full = blocks.put(k, deadline, frame)
        k += 1
        stats.frames += 1
        if full and on_tick is not None:
            on_tick()
    blocks.finish()
    return stats


def raise_priority(rt_priority: int = RT_PRIORITY) -> tuple[bool, str]:
    """Real-time FIFO scheduling when permitted, else a better nice value.
    Returns (real time?, what was got, and why not when refused)."""
    if rt_priority <= 0:
        return False, "normal priority (real-time not asked for)"
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(rt_priority))
        return True, f"SCHED_FIFO {rt_priority}"
    except (PermissionError, AttributeError, OSError) as exc:
        why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    try:
        os.nice(-10)
        got = "nice -10"
    except (PermissionError, OSError):
        got = "normal priority"
    return False, f"{got}: real-time priority (SCHED_FIFO {rt_priority}) refused ({why})"


def die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies (prctl
    PR_SET_PDEATHSIG), so a daemon killed with -9 leaves no sampler running
    at real-time priority; exit at once if the parent is already gone."""
    try:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except AttributeError:
        pass  # not Linux: the loop's parent check below still ends it
    if os.getppid() != parent_pid:
        os._exit(0)


def _child_main(argv: list[str]) -> int:
    """The sampler process: argv is one JSON object (see SamplerProcess._command)."""
    cfg = json.loads(argv[0])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C reaches the daemon, which stops us in order
    die_with_parent(cfg["parent"])
    out = os.fdopen(cfg["msg_fd"], "w", buffering=1)
    ring = BlockRing(cfg["ring_fd"])
    signal.signal(signal.SIGTERM, lambda *_: ring.request_stop())
    try:
        feed = SignalFeed(cfg["feed_fd"]) if cfg["feed_fd"] >= 0 else None
        src = sampler_source(cfg["reads"], ring.channels, cfg["rate_hz"], feed=feed, seed=cfg["seed"])
    except (ADCError, OSError, ValueError) as exc:  # no SPI device, a bad feed: the daemon says it in one line
        out.write(json.dumps({"error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}) + "\n")
        return 1
    set_timer_slack()
    realtime, prio = raise_priority(cfg["rt_priority"])
    hello = {"priority": prio, "realtime": realtime, "pid": os.getpid()}
    if cfg.get("report_modules"):
        hello["modules"] = sorted(sys.modules)
    out.write(json.dumps({"hello": hello}) + "\n")
    stats = SamplerStats()
    parent = cfg["parent"]
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)

    def orphaned():
        if os.getppid() != parent:
            ring.request_stop()

    try:
        sample_loop(src, sink=RingSink(ring, cfg["notify_fd"]), block_samples=ring.frames,
                    should_stop=ring.stop_requested, stats=stats, on_tick=orphaned,
                    rate_hz=cfg["rate_hz"] * cfg["speed"], max_frames=cfg.get("max_frames"))
    except EOFError:
        pass
    finally:
        src.close()
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        d = stats.as_dict()
        d["cpu_s"] = round((cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime), 4)
        d["priority"] = prio
        if feed is not None:  # the feed's reader, alone or as the emulator's analog inputs
            d["feed_underruns"] = getattr(src, "analog", src).underruns
        out.write(json.dumps({"stats": d}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
