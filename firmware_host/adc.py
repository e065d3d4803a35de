"""MCP3008 10-bit ADC over SPI: the protocol in one small module.

Datasheet: Microchip DS21295, "2.7V 4-Channel/8-Channel 10-Bit A/D
Converters with SPI Serial Interface".  A conversion is one CS-low window:
the host clocks in a start bit, SGL/DIFF and D2..D0; the chip samples for
1.5 clocks, sends a null bit, then B9..B0.  We align it in 3 bytes::

    MOSI  0000 0001 | S D2 D1 D0 xxxx | xxxx xxxx
    MISO  ???? ???? | ???? ? 0 B9 B8  | B7 .. B0

CS must rise between conversions: the chip ignores a second start bit in the
same CS-low window.  So we never put two conversions in one ``xfer2`` (which
keeps CS low for its whole list).  On a real ``/dev/spidev`` we convert a
whole frame in one ``SPI_IOC_MESSAGE(N)`` ioctl, one transfer per conversion
with ``cs_change`` set on all but the last, so CS rises between them inside
one system call.  gpiozero's own ``MCP3008`` class is not used for sampling:
it runs SPI at a fixed 500 kHz and reaches about 1.3 k reads/s on a Pi 3B+.

Example::

    import spidev
    from firmware_host.adc import MCP3008
    spi = spidev.SpiDev(); spi.open(0, 0)
    adc = MCP3008(spi)
    adc.read(0)                 # 0..1023 codes from CH0
    adc.read_many([0, 1, 2, 3]) # one frame
"""
from __future__ import annotations

import ctypes
import fcntl
import os
from collections.abc import Callable, Sequence

from . import pins
from .errors import TwitchmonError


class ADCError(TwitchmonError, OSError):
    """The ADC could not be read (SPI transfer failed, device missing)."""


class ChannelError(TwitchmonError, ValueError):
    """A channel number the MCP3008 does not have."""


def command_bytes(channel: int, differential: bool = False) -> list[int]:
    """The 3 MOSI bytes that start one conversion of ``channel``.

    Single-ended: ``channel`` 0..7 is CHn against AGND.  Differential:
    ``channel`` 0..7 is the D2..D0 code of the datasheet's table 5-2
    (0: CH0+ CH1-, 1: CH0- CH1+, 2: CH2+ CH3-, ... 7: CH6- CH7+).
    """
    if not isinstance(channel, int) or not 0 <= channel <= 7:
        raise ChannelError(f"MCP3008 channel must be 0..7, not {channel!r}")
    sgl = 0 if differential else 1
    return [0x01, (sgl << 7) | (channel << 4), 0x00]


def decode(rx: Sequence[int]) -> int:
    """Code 0..1023 from the 3 MISO bytes of one conversion.

    Only the two low bits of the second byte are data; the bits before the
    null bit are undefined on the wire, so they are masked off here.
    """
    return ((rx[1] & 0x03) << 8) | (rx[2] & 0xFF)


# -- the Linux spidev ioctl ABI (include/uapi/linux/spi/spidev.h) ----------

class SpiIocTransfer(ctypes.Structure):
    """``struct spi_ioc_transfer``: 32 bytes, one transfer of a message."""

    _fields_ = [
        ("tx_buf", ctypes.c_uint64),
        ("rx_buf", ctypes.c_uint64),
        ("len", ctypes.c_uint32),
        ("speed_hz", ctypes.c_uint32),
        ("delay_usecs", ctypes.c_uint16),
        ("bits_per_word", ctypes.c_uint8),
        ("cs_change", ctypes.c_uint8),
        ("tx_nbits", ctypes.c_uint8),
        ("rx_nbits", ctypes.c_uint8),
        ("word_delay_usecs", ctypes.c_uint8),
        ("pad", ctypes.c_uint8),
    ]


assert ctypes.sizeof(SpiIocTransfer) == 32

_IOC_WRITE = 1
SPI_IOC_MAGIC = ord("k")


def spi_ioc_message(n: int) -> int:
    """The ioctl request number ``SPI_IOC_MESSAGE(n)``."""
    size = n * ctypes.sizeof(SpiIocTransfer)
    if size >= 1 << 14:
        raise ValueError(f"{n} transfers do not fit one SPI message")
    return (_IOC_WRITE << 30) | (size << 16) | (SPI_IOC_MAGIC << 8) | 0


