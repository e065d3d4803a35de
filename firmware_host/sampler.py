"""The sampling loop and the sources it reads.

The loop keeps absolute deadlines (``t0 + k / rate``): it never sleeps a
fixed period, so error does not accumulate.  Timestamps come from a
monotonic clock.  A frame read late is counted as late; when whole periods
were missed the loop skips them, counts them and says where (the block's
``first_index`` jumps), and never silently re-times samples.  Blocks go to
the consumer through a bounded queue.

Sources share one small interface (:class:`Source`): ``read_frame()`` for
the live loop and ``blocks(n)`` for as-fast-as-possible replay.
"""
from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import queue
import resource
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import pins
from .adc import ADCError, MCP3008


# -- clocks ------------------------------------------------------------------

class MonotonicClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep_until(self, t: float) -> None:
        while True:
            d = t - time.monotonic()
            if d <= 0:
                return
            if d > 0.0004:
                time.sleep(d - 0.0003)  # the kernel's timer slack is ~0.1 ms: wake a little early
            # and spin the last fraction of a millisecond


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


class SimSource(Source):
    """The simulator, one frame at a time (rendered a second ahead)."""

    def __init__(self, channels: int = 4, rate_hz: float = 1000.0, seed: int = 0, hours: float = 14.0,
                 profile: str = "normal"):
        from .simulator import Night  # noqa: PLC0415

        self.night = Night(hours * 60, seed=seed, channels=channels, rate_hz=rate_hz, profile=profile)
        self.channels, self.rate_hz = channels, rate_hz
        self._block = np.empty((0, channels), dtype=np.uint16)
        self._i = 0
        self._pos = 0
        self.name = "sim"

    def read_frame(self) -> list[int]:
        if self._i >= len(self._block):
            n = int(self.rate_hz)
            self._block = self.night.render(self._pos % max(self.night.n_samples - n, 1), n)
            self._pos += n
            self._i = 0
        f = self._block[self._i]
        self._i += 1
        return f.tolist()


class FileSource(Source):
    """A recording, one frame at a time (for ``run FILE`` in real time)."""

    def __init__(self, path: str):
        from .traces import open_trace  # noqa: PLC0415

        self.reader = open_trace(path)
        self.channels, self.rate_hz = self.reader.info.channels, self.reader.info.rate_hz
        self._it = self.reader.blocks(int(self.rate_hz))
        self._block = np.empty((0, self.channels))
        self._i = 0
        self.name = os.path.basename(path)

    def read_frame(self) -> list[int]:
        if self._i >= len(self._block):
            self._block = next(self._it, None)
            if self._block is None:
                raise EOFError("end of recording")
            self._block = np.rint(self._block).astype(int)
            self._i = 0
        f = self._block[self._i]
        self._i += 1
        return f.tolist()

    def close(self) -> None:
        self.reader.close()


class EmulatedAdcSource(AdcSource):
    """The real driver over the MCP3008 emulator, fed by a simulated night:
    the whole live path without the hardware."""

    def __init__(self, channels: int = 4, rate_hz: float = 1000.0, seed: int = 0, batch: bool = True,
                 prerender_s: float = 120.0):
        from .mcp3008_emulator import MCP3008Emulator  # noqa: PLC0415

        from .simulator import Night  # noqa: PLC0415

        # the night is rendered ahead, so the loop measures the driver and not the simulator
        night = Night(prerender_s / 60, seed=seed, channels=channels, rate_hz=rate_hz)
        self._frames = night.render(0, night.n_samples).tolist()
        self._k = 0
        self._frame = [512] * channels
        emu = MCP3008Emulator(seed=seed, analog=lambda ch: (self._frame[ch] + 0.5) * 3.3 / 1024
                              if ch < channels else 1.65)
        self.emulator = emu
        super().__init__(channels, rate_hz, spi=emu, ioctl=emu.ioctl if batch else None,
                         batch=batch)
        self.name = "emulated-adc"

    def read_frame(self) -> list[int]:
        self._frame = self._frames[self._k]
        self._k = (self._k + 1) % len(self._frames)
        return super().read_frame()


def make_source(spec: str, channels: int = 4, rate_hz: float = 1000.0, seed: int = 0) -> Source:
    if spec == "adc":
        return AdcSource(channels, rate_hz)
    if spec == "sim":
        return SimSource(channels, rate_hz, seed)
    if spec == "emulator":
        return EmulatedAdcSource(channels, rate_hz, seed)
    return FileSource(spec)


# -- the loop ------------------------------------------------------------------

@dataclass
class SamplerStats:
    frames: int = 0
    late: int = 0  #: frames read more than ``late_tolerance_s`` after their deadline
    missed: int = 0  #: whole periods skipped
    worst_late_s: float = 0.0
    read_errors: int = 0
    dropped_blocks: int = 0  #: the consumer's queue was full
    gaps: list = field(default_factory=list)  #: (sample index, samples missed)

    @property
    def late_fraction(self) -> float:
        return self.late / self.frames if self.frames else 0.0

    def as_dict(self) -> dict:
        return {"frames": self.frames, "late": self.late, "late_fraction": round(self.late_fraction, 6),
                "missed": self.missed, "worst_late_ms": round(self.worst_late_s * 1000, 3),
                "read_errors": self.read_errors, "dropped_blocks": self.dropped_blocks}


@dataclass
class Block:
    first_index: int  #: sample index of the first frame (jumps after missed periods)
    t_mono: float  #: monotonic time of the first frame's deadline, s
    codes: np.ndarray  #: (n, channels) uint16
    read_errors: int = 0  #: SPI transfers that failed so far (cumulative), for the health check


