"""Sensor faults: each channel's state per second, and the spans it is excluded for.

A channel is ``railed`` (stuck at 0 or the top code most of the second: lone
glitches are gone after the median), ``unplugged`` (flat: sd under 0.3
codes), ``hum`` (mains power is over 80% of the signal and over 15 codes
rms: a lead off, picking up only mains) or ``ok``.  A faulty channel is
excluded from everything from 0.5 s before to 3 s after.  The page's
sensor check uses :func:`classify_window`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .. import pins
from .events import FAULT_KINDS, FAULT_OK
from .params import Rates

FLAT_SD_CODES = 0.3  #: below this sd a channel is unplugged (codes)
HUM_SHARE = 0.8  #: hum: this share of the power within 1.5 Hz of the mains harmonics...
#: ... and an rms amplitude over this (codes of the first board: times the gain).
#: A lead that came off picks mains up by the tens of codes; a connected
#: sensor's cable can show several codes of it, which the notches take out
#: while the sensor still counts: a working sensor wrongly excluded loses
#: its twitches and lets its echoes count on its leg-mate, a loose lead with
#: less hum than this, notched, leaves a flat residual that counts nothing
HUM_AMP_CODES = 15.0
HUM_BIN_HZ = 1.5
SETTLE_S = 3.0  #: excluded after a fault ends, s
#: ... and this much longer from the movement stage: the slow band (0.3-3 Hz)
#: rings from a fault's step (a rail 500 codes from the sensor's level
#: still swings it ~9 codes 3 s on, a movement's threshold), s
SLOW_SETTLE_S = 3.0
LEAD_S = 0.5  #: excluded before a fault starts, s


@lru_cache(maxsize=32)
def hum_basis(w: int, fs_hz: float, mains_hz: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin (w, bins) for the rfft bins of a w-sample window that lie
    within 1.5 Hz of each mains frequency and its 2nd and 3rd harmonics
    (a harmonic above fs/2 where it aliases to)."""
    f = np.fft.rfftfreq(w, 1 / fs_hz)[1:]
    sel = np.zeros(len(f), dtype=bool)
    for m in mains_hz:
        for h in (1, 2, 3):
            fh = m * h
            fh = abs(fh - fs_hz * round(fh / fs_hz))
            sel |= np.abs(f - fh) <= HUM_BIN_HZ
    ph = 2 * np.pi * np.outer(np.arange(w), f[sel] / fs_hz)
    return np.cos(ph), np.sin(ph)


def classify_rows(xs: np.ndarray, fs_hz: float, mains_hz: tuple[float, ...],
                  hum_amp_codes: float = HUM_AMP_CODES) -> np.ndarray:
    """xs (channels, rows, w): codes at ``fs_hz``, a row a stretch of time
    (a second); returns (rows, channels) indices into FAULT_KINDS.  With
    several mains frequencies (not yet known), hum near any of them counts;
    ``hum_amp_codes``: the least hum amplitude that can be a fault (codes)."""
    C, R, w = xs.shape
    if xs.min() > 1 and xs.max() < pins.ADC_MAX_CODE - 1:  # the usual case: nowhere near a rail
        railed = np.zeros((C, R), dtype=bool)
    else:
        railed = 2 * ((xs <= 1) | (xs >= pins.ADC_MAX_CODE - 1)).sum(axis=2) > w
    xc = xs - xs.mean(axis=2, keepdims=True)
    ss = np.einsum("crw,crw->cr", xc, xc)  # sum of squares, codes^2
    flat = (ss < w * FLAT_SD_CODES ** 2) & ~railed
    hum = np.zeros_like(railed)
    # hum needs a mains amplitude over hum_amp_codes (rms), sqrt(2 ps) / w >
    # hum_amp_codes, and ps is at most the whole one-sided power w ss / 2:
    # rows with ss <= hum_amp_codes^2 w cannot be hum, and are not looked at
    cand = np.flatnonzero((ss > hum_amp_codes ** 2 * w).ravel())
    if w >= 32 and len(cand):
        for m in mains_hz:
            # power in the DFT bins near the mains harmonics, as a share of
            # all the (one-sided) power: Parseval gives the total
            cos_b, sin_b = hum_basis(w, float(fs_hz), (m,))
            xc2 = xc.reshape(C * R, w)[cand]
            pc, qs = xc2 @ cos_b, xc2 @ sin_b
            ps = np.zeros(C * R)
            ps[cand] = (pc * pc + qs * qs).sum(axis=1)
            ps = ps.reshape(C, R)
            total = w * ss / 2 + 1e-12
            hum |= (ps / total > HUM_SHARE) & (np.sqrt(2 * ps) / w > hum_amp_codes) & ~railed & ~flat
    return np.where(railed, 2, np.where(flat, 1, np.where(hum, 3, 0))).T


