"""The sensor board's analog front end as a model, from the part table.

What a disc's voltage becomes on its way to the MCP3008, computed from the
same values (:mod:`firmware_host.board`) that draw the schematic and write
the SPICE netlist; ``tests/test_hardware.py`` checks this model against
ngspice's AC analysis of that netlist.

Units: the input is the disc's open-circuit voltage in volts (what the
ceramic makes, before its own 20 nF source capacitance); the linear response
maps it to volts at the ADC pin *relative to the channel's rest level*
(mid-scale); :func:`to_codes` adds the rest level, clips at the op-amp's rails
and quantises like the MCP3008 (code = floor(1024 V / VREF), 0..1023).

Stages, each an exact rational function of s from the part values (ideal
op-amp, each bias node an AC ground; ngspice, which models both, differs
by < 0.1 dB and < 0.35 degrees from 0.1 Hz to 2 kHz):

1. input: disc capacitance in series with the lead resistor RP, into RB
   (to the AC-grounded bias) parallel with CIN and the node's parasitics
   (clamps, op-amp input): a ~1 Hz high-pass, the divider RB / (RP + RB)
   = 0.59 and a ~170 Hz pole;
2. gain stage: 1 + (RF || CF) / (RG + CG): gain 3 from ~1.6 Hz, a shelf
   falling toward 1 between its pole (~170 Hz) and zero (~510 Hz); the
   op-amp output clips here;
3. the passive RA1/CA1/RA2/CA2 ladder: two more poles (~51 and ~146 Hz).

Overall: 1.7 V/V in the pass band (1.8-44 Hz at -3 dB), 0.69 codes per mV
at the disc (:func:`codes_per_mv`), 2.2 codes per code of the first board
(:func:`detector_gain`).

The gain is chosen by a headroom rule (:func:`gain_bounds`), in codes of
the first board (unity gain into 3.3 V: 3.22 mV at the disc), the unit the
simulator family draws in:

* the largest resting signal, a heartbeat of 130 codes (~420 mV peak at
  the disc; about 2 % of the family's nights draw a stronger one, up to
  ~185, which fits alone but not with a big twitch on its crest) with a
  twitch of 80 codes (the largest) on its crest, 210 codes, must stay
  inside the ADC's swing about mid-scale (the nearer limit: 502 codes down to the op-amp's floor, 25 mV)
  with 5 % of it to spare, for the rest level's error (1 % bias divider,
  op-amp offset: ~5 codes) and the parts' spread: gain <= 2.27;
* the ADC's quantisation noise (1 LSB / sqrt 12) must stay under a third of
  the quietest sensor noise the family draws (0.45 codes rms), so it adds
  under 6 % to it: gain >= 1.92.

The board's 2.22 puts 210 codes at 467 ADC codes (93 % of the swing), and
1 LSB is 0.45 first-board codes (0.13 rms).  The first v2 board's gain
(17 in the stage, 12.6 codes per code) left +-40 first-board codes about
mid-scale, so every beat of a strong heartbeat clipped.

This module is the analog model and costs only numpy (the hardware script
and page read it); the digital filters that play it sample by sample are in
:mod:`firmware_host.frontend_digital` (scipy).
"""
from __future__ import annotations

import math

import numpy as np

from . import board, pins

#: Frequency (Hz) at which the digital model matches the analog one exactly
#: (bilinear transform prewarped there), in the middle of the twitch band:
#: over 1-40 Hz the two then differ by < 0.03 dB at 1 kHz sampling, < 0.1 dB
#: at 500 Hz and < 0.45 dB at 250 Hz (the warp near Nyquist).
PREWARP_HZ = 10.0
#: Lowest sampling rate the model accepts (Hz): the pass band must fit under Nyquist.
MIN_RATE_HZ = 100.0

#: The headroom rule (module docstring), in codes of the first board: unity
#: gain into a 3.3 V reference, 3.22 mV at the disc per code.
V1_REF_V = 3.3
#: The resting heartbeat (BCG) the board is sized for, peak (~420 mV at the disc): about the
#: 98th percentile of the simulator family's nights (the strongest reach ~185).
LARGEST_BEAT_V1_CODES = 130.0
#: The largest twitch it draws, peak.
LARGEST_TWITCH_V1_CODES = 80.0
#: The quiet sensor noise the rule keeps quantisation under, rms: the first simulator's lowest and
#: issue 19's figure (the family draws down to 0.40, where gain 2.22 keeps it at 0.32 of that).
SMALLEST_NOISE_V1_CODES = 0.45
#: Share of the swing kept free of the largest resting signal: the rest
#: level's error (1 % bias divider, op-amp offset: ~5 codes) and the gain's
#: spread over the parts' bounds.
HEADROOM_MARGIN = 0.05
#: Largest ratio of the ADC's quantisation noise to the quietest sensor noise
#: (1/3: it adds under 6 % in quadrature).
QUANT_NOISE_SHARE = 1.0 / 3.0


def _input_tf() -> tuple[np.ndarray, np.ndarray]:
    """Stage 1, disc open-circuit volts -> INn volts: (num, den) in s."""
    cd, rp, rb = board.value("PZ"), board.value("RP"), board.value("RB")
    cn = board.value("CIN") + 2 * board.CLAMP_CJ_F + board.OPAMP_CIN_F
    num = np.array([rb * cd, 0.0])
    den = np.polyadd(np.polymul([rp * cd, 1.0], [rb * cn, 1.0]), [rb * cd, 0.0])
    return num, den


