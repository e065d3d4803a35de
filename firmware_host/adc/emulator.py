"""A bit-level MCP3008 emulator, the stand-in for the chip in tests.

It follows the datasheet (DS21295, figure 6-1) clock by clock inside one
CS-low window: it waits for the start bit, takes SGL/DIFF and D2..D0, spends
one clock sampling, drives the null bit, B9..B0 MSB first, then B1..B9 LSB
first, then zeros until CS rises.  A second start bit in the same window is
ignored, as on the chip: a driver that batches conversions in one ``xfer2``
reads zeros.  Bits before the null bit are undefined on the wire (DOUT is
high-impedance): the emulator makes them random, so a driver that forgets
to mask them fails.

Two parts, as on a Pi: :class:`MCP3008Chip` is the chip (its inputs, CS
and one clock at a time); :class:`FakeSpidev` is the kernel and the spidev
module in front of it (``xfer2``, ``xfer``, the ``mode``/``max_speed_hz``
attributes, ``fileno``, and the kernel side of ``SPI_IOC_MESSAGE(N)``,
:meth:`FakeSpidev.ioctl`, reading ``struct spi_ioc_transfer`` arrays from
memory with ``cs_change`` semantics as Linux applies them; a bus fault is
injected there).  :class:`MCP3008Emulator` is the two put together, the
stand-in the tests and the sampler's ``emulator`` source use.
"""
from __future__ import annotations

import ctypes
import errno
import random
from collections.abc import Callable, Sequence

from .spidev_abi import SpiIocTransfer, spi_ioc_message

VREF_V = 3.3

# Differential D2..D0 -> (IN+, IN-) channels, datasheet table 5-2.
_DIFF_PAIRS = {0: (0, 1), 1: (1, 0), 2: (2, 3), 3: (3, 2), 4: (4, 5), 5: (5, 4), 6: (6, 7), 7: (7, 6)}


class MCP3008Chip:
    """The chip: 8 analog inputs, CS, and one SCLK period at a time.

    ``inputs_v`` holds the 8 input voltages; :meth:`set_codes` sets them so
    that single-ended conversions return the given codes.  ``analog`` (a
    callable ``channel -> volts``), when given, is asked at each sampling
    instant instead, so a test can feed a trace frame by frame.
    """

    def __init__(self, inputs_v: Sequence[float] | None = None, *, vref_v: float = VREF_V,
                 seed: int | None = None, analog: Callable[[int], float] | None = None):
        self.vref_v = vref_v
        self.inputs_v = list(inputs_v) if inputs_v is not None else [vref_v / 2] * 8
        self.analog = analog
        self._rng = random.Random(seed)
        self.conversions = 0  #: conversions completed (null bit reached)
        self.windows = 0  #: CS-low windows seen
        self.cs_low = False

    # -- the analog side ---------------------------------------------------
    def set_codes(self, codes: Sequence[int]) -> None:
        """Set the inputs so single-ended CHn converts to ``codes[n]``."""
        lsb = self.vref_v / 1024
        self.inputs_v = [(c + 0.5) * lsb for c in codes] + [self.vref_v / 2] * (8 - len(codes))

    def _volts(self, ch: int) -> float:
        return self.analog(ch) if self.analog is not None else self.inputs_v[ch]

    def _convert(self, sgl: int, d: int) -> int:
        if sgl:
            v = self._volts(d)
        else:
            plus, minus = _DIFF_PAIRS[d]
            v = self._volts(plus) - self._volts(minus)
        code = int(v * 1024 / self.vref_v)
        return min(max(code, 0), 1023)

    # -- the serial side, one clock at a time --------------------------------
    def select(self) -> None:
        """CS falls: a new window, waiting for a start bit."""
        self.cs_low = True
        self.windows += 1
        self._state = "idle"
        self._config: list[int] = []
        self._out: list[int] = []

    def deselect(self) -> None:
        """CS rises."""
        self.cs_low = False

    def clock(self, mosi: int) -> int:
        """One SCLK period: take a MOSI bit, return the MISO bit."""
        state = self._state
        if state == "idle":
            if mosi:
                self._state = "config"
            return self._rng.getrandbits(1)
        if state == "config":
            self._config.append(mosi)
            if len(self._config) == 4:
                sgl, d2, d1, d0 = self._config
                code = self._convert(sgl, (d2 << 2) | (d1 << 1) | d0)
                msb_first = [(code >> b) & 1 for b in range(9, -1, -1)]
                lsb_first = [(code >> b) & 1 for b in range(1, 10)]
                self._out = [0] + msb_first + lsb_first  # null bit, B9..B0, B1..B9
                self._state = "sample"
            return self._rng.getrandbits(1)
        if state == "sample":
            self._state = "out"
            self.conversions += 1
            return self._rng.getrandbits(1)
        # "out": the null bit and data, then zeros until CS rises; the chip
        # does not look at DIN again in this window.
        return self._out.pop(0) if self._out else 0

    def shift_bytes(self, data: Sequence[int]) -> list[int]:
        """Whole bytes through :meth:`clock`, MSB first."""
        rx = []
        for byte in data:
            value = 0
            for bit in range(7, -1, -1):
                value = (value << 1) | self.clock((int(byte) >> bit) & 1)
            rx.append(value)
        return rx