def classify(xd: np.ndarray, fs_hz: float, mains_hz: float, hum_amp_codes: float = HUM_AMP_CODES) -> np.ndarray:
    """Per second (rows; a last part-second is a row too) and channel of
    ``xd`` (channels, samples at ``fs_hz``): indices into FAULT_KINDS."""
    C, n = xd.shape
    sub = max(1, int(round(fs_hz)))
    whole = n // sub
    rows = []
    if whole:
        rows.append(classify_rows(xd[:, :whole * sub].reshape(C, whole, sub), fs_hz, (mains_hz,), hum_amp_codes))
    if n > whole * sub:
        rows.append(classify_rows(xd[:, None, whole * sub:], fs_hz, (mains_hz,), hum_amp_codes))
    return np.vstack(rows)


def classify_window(frames: np.ndarray, fs_hz: float, gain: float = 1.0) -> list[str]:
    """Each channel's state over ``frames`` (samples, channels) of raw codes
    (about a second), mains 50 or 60 Hz: the same tests the detector makes
    per second, for the page's sensor check while a sensor is placed
    (``gain``: as the detector's config has it)."""
    x = np.asarray(frames, dtype=np.float64)
    if x.ndim != 2 or len(x) < 8:
        return [FAULT_OK] * (x.shape[1] if x.ndim == 2 else 0)
    codes = classify_rows(np.ascontiguousarray(x.T)[:, None, :], fs_hz, (50.0, 60.0), HUM_AMP_CODES * gain)[0]
    return [FAULT_KINDS[k] for k in codes]


@dataclass
class FaultState:
    status: list[str]  #: each channel's state now
    spans: list[list[tuple[int, int]]] = field(default_factory=list)  #: excluded [start, end), working index

    @classmethod
    def new(cls, channels: int) -> "FaultState":
        return cls([FAULT_OK] * channels, [[] for _ in range(channels)])


def update(status: np.ndarray, n_d: int, abs0: int, rt: Rates, state: FaultState) -> tuple[list[dict], np.ndarray, FaultState]:
    """One chunk's states per second (``status``: rows from :func:`classify`
    over its ``n_d`` filter-rate samples, starting at working index ``abs0``)
    into fault events (on changes) and excluded spans; returns (events,
    "bad in any second" per channel, state)."""
    C, D2 = len(state.status), rt.D2
    sub = max(1, int(round(rt.ff)))  # one second, filter samples
    settle = int(round(SETTLE_S * rt.fw))
    events = []
    bad_any = (status != 0).any(axis=0)
    prev = np.array([FAULT_KINDS.index(s) for s in state.status])
    changed = np.flatnonzero((np.diff(np.vstack([prev, status]), axis=0) != 0).any(axis=1) | (status != 0).any(axis=1))
    for k in changed:  # only seconds where something is, or becomes, wrong
        k0 = int(k) * sub // D2  # working samples from abs0
        n_k = min(sub, n_d - int(k) * sub) // D2
        for c in range(C):
            st = FAULT_KINDS[status[k, c]]
            if st != state.status[c]:
                events.append({"channel": c, "t": round(rt.t(abs0 + k0), 3), "status": st})
                state.status[c] = st
            if st != FAULT_OK:
                start, end = abs0 + k0, abs0 + k0 + n_k + settle
                spans = state.spans[c]
                if spans and spans[-1][1] >= start - settle:
                    spans[-1] = (spans[-1][0], end)
                else:
                    spans.append((start - int(LEAD_S * rt.fw), end))
                    del spans[:-20]
    return events, bad_any, state


def bad_during(state: FaultState, c: int, a_abs: int, b_abs: int) -> bool:
    """Is channel c excluded anywhere in working samples [a_abs, b_abs)?"""
    return any(s < b_abs and e > a_abs for s, e in state.spans[c])


def span_mask(state: FaultState, a_abs: int, b_abs: int, longer: int = 0) -> np.ndarray:
    """(channels, b_abs - a_abs): True where a channel is excluded (with
    ``longer``: for that many working samples more after each span)."""
    mask = np.zeros((len(state.spans), b_abs - a_abs), dtype=bool)
    for c, spans in enumerate(state.spans):
        for s, e in spans:
            lo, hi = max(s, a_abs), min(e + longer, b_abs)
            if lo < hi:
                mask[c, lo - a_abs:hi - a_abs] = True
    return mask
