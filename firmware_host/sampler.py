"""The sampling loop, the sources it reads, and the small process it runs in.

The loop keeps absolute deadlines (``t0 + k / rate``) and sleeps to each one
with ``clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)``: error does not
accumulate, and it never spins.  A frame read late is counted as late, and
the lateness of every frame goes into a histogram reported as percentiles;
when whole periods were missed the loop skips them, counts them and says
where (the block's ``first_index`` jumps), and never silently re-times
samples.

:class:`SamplerProcess` runs the loop in a fresh interpreter started with
``python -m firmware_host.sampler``: this module, :mod:`.adc`, :mod:`.pins`
and :mod:`.shmring` only (no numpy, scipy, flask or the detector), so its
memory is the interpreter, the driver and the rings.  Frames are packed
straight into a shared-memory ring (:class:`~.shmring.BlockRing`) that the
daemon reads in place.  The stand-in sources (the simulator, a recording,
the emulator's analog inputs) are rendered by the daemon, which has numpy
anyway, and reach the sampler through a :class:`~.shmring.SignalFeed`.

Sources share one small interface (:class:`Source`): ``read_frame()``.
"""
from __future__ import annotations

import ctypes
import itertools
import json
import os
import resource
import select
import signal
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import pins
from .adc import ADCError, MCP3008
from .shmring import FEED_DATA_AT, BlockRing, SignalFeed, shared_fd

TIMER_SLACK_NS = 20_000  #: the sampler thread's timer slack: 2 % of a 1-ms period
RT_PRIORITY = 50  #: SCHED_FIFO priority the sampler asks for (systemd's LimitRTPRIO allows it)

# -- clocks ------------------------------------------------------------------

_CLOCK_MONOTONIC = 1
_TIMER_ABSTIME = 1
_EINTR = 4
_PR_SET_TIMERSLACK = 29
_PR_SET_PDEATHSIG = 1


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _libc():
    try:
        if sys.platform.startswith("linux"):
            return ctypes.CDLL(None, use_errno=True)  # libc is in the process already (ctypes.util costs 1.4 MB)
        from ctypes.util import find_library  # noqa: PLC0415
        return ctypes.CDLL(find_library("c"), use_errno=True)
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

    def spend(self) -> None:
        self.now += self.work(self.reads)
        self.reads += 1


# -- sources -----------------------------------------------------------------

class Source:
    channels: int
    rate_hz: float
    name: str = "source"

    def read_frame(self) -> list[int]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class AdcSource(Source):
    """The MCP3008, live.  ``spi`` defaults to /dev/spidev0.0."""

    def __init__(self, channels: int = 4, rate_hz: float = 1000.0, spi=None, **adc_kw):
        from .adc import open_spidev  # noqa: PLC0415

        self.channels, self.rate_hz = channels, rate_hz
        self.adc = MCP3008(spi if spi is not None else open_spidev(), **adc_kw)
        self._chans = list(range(channels))
        self.name = "adc"

    def read_frame(self) -> list[int]:
        return self.adc.read_many(self._chans)

    def close(self) -> None:
        self.adc.close()


class TableSpi:
    """A zero-cost SPI stand-in for benchmarks: the kernel side of
    ``SPI_IOC_MESSAGE`` answered from a table of MISO bytes (one memmove),
    so what is measured is the loop and the driver, not the bus."""

    def __init__(self, channels: int, frames: int = 1000):
        rows = []
        for k in range(frames):
            for c in range(channels):
                code = (512 + 37 * c + (k * 7919 + c * 104729) % 61 - 30) & 0x3FF
                rows += [0xFF, 0xF8 | (code >> 8), code & 0xFF]  # junk bits before the null bit, as on the wire
        self._table = (ctypes.c_uint8 * len(rows))(*rows)
        self._base = ctypes.addressof(self._table)
        self._row = 3 * channels
        self._frames = frames
        self._k = 0

    def fileno(self) -> int:
        return 0

    def ioctl(self, fd, request, transfers) -> int:
        ctypes.memmove(transfers[0].rx_buf, self._base + self._k * self._row, self._row)
        self._k = (self._k + 1) % self._frames
        return 0


