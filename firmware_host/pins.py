"""The one table of pins and sensor sites.

The sampler, the hardware script (``hardware/build.py``: schematic, layout,
BOM, guide), the wiring checks and the web page's Hardware and Settings pages all read this
module, so a pin moved here moves everywhere, and a test fails if a drawing
or a table disagrees with it.
"""
from __future__ import annotations

from dataclasses import dataclass

#: SPI bus and chip select the MCP3008 sits on (``/dev/spidev0.0``).
SPI_BUS = 0
SPI_DEVICE = 0
SPI_DEVICE_PATH = f"/dev/spidev{SPI_BUS}.{SPI_DEVICE}"

#: the GPIO character devices gpiozero may drive the LED and button through: a
#: Pi 5's header is on the RP1, gpiochip4 on kernels before 6.6.45 (gpiochip0
#: after); gpiomem for RPi.GPIO on older boards
GPIO_DEVICES = ("/dev/gpiochip0", "/dev/gpiochip4", "/dev/gpiomem")

#: SPI clock in Hz.  The MCP3008 datasheet (DS21295) guarantees 3.6 MHz at
#: VDD = 5 V and 1.35 MHz at VDD = 2.7 V.  We run it at 3.3 V, where a linear
#: reading of the two points would allow about 1.9 MHz; we keep to the
#: 2.7 V figure so that the part is inside its guaranteed range over supply
#: sag and temperature, and so that the 1.5-clock sampling window (1.1 us)
#: is long enough for the buffered source to charge the 20 pF sample
#: capacitor to within half an LSB.  24 clocks per conversion at 1.35 MHz is
#: 17.8 us, so 4 channels at 1 kHz use 7 % of the bus.
SPI_CLOCK_HZ = 1_350_000
SPI_MODE = 0

#: Raspberry Pi header, physical pin number -> (BCM name, what it carries).
PI_HEADER = {
    1: ("3V3", "3.3 V supply to VDD, the op-amp and the 2.5 V reference"),
    6: ("GND", "ground (AGND and DGND meet here)"),
    19: ("GPIO10", "SPI0 MOSI -> MCP3008 DIN (pin 11)"),
    21: ("GPIO9", "SPI0 MISO <- MCP3008 DOUT (pin 12)"),
    23: ("GPIO11", "SPI0 SCLK -> MCP3008 CLK (pin 13)"),
    24: ("GPIO8", "SPI0 CE0 -> MCP3008 CS/SHDN (pin 10)"),
    11: ("GPIO17", "status LED through 330 ohm"),
    13: ("GPIO27", "push button to GND (10 k pull-up, 1 uF debounce)"),
}

#: BCM numbers gpiozero uses.
LED_PIN = "GPIO17"
BUTTON_PIN = "GPIO27"

#: MCP3008 package pins (PDIP/SOIC-16), pin number -> name.
MCP3008_PINS = {
    1: "CH0", 2: "CH1", 3: "CH2", 4: "CH3", 5: "CH4", 6: "CH5", 7: "CH6", 8: "CH7",
    9: "DGND", 10: "CS/SHDN", 11: "DIN", 12: "DOUT", 13: "CLK", 14: "AGND",
    15: "VREF", 16: "VDD",
}

#: MCP3008 pin -> Pi header pin it is wired to (the SPI and supply wires;
#: VREF, pin 15, comes from the board's 2.5 V reference instead).
MCP3008_TO_PI = {10: 24, 11: 19, 12: 21, 13: 23, 16: 1, 9: 6, 14: 6}

#: ADC reference in volts: the board's LM4040 2.5 V shunt reference (not the
#: Pi's noisy 3.3 V rail); the op-amps' rest level is VREF/2 from it, so the
#: rest code is 512 whatever the reference's tolerance.
VREF_V = 2.5
ADC_BITS = 10
ADC_MAX_CODE = (1 << ADC_BITS) - 1
#: the MCP3008's single-ended inputs, CH0..CH7: at most this many sensor channels
ADC_INPUTS = 8


@dataclass(frozen=True)
class Site:
    """Where one sensor channel sits on the body."""

    channel: int  #: MCP3008 input CH0..CH7
    key: str  #: short machine name, e.g. ``left_calf``
    name: str  #: what a person reads
    leg: str  #: ``left`` or ``right``: crosstalk and leg movements stay on one leg
    placement: str  #: where to strap the piezo


#: Default sites for the four channels the daemon samples.
SITES: tuple[Site, ...] = (
    Site(0, "left_calf", "Left calf", "left",
         "Belly of the medial gastrocnemius, a hand's width below the back of the knee"),
    Site(1, "left_thigh", "Left thigh", "left",
         "Front of the thigh over rectus femoris, mid-way between hip and knee"),
    Site(2, "right_calf", "Right calf", "right",
         "Belly of the medial gastrocnemius, a hand's width below the back of the knee"),
    Site(3, "right_thigh", "Right thigh", "right",
         "Front of the thigh over rectus femoris, mid-way between hip and knee"),
)

#: the MCP3008 input of each recorded channel 0..n-1, in the table's order
DEFAULT_CHANNELS = tuple(s.channel for s in SITES)

#: how many sensor channels the daemon samples: one per site (the one place this count is typed)
N_CHANNELS = len(SITES)

#: the device nodes ``twitchmon.service`` may open (its ``DeviceAllow=``, which
#: hardware/build.py writes from here): the ADC's SPI device and the GPIO chips
DEVICES = (SPI_DEVICE_PATH, *GPIO_DEVICES)


def adc_inputs(n_channels: int) -> list[int]:
    """The MCP3008 input each recorded channel 0..n-1 is read from: the
    sites' own inputs, then the inputs no site uses, in order."""
    spare = [c for c in range(8) if c not in DEFAULT_CHANNELS]
    return (list(DEFAULT_CHANNELS) + spare)[:n_channels]


def _site_on(ch: int) -> Site | None:
    """The site recorded as channel ``ch`` (the table's order), or None past it."""
    return SITES[ch] if ch < len(SITES) else None


def site_names(n_channels: int) -> list[str]:
    """Human names for channels 0..n-1 (``Channel 5`` past the table)."""
    return [s.name if (s := _site_on(c)) else f"Channel {c}" for c in range(n_channels)]


def legs(n_channels: int) -> list[str]:
    """Leg of each channel 0..n-1; channels past the table get their own group."""
    return [s.leg if (s := _site_on(c)) else f"ch{c}" for c in range(n_channels)]


def wiring_rows() -> list[dict[str, str]]:
    """The wiring table: one row per wire from the Pi header to the board."""
    rows = []
    for mcp_pin, pi_pin in sorted(MCP3008_TO_PI.items()):
        bcm, what = PI_HEADER[pi_pin]
        rows.append({"from": f"Pi pin {pi_pin} ({bcm})",
                     "to": f"MCP3008 pin {mcp_pin} ({MCP3008_PINS[mcp_pin]})",
                     "signal": what})
    for pin in (11, 13):
        bcm, what = PI_HEADER[pin]
        rows.append({"from": f"Pi pin {pin} ({bcm})", "to": what.split(" ", 1)[1], "signal": what})
    for s in SITES:
        rows.append({"from": f"Piezo {s.name}",
                     "to": f"MCP3008 pin {s.channel + 1} (CH{s.channel}) via gain stage U2{'ABCD'[s.channel]}",
                     "signal": f"sensor channel {s.channel}"})
    return rows