def _gain_tf() -> tuple[np.ndarray, np.ndarray]:
    """Stage 2, INn -> OUTn (non-inverting, AC gain 1 + RF/RG, DC gain 1): (num, den) in s."""
    rf, cf, rg, cg = (board.value(k) for k in ("RF", "CF", "RG", "CG"))
    den = np.polymul([rf * cf, 1.0], [rg * cg, 1.0])
    return np.polyadd(den, [cg * rf, 0.0]), den


def _ladder_tf() -> tuple[np.ndarray, np.ndarray]:
    """Stage 3, OUTn -> CHn (two RC sections, the second loading the first): (num, den) in s."""
    r1, c1, r2, c2 = (board.value(k) for k in ("RA1", "CA1", "RA2", "CA2"))
    return np.array([1.0]), np.array([r1 * c1 * r2 * c2, r1 * c1 + r2 * c2 + r1 * c2, 1.0])


def _stages_analog() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(before the op-amp output clip, after it): each (num, den) in s."""
    n1, d1 = _input_tf()
    n2, d2 = _gain_tf()
    return (np.polymul(n1, n2), np.polymul(d1, d2)), _ladder_tf()


def analog_tf() -> tuple[np.ndarray, np.ndarray]:
    """Whole chain, disc open-circuit volts -> ADC-pin volts about the rest level.

    Returns (num, den), polynomial coefficients in s (s in rad/s), highest
    power first.
    """
    (na, da), (nb, db) = _stages_analog()
    return np.polymul(na, nb), np.polymul(da, db)


def analog_zpk() -> tuple[np.ndarray, np.ndarray, float]:
    """Whole chain as (zeros, poles, gain) in s, rad/s; volts at the ADC per volt at the disc."""
    num, den = analog_tf()
    z, p = np.roots(num), np.roots(den)
    return z, p, float(num[0] / den[0])


def analog_response(freq_hz) -> np.ndarray:
    """Complex gain (ADC-pin volts per disc volt) at ``freq_hz`` (scalar or array, Hz)."""
    num, den = analog_tf()
    s = 2j * math.pi * np.asarray(freq_hz, dtype=float)
    return np.polyval(num, s) / np.polyval(den, s)


def passband_gain() -> float:
    """Largest |gain| over 0.1-500 Hz, ADC-pin volts per disc volt (about 9.5)."""
    f = np.logspace(-1, math.log10(500), 2000)
    return float(np.abs(analog_response(f)).max())


def codes_per_mv() -> float:
    """Pass-band gain in ADC codes per millivolt at the disc (1 code = VREF/1024)."""
    return passband_gain() * 1e-3 * (pins.ADC_MAX_CODE + 1) / pins.VREF_V


def detector_gain() -> float:
    """Codes per code of the first board (unity gain, 3.3 V reference) in
    the pass band: the detector's ``gain`` for this board (about 2.2)."""
    return codes_per_mv() / ((pins.ADC_MAX_CODE + 1) / (V1_REF_V * 1000))


#: Hz: where the slow part of a train of twitches lies in the detector's
#: slow band (0.3-3 Hz): its upper half (a twitch's time course, 0.2-0.5 s,
#: reaches into the band from above)
TRAIN_SLOW_HZ = 2.0


def detector_slow_share(f_hz: float = TRAIN_SLOW_HZ) -> float:
    """How much of a slow swing at ``f_hz`` the board passes, relative to the
    twitch band: |gain| at ``f_hz`` over |gain| at 10 Hz (the board's ~1 Hz
    high-pass: about 0.45 at a leg's 1 Hz, 0.76 at a train of twitches'
    2 Hz).  The detector's ``slow_share`` for this board is taken at a
    train's: its test that tells a train from a leg's movement by how far
    the slow band swings against the band scales by how the board shrinks
    what it must reject (scaled by a leg's 1 Hz it sat under most trains)."""
    return float(np.abs(analog_response(f_hz)) / np.abs(analog_response(10.0)))


def swing_codes() -> float:
    """ADC codes from the rest level to the nearer clip: the op-amp's floor
    (25 mV above ground) below, the ADC's full scale (VREF) above."""
    lsb_v = pins.VREF_V / (pins.ADC_MAX_CODE + 1)
    rest = board.bias_v()
    return min(rest - board.OPAMP_SWING_V, pins.VREF_V - rest) / lsb_v


def largest_rest_codes() -> float:
    """ADC codes the largest resting signal (heartbeat with a twitch on its
    crest, :data:`LARGEST_BEAT_V1_CODES` + :data:`LARGEST_TWITCH_V1_CODES`)
    swings from the rest level, at the pass-band gain."""
    return (LARGEST_BEAT_V1_CODES + LARGEST_TWITCH_V1_CODES) * detector_gain()


def quantisation_v1_codes() -> float:
    """One ADC step in codes of the first board (what the detector's noise is measured in)."""
    return 1.0 / detector_gain()


def gain_bounds() -> tuple[float, float]:
    """(lowest, highest) :func:`detector_gain` the headroom rule allows (module docstring).

    Lowest: quantisation noise 1 LSB / sqrt(12) at most
    :data:`QUANT_NOISE_SHARE` of :data:`SMALLEST_NOISE_V1_CODES`; highest:
    the largest resting signal inside (1 - :data:`HEADROOM_MARGIN`) of
    :func:`swing_codes`.
    """
    lo = 1.0 / (math.sqrt(12) * QUANT_NOISE_SHARE * SMALLEST_NOISE_V1_CODES)
    hi = (1 - HEADROOM_MARGIN) * swing_codes() / (LARGEST_BEAT_V1_CODES + LARGEST_TWITCH_V1_CODES)
    return lo, hi
