"""The one table of the sensor board's parts and how they connect.

Everything about the board is drawn from here: the schematic, the BOM, the
perfboard layout and the SPICE netlist (``hardware/build.py``), the ngspice
checks (``hardware/spice.py``) and the front-end model the simulator uses
(:mod:`firmware_host.frontend`).  Change a value here and all of them follow;
``tests/test_hardware.py`` fails if a committed drawing or netlist is stale or
if a value leaves its stated bound.

Per channel n (0..3), left to right::

    disc (brass = shield = GND, silver -> jack tip TIPn)
      -> RP         lead resistor (DC fault current and clamp current limit)
      -> INn        CIN to GND, 1N4148 clamps to 3V3 and GND, RB to the channel's
                    own bias BIASn (VREF/2 from RBT/RBB, CB)
      -> U2 section +in; gain 1 + RF/RG above 1/(2 pi RG CG), CF across RF
      -> OUTn -> RA1/CA1 -> RA2/CA2 -> MCP3008 CHn

Net names: GND, 3V3 (the Pi's pin 1), VREF (LM4040 2.5 V), and per channel
TIPn, INn, BIASn, FBn, Gn, OUTn, AAn, CHn.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from . import pins

#: Worst mains a fault can put on the board: 240 V + 10 %, at 60 Hz (the
#: higher frequency gives the larger capacitive current).
FAULT_MAINS_VRMS = 264.0
FAULT_MAINS_HZ = 60.0
#: IEC 60601-1 patient leakage limits we design to (body-contact part, type BF):
#: 100 uA AC, 10 uA DC.
PATIENT_LIMIT_A = 100e-6
PATIENT_LIMIT_DC_A = 10e-6
#: Supply the op-amp and the ADC's VDD run from (the Pi's 3.3 V pin).
SUPPLY_V = 3.3
#: MCP6004 output swing from each rail at light load (datasheet DS21733: 25 mV).
OPAMP_SWING_V = 0.025
#: MCP6004: gain-bandwidth 1 MHz, open-loop gain 112 dB, input capacitance
#: 6 pF, voltage noise 28 nV/rtHz at 1 kHz (DS21733).
OPAMP_GBW_HZ = 1.0e6
OPAMP_A0_DB = 112.0
OPAMP_CIN_F = 6e-12
OPAMP_EN_V_RTHZ = 28e-9
#: 1N4148 junction capacitance at the ~1-2 V reverse bias the clamps sit at
#: (4 pF max at 0 V, about 2 pF at 1-2 V).
CLAMP_CJ_F = 2e-12
#: Disc encapsulation: 2 layers of 50 um polyimide tape (er 3.4) + adhesive
#: heat-shrink of 0.5 mm wall (er 2.3) over the 27 mm brass face.
ENCAP_LAYERS = ((100e-6, 3.4), (500e-6, 2.3))
DISC_DIAMETER_M = 27e-3
#: gpiozero's bounce_time for the button, seconds: on top of the board's RC
#: debounce (RPU x CSW = 10 ms), it drops what bounce survives the RC.
BUTTON_BOUNCE_S = 0.05


@dataclass(frozen=True)
class Part:
    """One part, or one part per channel (``refs`` has 4 entries)."""

    role: str  #: short name the code uses (``RP``, ``CG``, ...)
    refs: tuple[str, ...]  #: reference designators; per-channel parts list one per channel
    kind: str  #: R C D PZ U J SW LED
    value: float | None  #: ohms / farads (None for ICs, connectors)
    text: str  #: value as printed on the schematic and in the BOM
    pins: tuple[str, ...]  #: net of each pin, in SPICE order; ``{n}`` = channel
    desc: str  #: what it is, for the BOM
    part_number: str  #: an orderable example
    tol: float = 0.0  #: relative tolerance (0.01 = 1 %)
    bound: tuple[float, float] | None = None  #: allowed value range, same unit as value
    why: str = ""  #: the reason for the bound (or for the value)
    pin_names: tuple[str, ...] = field(default=())  #: labels of the pins, where they matter

    @property
    def per_channel(self) -> bool:
        return len(self.refs) == len(pins.SITES) and any("{n}" in p for p in self.pins)

    def ref(self, n: int = 0) -> str:
        return self.refs[n] if self.per_channel else self.refs[0]

    def nets(self, n: int = 0) -> tuple[str, ...]:
        return tuple(p.format(n=n) for p in self.pins)


#: How far each channel part may stray from its nominal value (relative):
#: the ngspice check runs every part at both ends at once and the board
#: must still meet the issue's bounds (a pass band edge, 40 dB at 500 Hz).
#: Wider than the parts' tolerances (1 % resistors, 5-10 % capacitors), so a
#: builder may substitute a neighbouring value.
R_SPAN, C_SPAN, PZ_SPAN = 0.05, 0.15, 0.30


def _bound(nominal: float, span: float) -> tuple[float, float]:
    return nominal * (1 - span), nominal * (1 + span)


def _refs(prefix: str, first: int, count: int = len(pins.SITES)) -> tuple[str, ...]:
    return tuple(f"{prefix}{first + i}" for i in range(count))


#: Per-channel front end.  Values in ohms and farads.
CHANNEL_PARTS: tuple[Part, ...] = (
    Part("PZ", _refs("PZ", 1), "PZ", 20e-9, "20 nF", ("TIP{n}", "GND"),
         "piezo disc 27 mm (brass 27 mm, ceramic 20 mm) with leads", "Murata 7BB-27-4L0", 0.30,
         why="its capacitance with RP + RB sets the lowest corner", pin_names=("silver", "brass")),
    Part("RP", _refs("R", 1), "R", 3.3e6, "3.3 M", ("TIP{n}", "IN{n}"),
         "lead resistor, 1%", "Yageo MFR-25FBF52-3M3", 0.01,
         why="a board fault (5 V) pushes < 10 uA DC into a bare electrode; a 100 V knock < 30 uA into the clamps"),
    Part("CIN", _refs("C", 1), "C", 470e-12, "470 pF", ("IN{n}", "GND"),
         "input RF filter and first anti-alias pole, C0G", "KEMET C315C471J1G5TA", 0.05,
         why="with RP || RB a pole near 170 Hz"),
    Part("DH", _refs("D", 1), "D", None, "1N4148", ("IN{n}", "3V3"),
         "clamp diode to 3V3 (anode at INn)", "onsemi 1N4148", pin_names=("A", "K")),
    Part("DL", _refs("D", 5), "D", None, "1N4148", ("GND", "IN{n}"),
         "clamp diode to GND (cathode at INn)", "onsemi 1N4148", pin_names=("A", "K")),
    Part("RB", _refs("R", 5), "R", 4.7e6, "4.7 M", ("IN{n}", "BIAS{n}"),
         "input bias resistor, 1%", "Yageo MFR-25FBF52-4M7", 0.01,
         why="the largest MFR-25 value: the input divider RB / (RP + RB) is 0.59"),
    Part("RBT", _refs("R", 9), "R", 100e3, "100 k", ("VREF", "BIAS{n}"),
         "bias divider, 1%", "Yageo MFR-25FBF52-100K", 0.01,
         why="each channel its own bias: a knock on one cannot move the others"),
    Part("RBB", _refs("R", 13), "R", 100e3, "100 k", ("BIAS{n}", "GND"),
         "bias divider, 1%", "Yageo MFR-25FBF52-100K", 0.01,
         why="each channel its own bias: a knock on one cannot move the others"),
    Part("CB", _refs("C", 5), "C", 1e-6, "1 uF", ("BIAS{n}", "GND"),
         "bias reservoir, X7R", "KEMET C322C105K5R5TA", 0.10,
         why="holds BIASn while a knock pushes clamp current through RB"),
    Part("RF", _refs("R", 17), "R", 20e3, "20 k", ("OUT{n}", "FB{n}"),
         "gain feedback resistor, 1%", "Yageo MFR-25FBF52-20K", 0.01,
         why="gain 1 + RF/RG = 3 (1.7 V/V overall, 2.2 codes per first-board code), by the headroom rule"
             " in frontend.py: a 130-code heartbeat with an 80-code twitch on its crest (680 mV at the disc)"
             " stays 5% inside the ADC's swing, and the ADC's quantisation noise under a third of the"
             " quietest sensor noise; gain 17 clipped every beat of a strong heartbeat"),
    Part("CF", _refs("C", 9), "C", 47e-9, "47 nF", ("OUT{n}", "FB{n}"),
         "anti-alias shelf (across RF), X7R", "KEMET C320C473K5R5TA", 0.10,
         why="pole at 170 Hz, zero at 510 Hz: at gain 3 the stage can fall only 9.5 dB toward 1, so CF"
             " sits where that shelf is nearly whole at 500 Hz yet the 44 Hz edge holds at the bound corners"),
    Part("RG", _refs("R", 21), "R", 10e3, "10 k", ("FB{n}", "G{n}"),
         "gain resistor, 1%", "Yageo MFR-25FBF52-10K", 0.01,
         why="with RF the stage gain (RF's reason), with CG the 1.6 Hz corner"),
    Part("CG", _refs("C", 13), "C", 10e-6, "10 uF", ("G{n}", "GND"),
         "gain-stage AC coupling (DC gain 1 keeps OUT at the bias), X7R", "KEMET C330C106K5R5TA", 0.10,
         why="with RG a 1.6 Hz corner"),
    Part("RA1", _refs("R", 25), "R", 1e3, "1 k", ("OUT{n}", "AA{n}"),
         "anti-alias ladder, 1%", "Yageo MFR-25FBF52-1K", 0.01,
         why="with CA1, RA2, CA2 two more poles (about 51 and 146 Hz): at gain 3 the stage's shelf"
             " gives less than at 17, so the ladder's second pole came down from 420 Hz to 146 Hz"),
    Part("CA1", _refs("C", 17), "C", 2.2e-6, "2.2 uF", ("AA{n}", "GND"),
         "anti-alias ladder, X7R", "KEMET C322C225K5R5TA", 0.10,
         why="with RA1, RA2, CA2 two more poles (about 51 and 146 Hz)"),
    Part("RA2", _refs("R", 29), "R", 3.3e3, "3.3 k", ("AA{n}", "CH{n}"),
         "anti-alias ladder, 1%", "Yageo MFR-25FBF52-3K3", 0.01,
         why="with RA1, CA1, CA2 two more poles (about 51 and 146 Hz)"),
    Part("CA2", _refs("C", 21), "C", 0.47e-6, "470 nF", ("CH{n}", "GND"),
         "anti-alias ladder and ADC charge reservoir, X7R", "KEMET C320C474K5R5TA", 0.10,
         why="also feeds the ADC's 20 pF sample capacitor (4e-5 of an LSB step)"),
    Part("J", _refs("J", 2), "J", None, "3.5 mm", ("TIP{n}", "NC", "GND"),
         "3.5 mm stereo jack, PCB, per disc (ring not connected)", "CUI Devices SJ1-3523N",
         pin_names=("T", "R", "S")),
)

#: Every valued channel part gets its bound from the spans above.
CHANNEL_PARTS = tuple(
    dataclasses.replace(p, bound=_bound(p.value, {"R": R_SPAN, "C": C_SPAN, "PZ": PZ_SPAN}[p.kind]))
    if p.value is not None else p for p in CHANNEL_PARTS)

#: Op-amp sections: channel -> (+in, -in, out) pins of the MCP6004 (DS21733, PDIP-14).
OPAMP_SECTIONS = {0: ("A", 3, 2, 1), 1: ("B", 5, 6, 7), 2: ("C", 10, 9, 8), 3: ("D", 12, 13, 14)}
OPAMP_SUPPLY_PINS = {4: "VDD", 11: "VSS"}

#: Shared parts.
SHARED_PARTS: tuple[Part, ...] = (
    Part("U1", ("U1",), "U", None, "MCP3008", (), "10-bit 8-channel ADC, SPI, PDIP-16",
         "Microchip MCP3008-I/P"),
    Part("U2", ("U2",), "U", None, "MCP6004", (), "quad rail-to-rail op-amp 1 MHz, PDIP-14",
         "Microchip MCP6004-I/P"),
    Part("U3", ("U3",), "U", None, f"LM4040 {pins.VREF_V:g} V", ("VREF", "GND"),
         f"{pins.VREF_V:g} V shunt reference, 1%, TO-92 (ADC VREF and the bias)",
         "Texas Instruments LM4040DIZ-2.5/NOPB",
         pin_names=("K", "A")),
    Part("RREF", ("R33",), "R", 1.5e3, "1.5 k", ("3V3", "VREF"),
         "LM4040 feed resistor, 1%", "Yageo MFR-25FBF52-1K5", 0.01, (1.0e3, 1.8e3),
         "at 3.14 V keeps the LM4040 above 60 uA with the ADC and 4 dividers; under 15 mA at 3.47 V"),
    Part("CREF", ("C25",), "C", 10e-6, "10 uF", ("VREF", "GND"), "VREF reservoir, X7R",
         "KEMET C330C106K5R5TA", 0.10),
    Part("CDREF", ("C26",), "C", 100e-9, "100 nF", ("VREF", "GND"), "decoupling at U1 pin 15 (VREF), X7R",
         "KEMET C320C104K5R5TA", 0.10),
    Part("CDADC", ("C27",), "C", 100e-9, "100 nF", ("3V3", "GND"), "decoupling at U1 pin 16 (VDD), X7R",
         "KEMET C320C104K5R5TA", 0.10),
    Part("CDOP", ("C28",), "C", 100e-9, "100 nF", ("3V3", "GND"), "decoupling at U2 pin 4 (VDD), X7R",
         "KEMET C320C104K5R5TA", 0.10),
    Part("CBULK", ("C29",), "C", 10e-6, "10 uF", ("3V3", "GND"), "3V3 bulk at J1, X7R",
         "KEMET C330C106K5R5TA", 0.10),
    Part("RLED", ("R34",), "R", 330.0, "330", ("LED", "LEDA"), "LED resistor, 1%",
         "Yageo MFR-25FBF52-330R", 0.01),
    Part("LED", ("D9",), "LED", None, "green", ("LEDA", "GND"), "status LED, 3 mm green",
         "Kingbright WP710A10SGD", pin_names=("A", "K")),
    Part("RPU", ("R35",), "R", 10e3, "10 k", ("3V3", "BTN"), "button pull-up, 1%",
         "Yageo MFR-25FBF52-10K", 0.01),
    Part("RSW", ("R36",), "R", 1e3, "1 k", ("BTN", "SWA"), "button series resistor (limits the cap's discharge), 1%",
         "Yageo MFR-25FBF52-1K", 0.01),
    Part("CSW", ("C30",), "C", 1e-6, "1 uF", ("BTN", "GND"), "button debounce, X7R",
         "KEMET C322C105K5R5TA", 0.10, (0.47e-6, 2.2e-6),
         "release rises in 10 ms (RPU CSW), press falls in 1 ms; bounces shorter than that vanish"),
    Part("SW", ("SW1",), "SW", None, "button", ("SWA", "GND"), "push button, 6 mm tactile",
         "Omron B3F-1000"),
    Part("J1", ("J1",), "J", None, "2x20", (), "2x20 shrouded box header, 2.54 mm (ribbon to the Pi)",
         "any 2x20 2.54 mm box header"),
)

#: Off-board parts of the build (no nets): (references, part, value, quantity, example part number).
OFF_BOARD = (
    ("P1-P4", "3.5 mm plug, metal shell, per disc (tip = silver, sleeve = brass + shield)", "3.5 mm TRS",
     len(pins.SITES), "any metal 3.5 mm stereo plug for 5 mm cable"),
    ("W1", "shielded pair cable, 22 AWG, in metres: 1.5 m per disc (white = silver, black + shield = brass)",
     "Belden 8451", len(pins.SITES) * 1.5, "Belden 8451 060100"),
    ("K1", "polyimide (Kapton) tape 50 um, 2 layers over each whole disc", "25 mm x 33 m", 1,
     "3M 5413 (25 mm)"),
    ("K2", "adhesive-lined heat-shrink 3:1, 40 mm, sealed over the taped disc and cable end", "40 mm", 1,
     "TE Raychem ATUM-40/13 (or any 3:1 adhesive-lined)"),
    ("S1-S4", "elastic hook-and-loop strap 50 mm x 60 cm, one per disc", "strap", len(pins.SITES),
     "any 50 mm hook-and-loop strap"),
    ("B1", "stripboard 100 x 160 mm, 2.54 mm pitch (the layout uses it as perfboard)", "Eurocard", 1,
     "any 100 x 160 mm stripboard"),
    ("X1", "IC socket DIP-16, turned pin", "DIP-16", 1, "Mill-Max 110-43-316-41-001000"),
    ("X2", "IC socket DIP-14, turned pin", "DIP-14", 1, "Mill-Max 110-43-314-41-001000"),
    ("E1", "ABS enclosure about 150 x 80 x 50 mm, drilled for 4 jacks, LED and button", "box", 1,
     "Hammond 1591 series (e.g. 1591XXDBK)"),
    ("W4", "40-way IDC ribbon cable, 2 female connectors, 15 cm: J1 to the Pi's header, pin 1 to pin 1",
     "40-way", 1, "any 40-pin GPIO ribbon cable"),
    ("W3", "USB-C cable, 0.5 m, 3 A, power bank to the Pi", "USB-C", 1, "any USB-C 3 A cable"),
    ("M1", "M2.5 nylon standoffs and screws, 11 mm, for the Pi", "M2.5", 4, "any M2.5 x 11 mm nylon set"),
    ("W2", "hook-up wire 24 AWG solid, assorted colours", "24 AWG", 1, "any 24 AWG solid hook-up wire"),
    ("PS1", "power bank, 5 V 3 A USB-C output, >= 20000 mAh (a night of a Pi 4 is about 15 Wh);"
            " NOT charging while the discs are on", "5 V 3 A", 1, "any 5 V 3 A USB-C power bank, 20000 mAh"),
    ("PS2", "(optional, instead of PS1) medical 5 V 3 A adapter, IEC 60601-1 2 MOPP, class II,"
            " leakage <= 100 uA", "5 V 3 A", 1, "a 5 V USB-C medical adapter certified to IEC 60601-1 (2 MOPP)"),
)

PARTS: tuple[Part, ...] = CHANNEL_PARTS + SHARED_PARTS


def part(role: str) -> Part:
    """The part of ``role`` (``RP``, ``CF``, ...)."""
    for p in PARTS:
        if p.role == role:
            return p
    raise KeyError(role)


def value(role: str) -> float:
    """Nominal value of ``role`` in ohms or farads."""
    v = part(role).value
    if v is None:
        raise KeyError(f"{role} has no value")
    return v


def vref_v() -> float:
    """ADC reference (the LM4040's voltage), volts."""
    return pins.VREF_V


def bias_v() -> float:
    """Each channel's rest level, volts (VREF x RBB / (RBT + RBB)): mid-scale."""
    return vref_v() * value("RBB") / (value("RBT") + value("RBB"))


def encapsulation_f() -> float:
    """Capacitance from one disc's brass face through its insulation to the skin, farads."""
    eps0 = 8.854e-12
    area = 3.14159265 * (DISC_DIAMETER_M / 2) ** 2
    return eps0 * area / sum(t / er for t, er in ENCAP_LAYERS)


def patient_current_calc() -> float:
    """Hand calculation of the supply-fault patient current, amperes RMS.

    The supply's insulation fails and the board sits at 264 V / 60 Hz
    against an earthed patient; the only path is through the four discs'
    insulation: I = V x 2 pi f x 4 C_encapsulation.
    """
    w = 2 * 3.14159265 * FAULT_MAINS_HZ
    return FAULT_MAINS_VRMS * w * encapsulation_f() * len(pins.SITES)


def bound_violations(values: dict[str, float] | None = None) -> list[str]:
    """Parts whose value (the table's, or ``values`` by role) lies outside its stated bound."""
    bad = []
    for p in PARTS:
        v = (values or {}).get(p.role, p.value)
        if p.bound is not None and not p.bound[0] <= v <= p.bound[1]:
            bad.append(f"{p.role} ({p.refs[0]}...) = {v:g} outside {p.bound[0]:g}..{p.bound[1]:g}: {p.why}")
    return bad


def all_refs() -> list[str]:
    return [r for p in PARTS for r in p.refs]


def ic_pin_nets() -> dict[str, dict[str, str]]:
    """Net of every pin of the ICs, the Pi header and the button: ref -> {pin: net}.

    The MCP3008 side follows :data:`pins.MCP3008_TO_PI`; SPI nets are named
    by the Pi's signal (``GPIO10`` ...).  Unused ADC inputs go to GND.
    """
    gpio_net = {pi_pin: bcm for pi_pin, (bcm, _) in pins.PI_HEADER.items()}
    gpio_net[1], gpio_net[6] = "3V3", "GND"
    gpio_net[next(p for p, (b, _) in pins.PI_HEADER.items() if b == pins.LED_PIN)] = "LED"
    gpio_net[next(p for p, (b, _) in pins.PI_HEADER.items() if b == pins.BUTTON_PIN)] = "BTN"
    u1 = {}
    for p in range(1, 17):
        if p <= 8:
            u1[str(p)] = f"CH{p - 1}" if p - 1 < len(pins.SITES) else "GND"
        elif p == 15:
            u1[str(p)] = "VREF"
        else:
            u1[str(p)] = gpio_net[pins.MCP3008_TO_PI[p]]
    u2 = {str(k): ("3V3" if v == "VDD" else "GND") for k, v in OPAMP_SUPPLY_PINS.items()}
    for n, (_, plus, minus, out) in OPAMP_SECTIONS.items():
        u2.update({str(plus): f"IN{n}", str(minus): f"FB{n}", str(out): f"OUT{n}"})
    j1 = {str(p): gpio_net.get(p, "NC") for p in range(1, 41)}
    return {"U1": u1, "U2": u2, "J1": j1, "U3": {"K": "VREF", "A": "GND", "nc": "NC"},
            "SW1": {"1": "SWA", "2": "SWA", "3": "GND", "4": "GND"}}
