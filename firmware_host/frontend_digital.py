"""The sensor board's front end (:mod:`.frontend`) as digital filters: the
whole chain in z, and a disc's voltage through the board into MCP3008 codes,
streaming like ``scipy.signal.sosfilt`` (the simulator's ``board=True``)."""
from __future__ import annotations

import math

import numpy as np
from scipy import signal as sps

from . import board, pins
from .frontend import MIN_RATE_HZ, PREWARP_HZ, _stages_analog, analog_tf


def _digital_zpk(num, den, rate_hz: float):
    if not rate_hz >= MIN_RATE_HZ:
        raise ValueError(f"rate_hz must be at least {MIN_RATE_HZ:g} Hz, not {rate_hz!r}")
    w = 2 * math.pi * PREWARP_HZ
    fs_warped = w / (2 * math.tan(w / (2 * rate_hz)))
    z, p, k = sps.tf2zpk(num, den)
    return sps.bilinear_zpk(z, p, k, fs_warped)


def zpk(rate_hz: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Whole chain in z at ``rate_hz`` samples/s: (zeros, poles, gain), disc volts -> ADC volts.

    Bilinear transform prewarped at :data:`PREWARP_HZ`; what lies above the
    Nyquist frequency (aliasing) is not modelled: the board's filter keeps it
    >= 40 dB down at 1 kHz sampling.
    """
    return _digital_zpk(*analog_tf(), rate_hz)


def sos(rate_hz: float) -> np.ndarray:
    """Whole chain as second-order sections (n, 6) for ``scipy.signal.sosfilt``, disc volts -> ADC volts."""
    return sps.zpk2sos(*zpk(rate_hz))


def _stage_sos(rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    a, b = _stages_analog()
    return sps.zpk2sos(*_digital_zpk(*a, rate_hz)), sps.zpk2sos(*_digital_zpk(*b, rate_hz))


def initial_state(rate_hz: float, channels: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Filter state of a channel at rest (every node at its bias), for :func:`to_codes`.

    ``channels`` None for a 1-D signal, else the number of columns.
    """
    sa, sb = _stage_sos(rate_hz)
    tail = () if channels is None else (channels,)
    return np.zeros((sa.shape[0], 2, *tail)), np.zeros((sb.shape[0], 2, *tail))


def to_codes(disc_v, rate_hz: float, zi=None):
    """The disc's voltage through the board into MCP3008 codes.

    ``disc_v``: open-circuit disc voltage in volts, shape (samples,) or
    (samples, channels), sampled at ``rate_hz`` samples/s.  Returns uint16
    codes 0..1023 of the same shape, 512 at rest: the op-amp output clips
    25 mV inside its 0-3.3 V rails (so the lowest code is 10), the ADC at
    VREF (2.5 V, code 1023).

    Streaming like ``scipy.signal.sosfilt``: with ``zi`` (from
    :func:`initial_state` or a previous call) it returns ``(codes, zf)`` and
    consecutive blocks give the same codes as one long call; without ``zi``
    the board starts at rest and only the codes are returned.

    Not modelled: the input clamps (they act only above ~1.5 V at the disc,
    where the op-amp has long clipped), noise (under 0.01 LSB, see the
    README) and aliasing.
    """
    x = np.asarray(disc_v, dtype=np.float64)
    sa, sb = _stage_sos(rate_hz)
    stream = zi is not None
    za, zb = zi if stream else initial_state(rate_hz, None if x.ndim == 1 else x.shape[1])
    rest = board.bias_v()
    out, za = sps.sosfilt(sa, x, axis=0, zi=za)
    lo, hi = board.OPAMP_SWING_V - rest, board.SUPPLY_V - board.OPAMP_SWING_V - rest
    np.clip(out, lo, hi, out=out)
    adc, zb = sps.sosfilt(sb, out, axis=0, zi=zb)
    codes = np.floor((adc + rest) * ((pins.ADC_MAX_CODE + 1) / pins.VREF_V))
    codes = np.clip(codes, 0, pins.ADC_MAX_CODE).astype(np.uint16)
    return (codes, (za, zb)) if stream else codes
