"""Where the samples come from: one registry that says what each source has,
so the daemon, the sampler and the CLI ask it instead of branching on names.

A source is named on the command line (``--source``): ``adc`` (the MCP3008
on the Pi's SPI bus), ``emulator`` (the same driver over the bit-level
MCP3008 emulator, its analog inputs the simulator), ``sim`` (the simulator's
codes), ``table`` (a zero-cost SPI stand-in, for benchmarks), or any other
name: a recording's path (contracts section 2).

Here too the sources the sampler's small process reads (the ADC, the SPI
stand-in, the daemon's feed, the emulator over it), each with one
``read_frame()``: no numpy here.  The daemon renders the simulator and
recordings (:mod:`.sampler_process`).
"""
from __future__ import annotations

import ctypes
import os
import struct
from dataclasses import dataclass

from . import pins
from .adc import MCP3008, open_spidev
from .adc.emulator import MCP3008Emulator
from .shmring import FEED_DATA_AT

# -- the sources the sampler process reads --------------------------------------

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

    def __init__(self, channels: int = pins.N_CHANNELS, rate_hz: float = 1000.0, spi=None, **adc_kw):
        self.channels, self.rate_hz = channels, rate_hz
        self.adc = MCP3008(spi if spi is not None else open_spidev(), **adc_kw)
        self._chans = pins.adc_inputs(channels)  # each recorded channel from its site's input
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

    def __init__(self, channels: int = pins.N_CHANNELS, rate_hz: float = 1000.0):
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


class EmulatedAdc(AdcSource):
    """The real driver over the MCP3008 emulator (:mod:`.mcp3008_emulator`),
    its analog inputs the codes ``analog`` (a :class:`Source`) gives: the
    whole live path without the hardware."""

    def __init__(self, analog: Source, channels: int = pins.N_CHANNELS, rate_hz: float = 1000.0, seed: int = 0,
                 batch: bool = True):
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



# -- the registry ----------------------------------------------------------------------

@dataclass(frozen=True)
class SourceKind:
    """What a source has and needs."""

    name: str  #: ``adc``, ``emulator``, ``sim``, ``table`` or ``file``
    sampler_reads: str  #: what the sampler process reads: ``adc``, ``table``, ``emulator`` or ``feed``
    rendered: str | None  #: what the daemon renders into the feed: ``sim``, ``file`` or None (nothing)
    hardware: bool  #: the real board: its status LED and button are there
    real_time_only: bool  #: cannot be played faster than real time (the ADC, the SPI stand-in)


KINDS = {k.name: k for k in (
    SourceKind("adc", sampler_reads="adc", rendered=None, hardware=True, real_time_only=True),
    SourceKind("emulator", sampler_reads="emulator", rendered="sim", hardware=False, real_time_only=False),
    SourceKind("sim", sampler_reads="feed", rendered="sim", hardware=False, real_time_only=False),
    SourceKind("table", sampler_reads="table", rendered=None, hardware=False, real_time_only=True),
    SourceKind("file", sampler_reads="feed", rendered="file", hardware=False, real_time_only=False),
)}


def kind(spec: str) -> SourceKind:
    """The kind of source ``spec`` names (anything not a registered name is a recording's path)."""
    return KINDS.get(spec, KINDS["file"])


def default_source() -> str:
    """``adc`` where the Pi's SPI device is, else ``sim``."""
    return "adc" if os.path.exists(pins.SPI_DEVICE_PATH) else "sim"


def sampler_source(reads: str, channels: int, rate_hz: float, *, feed=None, seed: int = 0) -> Source:
    """The source the sampler process reads (``SourceKind.sampler_reads``)."""
    if reads == "adc":
        return AdcSource(channels, rate_hz)
    if reads == "table":
        return TableSource(channels, rate_hz)
    src = FeedSource(feed, rate_hz)
    return EmulatedAdc(src, channels, rate_hz, seed) if reads == "emulator" else src