class TableSource(AdcSource):
    """The real driver over :class:`TableSpi`."""

    def __init__(self, channels: int = 4, rate_hz: float = 1000.0):
        spi = TableSpi(channels)
        super().__init__(channels, rate_hz, spi=spi, ioctl=spi.ioctl, batch=True)
        self.name = "table"


class FeedSource(Source):
    """Frames the daemon renders into a :class:`~.shmring.SignalFeed`, one
    per period, as the ADC would give them.  If the daemon falls behind, the
    last frame repeats (counted in ``underruns``); at the feed's end,
    EOFError."""

    def __init__(self, feed, rate_hz: float):
        self.feed, self.rate_hz = feed, rate_hz
        self.channels = feed.channels
        self._frame = struct.Struct(f"<{self.channels}H")
        self._at = FEED_DATA_AT
        self._cap = feed.capacity
        self._pos = 0
        self._written = 0
        self.underruns = 0
        self._last = [pins.ADC_MAX_CODE // 2] * self.channels
        self.name = "feed"

    def read_frame(self) -> list[int]:
        if self._pos >= self._written:
            self._written, _ = self.feed.counts()
            self.feed.set_read(self._pos)
            if self._pos >= self._written:
                if self.feed.ended():
                    raise EOFError("end of the signal")
                self.underruns += 1
                return self._last
        at = self._at + 2 * self.channels * (self._pos % self._cap)
        f = self._last = list(self._frame.unpack_from(self.feed.mm, at))
        self._pos += 1
        return f


class SimSource(Source):
    """The simulator, one frame at a time (rendered a second ahead), in process."""

    def __init__(self, channels: int = 4, rate_hz: float = 1000.0, seed: int = 0, hours: float = 1.0,
                 profile: str = "normal"):
        self._blocks = sim_blocks(channels, rate_hz, seed, hours, profile)
        self.channels, self.rate_hz = channels, rate_hz
        self._block: list = []
        self._i = 0
        self.name = "sim"

    def read_frame(self) -> list[int]:
        if self._i >= len(self._block):
            self._block = next(self._blocks).tolist()
            self._i = 0
        f = self._block[self._i]
        self._i += 1
        return f


def sim_blocks(channels: int, rate_hz: float, seed: int = 0, hours: float = 1.0, profile: str = "normal"):
    """Simulated signal as endless 1-s uint16 blocks: one ``hours``-long
    simulated night after another (seeds ``seed``, ``seed + 1``, ...), so
    what is held is one such night's plan (a 14-h plan held 25 MB)."""
    from .simulator import Night  # noqa: PLC0415

    n = int(rate_hz)
    for k in itertools.count():
        night = Night(hours * 60, seed=seed + k, channels=channels, rate_hz=rate_hz, profile=profile)
        for pos in range(0, night.n_samples - n + 1, n):
            yield night.render(pos, n)


def file_blocks(path: str):
    """A recording as 1-s uint16 blocks of codes, then the end."""
    import numpy as np  # noqa: PLC0415

    from .traces import open_trace  # noqa: PLC0415

    with open_trace(path) as reader:
        for b in reader.blocks(int(reader.info.rate_hz)):
            yield np.clip(np.rint(b), 0, pins.ADC_MAX_CODE).astype(np.uint16)


class FileSource(Source):
    """A recording, one frame at a time (for ``record`` from a file), in process."""

    def __init__(self, path: str):
        from .traces import open_trace  # noqa: PLC0415

        with open_trace(path) as r:
            self.channels, self.rate_hz = r.info.channels, r.info.rate_hz
        self._blocks = file_blocks(path)
        self._block: list = []
        self._i = 0
        self.name = os.path.basename(path)

    def read_frame(self) -> list[int]:
        if self._i >= len(self._block):
            b = next(self._blocks, None)
            if b is None:
                raise EOFError("end of recording")
            self._block, self._i = b.tolist(), 0
        f = self._block[self._i]
        self._i += 1
        return f


class EmulatedAdcSource(AdcSource):
    """The real driver over the MCP3008 emulator, its inputs fed by
    ``analog`` (a :class:`Source`; default a simulated night rendered ahead,
    so the loop measures the driver and not the simulator): the whole live
    path without the hardware."""

    def __init__(self, channels: int = 4, rate_hz: float = 1000.0, seed: int = 0, batch: bool = True,
                 prerender_s: float = 120.0, analog: Source | None = None):
        from .mcp3008_emulator import MCP3008Emulator  # noqa: PLC0415

        if analog is None:
            blocks = sim_blocks(channels, rate_hz, seed, hours=prerender_s / 3600)
            frames = []
            while len(frames) < prerender_s * rate_hz:
                frames += next(blocks).tolist()
            analog = _Frames(frames, channels, rate_hz)
        self.analog = analog
        self._frame = [512] * channels
        emu = MCP3008Emulator(seed=seed, analog=lambda ch: (self._frame[ch] + 0.5) * 3.3 / 1024
                              if ch < channels else 1.65)
        self.emulator = emu
        super().__init__(channels, rate_hz, spi=emu, ioctl=emu.ioctl if batch else None, batch=batch)
        self.name = "emulated-adc"

    def read_frame(self) -> list[int]:
        self._frame = self.analog.read_frame()
        return super().read_frame()


class _Frames(Source):
    def __init__(self, frames: list, channels: int, rate_hz: float):
        self._frames, self.channels, self.rate_hz = frames, channels, rate_hz
        self._k = 0

    def read_frame(self) -> list[int]:
        f = self._frames[self._k]
        self._k = (self._k + 1) % len(self._frames)
        return f


def make_source(spec: str, channels: int = 4, rate_hz: float = 1000.0, seed: int = 0) -> Source:
    """A source in this process (``record``; the daemon uses :class:`SamplerProcess`)."""
    if spec == "adc":
        return AdcSource(channels, rate_hz)
    if spec == "sim":
        return SimSource(channels, rate_hz, seed)
    if spec == "emulator":
        return EmulatedAdcSource(channels, rate_hz, seed)
    if spec == "table":
        return TableSource(channels, rate_hz)
    return FileSource(spec)


# -- the loop ------------------------------------------------------------------

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


class _ListSink:
    """Blocks as numpy arrays for a callback, in this process."""

    def __init__(self, emit: Callable[[Block], None], block_samples: int, channels: int):
        import numpy as np  # noqa: PLC0415
        self._np, self.emit, self.channels = np, emit, channels
        self.bytes = 2 * block_samples * channels
        self.seq = 0

    def claim(self):
        return bytearray(self.bytes), 0

    def commit(self, buf, first_index: int, t_mono: float, n: int, read_errors: int) -> None:
        codes = self._np.frombuffer(buf, dtype=self._np.uint16, count=n * self.channels).reshape(n, self.channels)
        self.emit(Block(first_index, t_mono, codes, read_errors))


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


def sample_loop(source: Source, emit: Callable[[Block], None] | None = None, *, block_samples: int = 100,
                clock=None, should_stop: Callable[[], bool] = lambda: False,
                late_tolerance_s: float | None = None, max_frames: int | None = None,
                stats: SamplerStats | None = None, on_tick: Callable[[], None] | None = None,
                retry_backoff_s: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0), sink=None,
                rate_hz: float | None = None) -> SamplerStats:
    """Sample ``source`` at ``rate_hz`` (default its own rate) until
    ``should_stop()``; hand each block to ``emit`` (numpy codes) or to
    ``sink`` (a :class:`RingSink`)."""
    clock = clock or MonotonicClock()
    fake = isinstance(clock, FakeClock)
    stats = stats or SamplerStats()
    period = 1.0 / (rate_hz or source.rate_hz)
    tol = late_tolerance_s if late_tolerance_s is not None else period / 2
    C = source.channels
    sink = sink or _ListSink(emit, block_samples, C)
    pack = struct.Struct(f"<{C}H").pack_into
    stride = 2 * C
    hist = stats.late_hist
    top = LATE_BINS - 1
    sleep_until, monotonic = clock.sleep_until, clock.monotonic
    claimed = sink.claim()
    if claimed is None:
        stats.dropped_blocks += 1
    buf, off = claimed or (bytearray(2 * block_samples * C), 0)
    fill = 0
    t0 = monotonic() + period
    k = 0
    first_k, first_t = 0, t0
    last = [pins.ADC_MAX_CODE // 2] * C

    def flush():
        nonlocal buf, off, fill, claimed
        if claimed is not None:
            sink.commit(buf, first_k, first_t, fill, stats.read_errors)
        claimed = sink.claim()
        if claimed is None:
            stats.dropped_blocks += 1
        buf, off = claimed or (bytearray(2 * block_samples * C), 0)
        fill = 0

    while not should_stop() and (max_frames is None or stats.frames < max_frames):
        deadline = t0 + k * period
        sleep_until(deadline)
        now = monotonic()
        lateness = now - deadline
        if lateness >= period:  # whole periods gone: skip them, say so
            skip = int(lateness // period)
            if fill:
                flush()
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
        frame = None
        for wait in (0.0, *retry_backoff_s):
            if wait:
                time.sleep(wait) if not fake else clock.sleep_until(clock.monotonic() + wait)
            try:
                frame = source.read_frame()
                break
            except ADCError:
                stats.read_errors += 1
        if frame is None:
            frame = last  # flagged: the detector sees a flat line and reports the channel
        last = frame
        if fake:
            clock.spend()
        if fill == 0:
            first_k, first_t = k, deadline
        pack(buf, off + fill * stride, *frame)
        fill += 1
        k += 1
        stats.frames += 1
        if fill == block_samples:
            flush()
            if on_tick is not None:
                on_tick()
    if fill and claimed is not None:
        sink.commit(buf, first_k, first_t, fill, stats.read_errors)
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


# -- the sampler in its own process ---------------------------------------------

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
        if cfg["spec"] == "adc":
            src = AdcSource(ring.channels, cfg["rate_hz"])
        elif cfg["spec"] == "table":
            src = TableSource(ring.channels, cfg["rate_hz"])
        else:
            src = FeedSource(SignalFeed(cfg["feed_fd"]), cfg["rate_hz"])
            if cfg["spec"] == "emulator":
                src = EmulatedAdcSource(ring.channels, cfg["rate_hz"], cfg["seed"], analog=src)
    except Exception as exc:  # noqa: BLE001 - no SPI device, a bad feed: the daemon says it in one line
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
        if isinstance(src, FeedSource) or isinstance(getattr(src, "analog", None), FeedSource):
            d["feed_underruns"] = getattr(src, "analog", src).underruns
        out.write(json.dumps({"stats": d}) + "\n")
    return 0


class SamplerProcess:
    """Runs :func:`sample_loop` in its own small process.

    ``spec``: ``adc`` (the MCP3008), ``table`` (zero-cost SPI stand-in),
    ``sim``, ``emulator`` or a recording's path (rendered here, fed to the
    sampler).  ``speed`` plays a stand-in that many times faster than real
    time (for benchmarks; default ``$TWITCHMON_SIM_SPEED``, else 1).  :meth:`get` returns the next :class:`Block`;
    its ``codes`` are a read-only view of the shared ring, valid until the
    get() after next (copy them to keep them longer), or None once the
    sampler has ended.
    """

    def __init__(self, spec: str, channels: int = 4, rate_hz: float = 1000.0, seed: int = 0,
                 block_samples: int = 100, queue_blocks: int = 600, max_frames: int | None = None, *,
                 rt_priority: int = RT_PRIORITY, speed: float | None = None, label: str = "",
                 report_modules: bool = False):
        if queue_blocks >= 4096:
            raise ValueError("at most 4095 blocks in the ring (one pipe byte each must fit the pipe)")
        self.spec, self.channels, self.rate_hz, self.seed = spec, channels, rate_hz, seed
        if speed is None:
            speed = float(os.environ.get("TWITCHMON_SIM_SPEED", "1"))
        self.speed = speed if spec not in ("adc", "table") else 1.0
        self._ring_fd = shared_fd("twitchmon-blocks", BlockRing.size(queue_blocks, block_samples, channels))
        self.ring = BlockRing(self._ring_fd, create=(queue_blocks, block_samples, channels))
        self._feed = self._feeder = None
        self._pending = None  #: a rendered block waiting for room in the feed
        self._cfg = {"spec": spec if spec in ("adc", "table", "emulator") else "feed", "rate_hz": rate_hz,
                     "speed": self.speed, "seed": seed, "rt_priority": rt_priority, "parent": os.getpid(),
                     "max_frames": max_frames, "report_modules": report_modules}
        self.label = label
        self.proc = None
        self.returncode: int | None = None  #: the sampler process's exit status once stop() reaped it
        self.stats: dict | None = None
        self.hello: dict = {}
        self.queue = self  # the daemon's loop reads ``sampler.queue.get(timeout)``
        self._next = 0
        self._avail = 0
        self._msgbuf = b""
        self._ended = False

    @property
    def priority(self) -> str:
        return self.hello.get("priority", "")

    @property
    def realtime(self) -> bool:
        return bool(self.hello.get("realtime"))

    def _start_feed(self) -> int:
        import threading  # noqa: PLC0415

        cap = int(4 * self.rate_hz * max(1.0, self.speed))  # 4 s of signal ahead
        fd = shared_fd("twitchmon-feed", 64)
        self._feed = SignalFeed(fd, create=(self.channels, cap))
        if self.spec in ("sim", "emulator"):
            blocks = sim_blocks(self.channels, self.rate_hz, self.seed)
        else:
            blocks = file_blocks(self.spec)
        self._feed_stop = threading.Event()
        self._fill_feed(blocks, until_full=True)
        self._feeder = threading.Thread(target=self._feed_loop, args=(blocks,), name="twitchmon-feed", daemon=True)
        self._feeder.start()
        return fd

    def _fill_feed(self, blocks, until_full: bool = False) -> None:
        import numpy as np  # noqa: PLC0415

        f = self._feed
        ring = np.ndarray((f.capacity, f.channels), dtype="<u2", buffer=f.mm, offset=FEED_DATA_AT)
        while not f.ended():
            written, read = f.counts()
            free = f.capacity - (written - read)
            block = self._pending if self._pending is not None else next(blocks, None)
            if block is None:
                f.end()
                return
            if len(block) > free:
                self._pending = block
                return
            self._pending = None
            i = written % f.capacity
            first = min(len(block), f.capacity - i)
            ring[i:i + first] = block[:first]
            ring[:len(block) - first] = block[first:]
            f.set_written(written + len(block))
            if not until_full:
                return

    def _feed_loop(self, blocks) -> None:
        pause = min(0.1, 0.25 / self.speed)
        while not self._feed_stop.wait(pause):
            self._fill_feed(blocks, until_full=True)
            if self._feed.ended():
                return

    def _command(self, fds: dict) -> list[str]:
        cfg = dict(self._cfg, **fds)
        return [sys.executable, "-m", "firmware_host.sampler", json.dumps(cfg)] + (
            ["--for", self.label] if self.label else [])

    def start(self, timeout: float = 30.0) -> "SamplerProcess":
        """Start the sampler and wait until it samples; ADCError if it cannot."""
        import subprocess  # noqa: PLC0415

        feed_fd = self._start_feed() if self._cfg["spec"] in ("feed", "emulator") else -1
        notify_r, notify_w = os.pipe()
        msg_r, msg_w = os.pipe()
        fds = {"ring_fd": self._ring_fd, "notify_fd": notify_w, "msg_fd": msg_w, "feed_fd": feed_fd}
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])))
        try:
            self.proc = subprocess.Popen(self._command(fds), pass_fds=[fd for fd in fds.values() if fd >= 0],
                                         stdin=subprocess.DEVNULL, env=env)
        finally:
            os.close(notify_w)
            os.close(msg_w)
        self._notify, self._msg = notify_r, msg_r
        t_end = time.monotonic() + timeout
        while not self.hello:
            left = t_end - time.monotonic()
            if left <= 0 or not self._read_messages(left):
                self.stop(1.0)
                raise ADCError(self.hello.get("error") or "the sampler process did not start")
        return self

    def _read_messages(self, timeout: float) -> bool:
        """Read what the sampler said; False once it closed its end."""
        r, _, _ = select.select([self._msg], [], [], timeout)
        if not r:
            return True
        data = os.read(self._msg, 65536)
        if not data:
            self._ended = True
            return False
        self._msgbuf += data
        *lines, self._msgbuf = self._msgbuf.split(b"\n")
        for line in lines:
            m = json.loads(line)
            if "hello" in m:
                self.hello = m["hello"]
            elif "error" in m:
                self.hello = {"error": m["error"]}
                return False
            elif "stats" in m:
                self.stats = m["stats"]
        return True

    def get(self, timeout: float | None = None):
        """The next Block; queue.Empty after ``timeout`` s; None once the sampler ended."""
        import queue  # noqa: PLC0415

        import numpy as np  # noqa: PLC0415

        t_end = None if timeout is None else time.monotonic() + timeout
        while self._avail == 0:
            if self._ended:
                return None
            left = None if t_end is None else max(0.0, t_end - time.monotonic())
            r, _, _ = select.select([self._notify, self._msg], [], [], left)
            if self._notify in r:
                data = os.read(self._notify, 4096)
                if not data:  # the sampler's end of the pipe closed: it ended or was killed
                    t_end = time.monotonic() + 1.0  # its last words (stats, if it said them), briefly
                    while not self._ended and time.monotonic() < t_end and \
                            self._read_messages(max(0.0, t_end - time.monotonic())):
                        pass
                    self._ended = True  # (an EOF here would otherwise be "readable" for ever: a busy loop)
                self._avail += len(data)
            elif self._msg in r:
                self._read_messages(0)
            elif not r:
                raise queue.Empty
        seq = self._next
        first_index, t_mono, n, errors = self.ring.meta(seq)
        at = self.ring.slot_offset(seq)
        codes = np.ndarray((n, self.channels), dtype="<u2", buffer=self.ring.mm, offset=at)
        codes.flags.writeable = False
        self._next += 1
        self._avail -= 1
        self.ring.release(max(0, seq - 1))  # this block and the one before stay ours
        return Block(first_index, t_mono, codes, errors)

    def stop(self, timeout: float = 5.0) -> dict | None:
        """End the sampler; its stats (dict) when it said them."""
        if self._feeder is not None:
            self._feed_stop.set()
        self.ring.request_stop()
        if self.proc is not None:
            t_end = time.monotonic() + timeout
            while self.stats is None and not self._ended and time.monotonic() < t_end:
                self._read_messages(max(0.0, t_end - time.monotonic()))
            try:
                self.proc.wait(max(0.1, t_end - time.monotonic()))
            except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired: it would not go
                self.proc.kill()
                self.proc.wait()
            for fd in (self._notify, self._msg):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.returncode = self.proc.returncode
            self.proc = None
        return self.stats

    @property
    def alive(self) -> bool:
        """The sampler process is running (started and not yet ended or reaped)."""
        return self.proc is not None and self.proc.poll() is None

    @property
    def error(self) -> str | None:
        """Why the sampler stopped on its own (one line), or None.  (One that
        cannot start is an :class:`ADCError` from :meth:`start`.)"""
        if self.hello.get("error"):
            return self.hello["error"]
        code = self.proc.poll() if self.proc is not None else self.returncode
        if code not in (0, None):
            return f"the sampler process ended with exit code {code}"
        return None


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
