"""The MCP3008 10-bit ADC as a device: a few lines over a transport.

Example::

    from firmware_host.adc import MCP3008, open_spidev
    adc = MCP3008(open_spidev())  # /dev/spidev0.0
    adc.read(0)                   # 0..1023 codes from CH0
    adc.read_many([0, 1, 2, 3])   # one frame, CS rising between conversions
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from .. import pins
from .protocol import ADCError, command_bytes, decode_all
from .transports import IoctlTransport, choose


class MCP3008:
    """An MCP3008 on an SPI device.

    ``spi`` is an opened ``spidev.SpiDev`` or anything with the same
    ``xfer2`` (the emulator in :mod:`.emulator`).  The driver sets SPI mode 0
    and ``speed_hz`` where the object has those attributes.  The transport
    (:func:`.transports.choose`) is one ioctl a frame on a real spidev
    device, else one ``xfer2`` per conversion (also with ``batch=False``).
    ``ioctl`` stands in for the kernel (``fcntl.ioctl`` by default); tests
    pass the fake kernel's, so the ioctl path runs against the emulated chip.
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
        self.transport = choose(spi, self.speed_hz, batch=batch, ioctl=ioctl)
        self._commands: dict[tuple, list[list[int]]] = {}

    @property
    def batch(self) -> bool:
        """True when a frame is one ioctl."""
        return isinstance(self.transport, IoctlTransport)

    def read(self, channel: int, differential: bool | None = None) -> int:
        """One conversion of ``channel``: a code 0..1023 (codes, not volts)."""
        return self.read_many([channel], differential)[0]

    def read_many(self, channels: Sequence[int], differential: bool | None = None) -> list[int]:
        """One conversion per channel, CS rising between each: codes 0..1023."""
        diff = self.differential if differential is None else differential
        key = (tuple(channels), diff)
        cmds = self._commands.get(key)
        if cmds is None:
            cmds = self._commands[key] = [command_bytes(c, diff) for c in channels]
        return decode_all(self.transport.frame(cmds), len(cmds))

    def volts(self, code: int) -> float:
        """Volts at the input for a single-ended ``code`` (VREF = ``pins.VREF_V``)."""
        return code * pins.VREF_V / (pins.ADC_MAX_CODE + 1)

    def close(self) -> None:
        close = getattr(self.spi, "close", None)
        if close is not None:
            close()
