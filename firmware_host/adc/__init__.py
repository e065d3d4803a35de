"""The MCP3008 ADC: the protocol, the transports, the device and its emulator.

Rooms, in gpiozero's habit (devices apart from pin factories and mock pins):
:mod:`.protocol` (command bytes, decoding, errors), :mod:`.spidev_abi` (the
kernel's ioctl structs), :mod:`.transports` (``xfer2`` and ``ioctl``, each
with one ``frame(commands) -> replies``, and :func:`choose`, which alone
picks one), :mod:`.mcp3008` (the device: a few lines over a transport) and
:mod:`.emulator` (the chip, bit by bit, and a separate fake kernel).
"""
from __future__ import annotations

from ..errors import TwitchmonError
from .mcp3008 import MCP3008
from .protocol import ADCError, ChannelError, command_bytes, decode, decode_all
from .spidev_abi import SpiIocTransfer, spi_ioc_message
from .transports import IoctlTransport, Xfer2Transport, choose, open_spidev

__all__ = ["MCP3008", "ADCError", "ChannelError", "IoctlTransport", "SpiIocTransfer", "TwitchmonError",
           "Xfer2Transport", "choose", "command_bytes", "decode", "decode_all", "open_spidev", "spi_ioc_message"]
