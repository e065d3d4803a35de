"""How the conversions of one frame reach the chip: each transport has one
``frame(commands) -> replies`` (3 MOSI bytes per conversion in, 3 MISO
bytes per conversion out, CS rising between conversions), and
:func:`choose` alone decides which one a device gets (gpiozero's
``PiFactory.spi`` habit: no driver ever branches on it).

* :class:`Xfer2Transport`: spidev's ``xfer2``, one call (one CS-low window)
  per conversion.  Works with anything that has ``xfer2``.
* :class:`IoctlTransport`: the whole frame in one ``SPI_IOC_MESSAGE(N)``
  ioctl on a real ``/dev/spidev``, one transfer per conversion with
  ``cs_change`` set on all but the last, so CS rises between them inside one
  system call (gpiozero's own MCP3008 class runs SPI at a fixed 500 kHz and
  reaches about 1.3 k reads/s on a Pi 3B+).
"""
from __future__ import annotations

import ctypes
import fcntl
import os
from collections.abc import Callable, Sequence

from .. import pins
from .protocol import BYTES_PER_CONVERSION, ADCError, channel_of
from .spidev_abi import SpiIocTransfer, spi_ioc_message


class Xfer2Transport:
    """One ``spi.xfer2`` per conversion."""

    def __init__(self, spi, speed_hz: int):
        self.spi, self.speed_hz = spi, speed_hz

    def frame(self, commands: Sequence[Sequence[int]]) -> list[int]:
        out: list[int] = []
        for cmd in commands:
            try:
                rx = self.spi.xfer2(list(cmd), self.speed_hz)
            except OSError as exc:
                raise ADCError(f"SPI transfer for CH{channel_of(cmd)} failed: {exc}") from exc
            if rx is None or len(rx) != BYTES_PER_CONVERSION:
                raise ADCError(f"SPI transfer for CH{channel_of(cmd)} returned {rx!r}")
            out += rx
        return out


class FrameMessage:
    """A prebuilt SPI_IOC_MESSAGE for one frame of conversions: the tx and rx
    buffers and the transfer array are allocated once, so a frame costs one
    ioctl and no Python allocation beyond the replies."""

    def __init__(self, commands: Sequence[Sequence[int]], speed_hz: int):
        n = len(commands)
        self.tx = (ctypes.c_uint8 * (3 * n))(*[b for c in commands for b in c])
        self.rx = (ctypes.c_uint8 * (3 * n))()
        self.transfers = (SpiIocTransfer * n)()
        base_tx = ctypes.addressof(self.tx)
        base_rx = ctypes.addressof(self.rx)
        for i, t in enumerate(self.transfers):
            t.tx_buf = base_tx + 3 * i
            t.rx_buf = base_rx + 3 * i
            t.len = 3
            t.speed_hz = speed_hz
            t.bits_per_word = 8
            # cs_change on a transfer that is not the last raises CS after it.
            # On the last one it would mean "leave CS low after the message",
            # which would merge this frame's last conversion with the next
            # frame's first, so it stays 0 there.
            t.cs_change = 1 if i < n - 1 else 0
        self.request = spi_ioc_message(n)
        self.n = n


class IoctlTransport:
    """The frame in one ``SPI_IOC_MESSAGE(N)``.  ``ioctl`` is ``fcntl.ioctl``
    on a Pi; tests pass the fake kernel's (:mod:`.emulator`), so this path
    runs for real against the emulated chip."""

    def __init__(self, fd: int, ioctl: Callable, speed_hz: int):
        self.fd, self.ioctl, self.speed_hz = fd, ioctl, speed_hz
        self.messages: dict[tuple, FrameMessage] = {}  #: one prebuilt message per frame's commands
        self._last: tuple | None = None

    def frame(self, commands: Sequence[Sequence[int]]):
        # a device passes the same commands list for each frame of the same
        # channels: found by identity, the message is not rebuilt (nor hashed)
        cached = self._last
        if cached is not None and cached[0] is commands:
            msg = cached[1]
        else:
            key = tuple(tuple(c) for c in commands)
            msg = self.messages.get(key)
            if msg is None:
                msg = self.messages[key] = FrameMessage(commands, self.speed_hz)
            self._last = (commands, msg)
        try:
            self.ioctl(self.fd, msg.request, msg.transfers)
        except OSError as exc:
            chans = [channel_of(c) for c in commands]
            raise ADCError(f"SPI message for channels {chans} failed: {exc}") from exc
        return msg.rx


def spidev_fd(spi) -> int | None:
    """The file descriptor of a real spidev device, else None."""
    try:
        fd = spi.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    if not isinstance(fd, int) or fd < 0:
        return None
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None
    return fd if target.startswith("/dev/spidev") else None


def choose(spi, speed_hz: int, *, batch: bool | None = None, ioctl: Callable | None = None):
    """The transport for ``spi``: one ioctl a frame when ``spi`` is a real
    spidev device (or ``ioctl`` stands in for the kernel), unless
    ``batch=False``; else ``xfer2`` per conversion."""
    if batch is not False:
        fd = spidev_fd(spi) if ioctl is None else spi.fileno()
        if fd is not None:
            return IoctlTransport(fd, ioctl or fcntl.ioctl, speed_hz)
    return Xfer2Transport(spi, speed_hz)


def open_spidev(bus: int = pins.SPI_BUS, device: int = pins.SPI_DEVICE):
    """Open ``/dev/spidev<bus>.<device>`` with spidev, or raise ADCError."""
    try:
        # spidev is an optional dependency: it exists on Linux only (pyproject's marker)
        import spidev  # noqa: PLC0415 - only on Linux, only for real hardware
    except ImportError as exc:
        raise ADCError("spidev is not installed (it exists on Linux only)") from exc
    spi = spidev.SpiDev()
    try:
        spi.open(bus, device)
    except (OSError, FileNotFoundError) as exc:
        raise ADCError(f"cannot open /dev/spidev{bus}.{device}: {exc} "
                       "(is SPI enabled? raspi-config nonint do_spi 0)") from exc
    return spi
