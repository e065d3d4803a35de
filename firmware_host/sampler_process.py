"""The sampler from the daemon's side: :class:`SamplerProcess` starts the
small sampling process (:mod:`.sampler`) and reads its blocks in place; the
stand-in sources (the simulator, a recording, the emulator's analog inputs)
are rendered here, where numpy is anyway, and reach the sampler through a
:class:`~.shmring.SignalFeed`.  Also the in-process sources ``twitchmon
record`` and the tests use (:func:`make_source`).
"""
from __future__ import annotations

import itertools
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import numpy as np

from . import pins
from .adc import ADCError
from .sampler import RT_PRIORITY, Block, SamplerStats
from .sampler import sample_loop as run_loop
from .shmring import FEED_DATA_AT, BlockRing, SignalFeed, shared_fd
from .log import get_logger
from .simulator import Night
from .sources import AdcSource, EmulatedAdc, Source, TableSource, kind
from .traces import open_trace

log = get_logger(__name__)


class SimSource(Source):
    """The simulator, one frame at a time (rendered a second ahead), in process."""

    def __init__(self, channels: int = pins.N_CHANNELS, rate_hz: float = 1000.0, seed: int = 0, hours: float = 1.0,
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
    n = int(rate_hz)
    for k in itertools.count():
        night = Night(hours * 60, seed=seed + k, channels=channels, rate_hz=rate_hz, profile=profile)
        for pos in range(0, night.n_samples - n + 1, n):
            yield night.render(pos, n)


def file_blocks(path: str):
    """A recording as 1-s uint16 blocks of codes, then the end."""
    with open_trace(path) as reader:
        for b in reader.blocks(int(reader.info.rate_hz)):
            yield np.clip(np.rint(b), 0, pins.ADC_MAX_CODE).astype(np.uint16)


class FileSource(Source):
    """A recording, one frame at a time (for ``record`` from a file), in process."""

    def __init__(self, path: str):
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


class EmulatedAdcSource(EmulatedAdc):
    """:class:`~.sources.EmulatedAdc` in process, its inputs by default a
    simulated night rendered ahead (so the loop measures the driver and not
    the simulator)."""

    def __init__(self, channels: int = pins.N_CHANNELS, rate_hz: float = 1000.0, seed: int = 0, batch: bool = True,
                 prerender_s: float = 120.0, analog: Source | None = None):
        if analog is None:
            blocks = sim_blocks(channels, rate_hz, seed, hours=prerender_s / 3600)
            frames = []
            while len(frames) < prerender_s * rate_hz:
                frames += next(blocks).tolist()
            analog = _Frames(frames, channels, rate_hz)
        super().__init__(analog, channels, rate_hz, seed, batch)


class _Frames(Source):
    def __init__(self, frames: list, channels: int, rate_hz: float):
        self._frames, self.channels, self.rate_hz = frames, channels, rate_hz
        self._k = 0

    def read_frame(self) -> list[int]:
        f = self._frames[self._k]
        self._k = (self._k + 1) % len(self._frames)
        return f


class ListSink:
    """Blocks as numpy arrays for a callback, in this process."""

    def __init__(self, emit: Callable[[Block], None], block_samples: int, channels: int):
        self.emit, self.channels = emit, channels
        self.bytes = 2 * block_samples * channels
        self.seq = 0

    def claim(self):
        return bytearray(self.bytes), 0

    def commit(self, buf, first_index: int, t_mono: float, n: int, read_errors: int) -> None:
        codes = np.frombuffer(buf, dtype=np.uint16, count=n * self.channels).reshape(n, self.channels)
        self.emit(Block(first_index, t_mono, codes, read_errors))


def sample_loop(source: Source, emit: Callable[[Block], None] | None = None, *, block_samples: int = 100,
                sink=None, **kw) -> SamplerStats:
    """:func:`.sampler.sample_loop` in this process, each block handed to
    ``emit`` as numpy codes (or to ``sink``)."""
    sink = sink or ListSink(emit, block_samples, source.channels)
    return run_loop(source, sink=sink, block_samples=block_samples, **kw)


#: the in-process source of each kind (``record``; the daemon uses :class:`SamplerProcess`)
IN_PROCESS = {"adc": lambda channels, rate_hz, seed: AdcSource(channels, rate_hz), "sim": SimSource,
              "emulator": EmulatedAdcSource, "table": lambda channels, rate_hz, seed: TableSource(channels, rate_hz)}


def make_source(spec: str, channels: int = pins.N_CHANNELS, rate_hz: float = 1000.0, seed: int = 0) -> Source:
    """A source in this process (``record``; the daemon uses :class:`SamplerProcess`)."""
    k = kind(spec)
    if k.rendered == "file":
        return FileSource(spec)
    return IN_PROCESS[k.name](channels, rate_hz, seed)


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

    def __init__(self, spec: str, channels: int = pins.N_CHANNELS, rate_hz: float = 1000.0, seed: int = 0,
                 block_samples: int = 100, queue_blocks: int = 600, max_frames: int | None = None, *,
                 rt_priority: int = RT_PRIORITY, speed: float | None = None, label: str = "",
                 report_modules: bool = False):
        if queue_blocks >= 4096:
            raise ValueError("at most 4095 blocks in the ring (one pipe byte each must fit the pipe)")
        self.spec, self.channels, self.rate_hz, self.seed = spec, channels, rate_hz, seed
        if speed is None:
            speed = float(os.environ.get("TWITCHMON_SIM_SPEED", "1"))
        self.source = kind(spec)
        self.speed = 1.0 if self.source.real_time_only else speed
        self._ring_fd = shared_fd("twitchmon-blocks", BlockRing.size(queue_blocks, block_samples, channels))
        self.ring = BlockRing(self._ring_fd, create=(queue_blocks, block_samples, channels))
        self._feed = self._feeder = None
        self._pending = None  #: a rendered block waiting for room in the feed
        self._cfg = {"reads": self.source.sampler_reads, "rate_hz": rate_hz,
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
        cap = int(4 * self.rate_hz * max(1.0, self.speed))  # 4 s of signal ahead
        fd = shared_fd("twitchmon-feed", 64)
        self._feed = SignalFeed(fd, create=(self.channels, cap))
        if self.source.rendered == "sim":
            blocks = sim_blocks(self.channels, self.rate_hz, self.seed)
        else:
            blocks = file_blocks(self.spec)
        self._feed_stop = threading.Event()
        self._fill_feed(blocks, until_full=True)
        self._feeder = threading.Thread(target=self._feed_loop, args=(blocks,), name="twitchmon-feed", daemon=True)
        self._feeder.start()
        return fd

    def _fill_feed(self, blocks, until_full: bool = False) -> None:
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
        feed_fd = self._start_feed() if self.source.rendered is not None else -1
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
            except subprocess.TimeoutExpired:  # it would not go: it goes now, and says so
                log.warning(f"the sampler process did not stop within {timeout:g} s; killed")
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