def sample_loop(source: Source, emit: Callable[[Block], None], *, block_samples: int = 100,
                clock=None, should_stop: Callable[[], bool] = lambda: False,
                late_tolerance_s: float | None = None, max_frames: int | None = None,
                stats: SamplerStats | None = None, on_tick: Callable[[], None] | None = None,
                retry_backoff_s: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0)) -> SamplerStats:
    """Sample ``source`` at its rate until ``should_stop()``; emit blocks."""
    clock = clock or MonotonicClock()
    stats = stats or SamplerStats()
    period = 1.0 / source.rate_hz
    tol = late_tolerance_s if late_tolerance_s is not None else period / 2
    C = source.channels
    buf = np.empty((block_samples, C), dtype=np.uint16)
    fill = 0
    t0 = clock.monotonic() + period
    k = 0
    first_k, first_t = 0, t0
    last = [pins.ADC_MAX_CODE // 2] * C
    while not should_stop() and (max_frames is None or stats.frames < max_frames):
        deadline = t0 + k * period
        clock.sleep_until(deadline)
        now = clock.monotonic()
        lateness = now - deadline
        if lateness >= period:  # whole periods gone: skip them, say so
            skip = int(lateness // period)
            if fill:
                emit(Block(first_k, first_t, buf[:fill].copy(), stats.read_errors))
                fill = 0
            stats.missed += skip
            stats.gaps.append((k, skip))
            k += skip
            deadline = t0 + k * period
            lateness = now - deadline
        if lateness > tol:
            stats.late += 1
        stats.worst_late_s = max(stats.worst_late_s, lateness)
        frame = None
        for wait in (0.0, *retry_backoff_s):
            if wait:
                time.sleep(wait) if isinstance(clock, MonotonicClock) else clock.sleep_until(clock.monotonic() + wait)
            try:
                frame = source.read_frame()
                break
            except ADCError:
                stats.read_errors += 1
        if frame is None:
            frame = last  # flagged: the detector sees a flat line and reports the channel
        last = frame
        if isinstance(clock, FakeClock):
            clock.spend()
        if fill == 0:
            first_k, first_t = k, deadline
        buf[fill] = frame
        fill += 1
        k += 1
        stats.frames += 1
        if fill == block_samples:
            emit(Block(first_k, first_t, buf.copy(), stats.read_errors))
            fill = 0
            if on_tick is not None:
                on_tick()
    if fill:
        emit(Block(first_k, first_t, buf[:fill].copy(), stats.read_errors))
    return stats


def raise_priority(rt_priority: int = 50) -> str:
    """Real-time FIFO scheduling when permitted, else a better nice value."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(rt_priority))
        return f"SCHED_FIFO {rt_priority}"
    except (PermissionError, AttributeError, OSError):
        pass
    try:
        os.nice(-10)
        return "nice -10"
    except (PermissionError, OSError):
        return "normal priority (not permitted to raise it)"


# -- the sampler in its own process ---------------------------------------------

def die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies (prctl
    PR_SET_PDEATHSIG), so a daemon killed with -9 leaves no sampler spinning
    at real-time priority; exit at once if the parent is already gone."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass  # not Linux: the loop's parent check below still ends it
    if os.getppid() != parent_pid:
        os._exit(0)


def _child(spec, channels, rate_hz, seed, block_samples, q, stop, stats_q, max_frames, parent_pid):
    die_with_parent(parent_pid)
    prio = raise_priority()
    try:
        src = make_source(spec, channels, rate_hz, seed)
    except Exception as exc:  # noqa: BLE001 - no SPI device, unreadable file: the parent says it in one line
        stats_q.put({"error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__})
        q.put(None)
        return
    stats = SamplerStats()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)

    def emit(block: Block):
        try:
            q.put(block, timeout=0.5)
        except queue.Full:
            stats.dropped_blocks += 1

    try:
        def should_stop() -> bool:
            return stop.is_set() or os.getppid() != parent_pid

        sample_loop(src, emit, block_samples=block_samples, should_stop=should_stop, stats=stats,
                    max_frames=max_frames)
    except EOFError:
        pass
    finally:
        src.close()
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        d = stats.as_dict()
        d["cpu_s"] = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        d["priority"] = prio
        stats_q.put(d)
        q.put(None)


class SamplerProcess:
    """Runs :func:`sample_loop` in a child process; blocks arrive on ``queue``."""

    def __init__(self, spec: str, channels: int = 4, rate_hz: float = 1000.0, seed: int = 0,
                 block_samples: int = 100, queue_blocks: int = 600, max_frames: int | None = None):
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
        self.queue = ctx.Queue(maxsize=queue_blocks)
        self._stats_q = ctx.Queue()
        self._stop = ctx.Event()
        self.proc = ctx.Process(target=_child, name="twitchmon-sampler", daemon=True,
                                args=(spec, channels, rate_hz, seed, block_samples, self.queue, self._stop,
                                      self._stats_q, max_frames, os.getpid()))
        self.stats: dict | None = None

    def start(self) -> "SamplerProcess":
        self.proc.start()
        return self

    def stop(self, timeout: float = 5.0) -> dict | None:
        self._stop.set()
        if self.stats is None:
            try:
                self.stats = self._stats_q.get(timeout=timeout if self.proc.is_alive() else 0.5)
            except queue.Empty:
                pass
        self.proc.join(timeout)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(timeout)  # reaped: no zombie left behind
        return self.stats

    @property
    def error(self) -> str | None:
        """Why the sampler could not start or stopped on its own (one line), or None."""
        if self.stats is None:
            try:
                self.stats = self._stats_q.get_nowait()
            except queue.Empty:
                pass
        if self.stats and self.stats.get("error"):
            return self.stats["error"]
        if not self.proc.is_alive() and self.proc.exitcode not in (0, None):
            return f"the sampler process ended with exit code {self.proc.exitcode}"
        return None