class FakeSpidev:
    """The kernel and the spidev module in front of ``chip``: what a driver
    calls.  ``fail_transfers``: the next N transfers fail with EIO (a bus fault)."""

    def __init__(self, chip: MCP3008Chip):
        self.chip = chip
        self.mode = 0
        self.max_speed_hz = 500_000
        self.bits_per_word = 8
        self.fail_transfers = 0  #: the next N transfers raise OSError(EIO)
        self.closed = False

    def _select(self) -> None:
        if self.fail_transfers > 0:
            self.fail_transfers -= 1
            raise OSError(errno.EIO, "Remote I/O error (emulated SPI fault)")
        if self.closed:
            raise OSError(errno.EBADF, "SPI device closed")
        self.chip.select()

    # -- spidev's Python API ------------------------------------------------
    def xfer2(self, data: Sequence[int], speed_hz: int = 0, delay_usecs: int = 0,
              bits_per_word: int = 0) -> list[int]:
        """One CS-low window for the whole list, as spidev's ``xfer2``."""
        self._select()
        try:
            return self.chip.shift_bytes(data)
        finally:
            self.chip.deselect()

    def xfer(self, data: Sequence[int], speed_hz: int = 0, delay_usecs: int = 0,
             bits_per_word: int = 0) -> list[int]:
        """spidev's ``xfer``: CS released and reasserted between bytes."""
        out = []
        for byte in data:
            out.extend(self.xfer2([byte]))
        return out

    def fileno(self) -> int:
        """A stand-in descriptor for the ioctl path (see :meth:`ioctl`)."""
        return 1_000_000

    def close(self) -> None:
        self.closed = True

    # -- the kernel side of SPI_IOC_MESSAGE(N) ------------------------------
    def ioctl(self, fd: int, request: int, transfers) -> int:
        """Run an ``SPI_IOC_MESSAGE(N)`` as the spidev driver would.

        CS goes low at the start of the message.  After a transfer with
        ``cs_change`` set that is not the last, CS rises and falls again;
        after the last, CS rises unless ``cs_change`` is set (then it stays
        low into the next message, which the MCP3008 reads as one window).
        """
        n = len(transfers)
        if request != spi_ioc_message(n):
            raise OSError(errno.EINVAL, f"bad SPI_IOC_MESSAGE request {request:#x}")
        if not isinstance(transfers[0], SpiIocTransfer):
            raise OSError(errno.EFAULT, "not a spi_ioc_transfer array")
        chip = self.chip
        if not chip.cs_low:
            self._select()
        for i, t in enumerate(transfers):
            tx = ctypes.string_at(t.tx_buf, t.len) if t.tx_buf else bytes(t.len)
            rx = bytes(chip.shift_bytes(tx))
            if t.rx_buf:
                ctypes.memmove(t.rx_buf, rx, t.len)
            last = i == n - 1
            if t.cs_change and not last:
                chip.deselect()
                self._select()
            elif last and not t.cs_change:
                chip.deselect()
        return 0


class MCP3008Emulator(FakeSpidev):
    """An emulated chip behind a fake kernel, in one object: ``set_codes``,
    ``inputs_v``, ``analog``, ``conversions`` and ``windows`` are the chip's."""

    def __init__(self, inputs_v: Sequence[float] | None = None, *, vref_v: float = VREF_V,
                 seed: int | None = None, analog: Callable[[int], float] | None = None):
        super().__init__(MCP3008Chip(inputs_v, vref_v=vref_v, seed=seed, analog=analog))

    def set_codes(self, codes: Sequence[int]) -> None:
        self.chip.set_codes(codes)

    @property
    def inputs_v(self) -> list[float]:
        return self.chip.inputs_v

    @inputs_v.setter
    def inputs_v(self, volts: list[float]) -> None:
        self.chip.inputs_v = list(volts)

    @property
    def analog(self):
        return self.chip.analog

    @analog.setter
    def analog(self, fn) -> None:
        self.chip.analog = fn

    @property
    def vref_v(self) -> float:
        return self.chip.vref_v

    @property
    def conversions(self) -> int:
        return self.chip.conversions

    @property
    def windows(self) -> int:
        return self.chip.windows