class _FrameMessage:
    """A prebuilt SPI_IOC_MESSAGE for one frame of conversions.

    The tx and rx buffers and the transfer array are allocated once, so a
    frame costs one ioctl and no Python allocation beyond the result list.
    """

    def __init__(self, commands: list[list[int]], speed_hz: int):
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

    def codes(self) -> list[int]:
        rx = self.rx
        return [((rx[3 * i + 1] & 0x03) << 8) | rx[3 * i + 2] for i in range(self.n)]


class MCP3008:
    """An MCP3008 on an SPI device.

    ``spi`` is an opened ``spidev.SpiDev`` or anything with the same
    ``xfer2`` (the emulator in :mod:`firmware_host.mcp3008_emulator`).  The
    driver sets SPI mode 0 and ``speed_hz`` where the object has those
    attributes.  When ``spi.fileno()`` names a real spidev character device,
    :meth:`read_many` converts the whole frame in one ioctl; otherwise, or
    when ``batch=False``, it does one ``xfer2`` per conversion.

    ``ioctl`` is the function used for the message (``fcntl.ioctl`` by
    default); tests pass the emulator's implementation of the kernel side so
    that the ioctl path runs for real against the emulated chip.
    """

    def __init__(self, spi, speed_hz: int = pins.SPI_CLOCK_HZ, *, batch: bool | None = None,
                 ioctl: Callable | None = None, differential: bool = False):
        self.spi = spi
        self.speed_hz = int(speed_hz)
        self.differential = differential
        for attr, value in (("mode", pins.SPI_MODE), ("max_speed_hz", self.speed_hz),
                            ("bits_per_word", 8)):
            if hasattr(spi, attr):
                try:
                    setattr(spi, attr, value)
                except (OSError, TypeError) as exc:  # some fakes are read-only
                    raise ADCError(f"cannot set SPI {attr}={value}: {exc}") from exc
        self._ioctl = ioctl
        self._fd = None
        if batch is not False:
            self._fd = self._spidev_fd(spi) if ioctl is None else spi.fileno()
            if self._fd is not None and ioctl is None:
                self._ioctl = fcntl.ioctl
        self.batch = self._fd is not None and self._ioctl is not None
        self._messages: dict[tuple, _FrameMessage] = {}

    @staticmethod
    def _spidev_fd(spi) -> int | None:
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

    def read(self, channel: int, differential: bool | None = None) -> int:
        """One conversion of ``channel``: a code 0..1023 (codes, not volts)."""
        diff = self.differential if differential is None else differential
        tx = command_bytes(channel, diff)
        try:
            rx = self.spi.xfer2(tx, self.speed_hz)
        except OSError as exc:
            raise ADCError(f"SPI transfer for CH{channel} failed: {exc}") from exc
        if rx is None or len(rx) != 3:
            raise ADCError(f"SPI transfer for CH{channel} returned {rx!r}")
        return decode(rx)

    def read_many(self, channels: Sequence[int], differential: bool | None = None) -> list[int]:
        """One conversion per channel, CS rising between each: codes 0..1023."""
        diff = self.differential if differential is None else differential
        if not self.batch:
            return [self.read(c, diff) for c in channels]
        key = (tuple(channels), diff)
        msg = self._messages.get(key)
        if msg is None:
            msg = self._messages[key] = _FrameMessage(
                [command_bytes(c, diff) for c in channels], self.speed_hz)
        try:
            self._ioctl(self._fd, msg.request, msg.transfers)
        except OSError as exc:
            raise ADCError(f"SPI message for channels {list(channels)} failed: {exc}") from exc
        return msg.codes()

    def volts(self, code: int) -> float:
        """Volts at the input for a single-ended ``code`` (VREF = ``pins.VREF_V``)."""
        return code * pins.VREF_V / (pins.ADC_MAX_CODE + 1)

    def close(self) -> None:
        close = getattr(self.spi, "close", None)
        if close is not None:
            close()


def open_spidev(bus: int = pins.SPI_BUS, device: int = pins.SPI_DEVICE):
    """Open ``/dev/spidev<bus>.<device>`` with spidev, or raise ADCError."""
    try:
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
