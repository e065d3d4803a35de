"""The MCP3008's side of a conversion: which bytes start one, how its answer
decodes, and the errors a driver raises.  Pure functions, no transport.

Datasheet: Microchip DS21295, "2.7V 4-Channel/8-Channel 10-Bit A/D
Converters with SPI Serial Interface".  A conversion is one CS-low window:
the host clocks in a start bit, SGL/DIFF and D2..D0; the chip samples for
1.5 clocks, sends a null bit, then B9..B0.  We align it in 3 bytes::

    MOSI  0000 0001 | S D2 D1 D0 xxxx | xxxx xxxx
    MISO  ???? ???? | ???? ? 0 B9 B8  | B7 .. B0

CS must rise between conversions: the chip ignores a second start bit in the
same CS-low window.
"""
from __future__ import annotations

from collections.abc import Sequence

from ..errors import TwitchmonError

BYTES_PER_CONVERSION = 3


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


def channel_of(command: Sequence[int]) -> int:
    """The channel (or differential code) a command's bytes ask for."""
    return (command[1] >> 4) & 0x07


def decode_all(rx: Sequence[int], n: int) -> list[int]:
    """Codes 0..1023 from the MISO bytes of ``n`` conversions, 3 bytes each.

    Only the two low bits of each second byte are data; the bits before the
    null bit are undefined on the wire, so they are masked off here (the one
    place a reply is decoded)."""
    return [((rx[3 * i + 1] & 0x03) << 8) | (rx[3 * i + 2] & 0xFF) for i in range(n)]


def decode(rx: Sequence[int]) -> int:
    """Code 0..1023 from the 3 MISO bytes of one conversion."""
    return decode_all(rx, 1)[0]
