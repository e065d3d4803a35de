"""The front end: raw codes to the signals the later stages work on.

Per chunk, and over several consecutive chunks at once (the filters carry
their state across, like ``sosfilt``'s ``zi``/``zf``):

1. **Glitches**: a 3-point median at the full rate removes lone 0/top-code
   samples (one sample of delay); a fit of level, slope and mains around
   them stands in for them, and for runs of up to three; block means take
   it to the filter rate (~250 Hz).  Clipping is where two of three raw
   samples sit at a rail.
2. **Sensor states** per second (:mod:`.faults`).
3. **Mains** frequency (50 or 60 Hz), measured on the first chunk and
   notched with its harmonic; a 3-35 Hz band-pass removes drift and
   breathing (``y``, at the working rate ~125 Hz); a 0.3-3 Hz band of the
   raw signal shows the slow swings of a movement (``lf``); the pulse
   envelope ``e`` is the 5 Hz low-pass of y squared, square-rooted.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import pins
from . import faults, filters
from .arrays import block_mean, median3
from .params import Rates


@dataclass
class FrontState:
    mains_hz: float | None = None  #: measured on the first chunk
    sos_band: np.ndarray | None = None  #: band-pass and mains notches, at the filter rate
    sos_lf: np.ndarray | None = None  #: movement band, at the working rate
    sos_env: np.ndarray | None = None  #: envelope low-pass, at the working rate
    zi_band: np.ndarray | None = None
    zi_lf: np.ndarray | None = None
    zi_env: np.ndarray | None = None


def _mains(xd: np.ndarray, ff: float) -> float:
    """50 or 60 Hz: whichever has more power in ``xd`` (filter-rate codes)."""
    t = np.arange(xd.shape[1]) / ff
    xc = (xd - xd.mean(axis=1, keepdims=True)).T
    power = {}
    for f in (50.0, 60.0):
        if f < ff / 2 - 5:
            ph = np.exp(-2j * np.pi * f * t)
            power[f] = float(np.sum(np.abs(ph @ xc) ** 2))
    return max(power, key=power.get) if power else 50.0


#: a run of rail samples this long at most, from and back to a quarter of
#: the scale or more away from the rail, is a glitch (SPI errors come in
#: bursts): the board's filters (poles near 51, 146 and 170 Hz) cannot take
#: a sensor from mid-scale to a rail and back within 3 ms, and a knock that
#: drives one there comes down from it over tens of ms
GLITCH_MAX_RUN = 3
GLITCH_JUMP_CODES = (pins.ADC_MAX_CODE + 1) // 4


def _chunk_of(cols: np.ndarray, lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """``ends`` (chunk k's centres are ext columns ends[k]+1 .. ends[k+1])
    and the chunk of each centre column in ``cols``."""
    ends = np.cumsum([0] + list(lengths))
    return ends, np.searchsorted(ends, cols - 1, side="right") - 1


def _glitches(ext: np.ndarray, med: np.ndarray, lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(channels, ext columns) of the rail samples that are glitches: lone
    ones (the median of three would replace them), and runs of up to
    GLITCH_MAX_RUN with both neighbours GLITCH_JUMP_CODES from the rail,
    judged only where the run lies in one chunk's centres and its neighbours
    in what that chunk's call sees (so a block's split cannot change the
    verdict; a burst across a chunk's last two samples stays).  Usually none
    (checked cheaply first)."""
    centre = ext[:, 1:-1]
    low, high = centre.min() <= 0, centre.max() >= pins.ADC_MAX_CODE
    if not (low or high):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # the rail samples first (few), then which of them the median replaces;
    # flat indices (a 2-D nonzero costs several times more)
    if low and high:
        at_rail = (centre <= 0) | (centre >= pins.ADC_MAX_CODE)
    else:
        at_rail = centre <= 0 if low else centre >= pins.ADC_MAX_CODE
    flat = np.flatnonzero(at_rail)
    c, i = np.divmod(flat, centre.shape[1])
    lone = med[c, i] != centre[c, i]
    if len(flat) > 1:
        lone |= _in_short_run(ext, flat, c, i + 1, lengths)
    return c[lone], i[lone] + 1


def _in_short_run(ext: np.ndarray, flat: np.ndarray, c: np.ndarray, col: np.ndarray,
                  lengths: list[int]) -> np.ndarray:
    """Which rail samples (``flat`` indices into the centre columns, their
    channels ``c`` and ext columns ``col``) lie in a glitch run of up to
    GLITCH_MAX_RUN samples (see :func:`_glitches`; a lone one is one
    already)."""
    val = ext[c, col]
    new = np.ones(len(flat), dtype=bool)
    new[1:] = (np.diff(flat) != 1) | (c[1:] != c[:-1]) | (val[1:] != val[:-1])
    run = np.cumsum(new) - 1
    first = np.flatnonzero(new)
    last = np.append(first[1:], len(flat)) - 1
    s, e, ch, rail = col[first], col[last], c[first], val[first].astype(np.int64)
    ends, k = _chunk_of(s, lengths)  # (a centre's chunk: k + 1 < len(ends))
    # the run in one chunk's centres (its neighbours then lie in what that
    # chunk's call sees: the sample before its first centre, the one after
    # its last)
    inside = e <= ends[k + 1]
    before = ext[ch, s - 1].astype(np.int64)
    after = ext[ch, e + 1].astype(np.int64)  # (a centre's next sample is in ext)
    ok = inside & (e - s + 1 <= GLITCH_MAX_RUN) \
        & (np.abs(before - rail) >= GLITCH_JUMP_CODES) & (np.abs(after - rail) >= GLITCH_JUMP_CODES)
    return ok[run]


#: around a glitch, this many mains periods each side are fitted
GLITCH_FIT_PERIODS = 3


def repair_glitches(ext: np.ndarray, lone: tuple, lengths: list[int], rate_hz: float,
                    mains_hz: float) -> np.ndarray:
    """A copy of ``ext`` with each lone rail sample replaced by a least-
    squares fit, around it, of a level, a slope and the mains and its
    second harmonic.  The fit sees only the glitch's own chunk (and the
    two samples before it), so a block's split does not change it."""
    out = ext.copy()
    for c, p, v in _glitch_fits(ext, lone, lengths, rate_hz, mains_hz):
        out[c, p] = v
    return out


def _glitch_fits(ext: np.ndarray, lone: tuple, lengths: list[int], rate_hz: float,
                 mains_hz: float) -> list[tuple[int, int, float]]:
    """(channel, column, the fit at it) for each lone glitch that has enough
    samples around it (see :func:`repair_glitches`)."""
    w = max(4, int(round(GLITCH_FIT_PERIODS * rate_hz / mains_hz)))
    om = 2 * np.pi * mains_hz / rate_hz
    harmonics = [h for h in (1, 2) if h * mains_hz < rate_hz / 2 - 5]
    cs, ps = lone
    ends, ks = _chunk_of(ps, lengths)
    los = np.maximum(ends[ks], ps - w).tolist()
    his = np.minimum(ends[ks + 1] + 2, ps + w + 1).tolist()
    bases = {}  # the basis depends only on the window's reach either side (most glitches: w, w)
    fits = []
    for c, p, lo, hi in zip(cs.tolist(), ps.tolist(), los, his):
        basis = bases.get((lo - p, hi - p))
        if basis is None:
            t = np.arange(lo - p, hi - p).astype(np.float64)
            cols = [np.ones_like(t), t] + [f(h * om * t) for h in harmonics for f in (np.cos, np.sin)]
            basis = bases[(lo - p, hi - p)] = np.stack(cols, axis=1)
        v = ext[c, lo:hi]
        keep = (v > 0) & (v < pins.ADC_MAX_CODE)
        keep[p - lo] = False
        if np.count_nonzero(keep) < basis.shape[1] + 4:
            continue  # too little around it: the median's stand-in stays
        coef = np.linalg.lstsq(basis[keep], v[keep].astype(np.float64), rcond=None)[0]
        fits.append((c, p, coef[0] + sum(coef[2 + 2 * j] for j in range(len(harmonics)))))  # the fit at t = 0
    return fits


def _repair_medians(ext: np.ndarray, med: np.ndarray, lone: tuple, fits: list, lengths: list[int]) -> None:
    """The medians of ``ext`` whose three samples hold a repaired glitch
    (``fits``: from :func:`_glitch_fits`), formed again in ``med``: each
    from a copy of those samples with the repairs in (the values
    repair_glitches would put in a copy of the whole batch), and only those
    centred in the glitch's chunk (another chunk's are formed in its own
    call, whatever the block size); no other median changes."""
    ends, ks = _chunk_of(lone[1], lengths)
    fixed = {(c, p): v for c, p, v in fits}
    for c, p, k in zip(*(v.tolist() for v in lone), ks.tolist()):
        a, b = max(p - 2, int(ends[k])), min(p, int(ends[k + 1]) - 1) + 1
        seg = ext[c, a:b + 2].copy()
        for q in range(a, b + 2):
            if (c, q) in fixed:
                seg[q - a] = fixed[(c, q)]
        med[c, a:b] = median3(seg)


def start(xd: np.ndarray, xw: np.ndarray, rt: Rates) -> FrontState:
    """The filters for a stream whose first chunk is ``xd`` (filter rate) and
    ``xw`` (working rate), each started in its steady state for the first
    sample, so the night does not begin with a filter's step response."""
    mains = _mains(xd, rt.ff)
    sections = [filters.design("band", rt.ff)]
    for h in (1, 2):
        f = mains * h
        if f < rt.ff / 2 - 5:
            sections.append(filters.design("notch", rt.ff, f))
    sos_band = np.vstack(sections)
    sos_lf = filters.design("lf", rt.fw)
    sos_env = filters.design("env", rt.fw)
    x0 = xd[:, 0]  # zi is (sections, channels, 2)
    return FrontState(mains, sos_band, sos_lf, sos_env,
                      zi_band=filters.sosfilt_zi(sos_band)[:, None, :] * x0[None, :, None],
                      zi_lf=filters.sosfilt_zi(sos_lf)[:, None, :] * xw[:, 0][None, :, None],
                      zi_env=np.zeros((sos_env.shape[0], len(x0), 2)))


def front(ext: np.ndarray, lengths: list[int], rt: Rates, state: FrontState | None,
          scratch: tuple[np.ndarray, np.ndarray] | None = None,
          hum_amp_codes: float = faults.HUM_AMP_CODES) -> tuple[list[dict], FrontState]:
    """Chunks of ``lengths`` raw samples: ``ext`` is (channels, 2 + their sum)
    codes, its first two columns the two samples before them.  Returns one
    dict a chunk (``y``, ``e``, ``lf``, ``clip`` at the working rate,
    ``status`` rows a second, ``n_d`` filter samples) and the new state
    (None: a new stream).  ``scratch``: optional work arrays, (channels, >= n);
    ``hum_amp_codes``: the least hum that can be a fault (codes)."""
    C = ext.shape[0]
    D, D2, Dt = rt.D, rt.D2, rt.Dt
    n = ext.shape[1] - 2
    med = median3(ext, *((s_[:, :n] for s_ in scratch) if scratch else ()))
    lone = _glitches(ext, med, lengths)
    if len(lone[0]):
        # under mains hum the median's stand-in for a glitch (a neighbour)
        # is off by up to the hum's swing, which the band-pass turns into a
        # twitch-sized spike: the glitch is first replaced by the hum and
        # slope fitted around it
        mains = state.mains_hz if state else _mains(block_mean(med, D)[:, :lengths[0] // D], rt.ff)
        _repair_medians(ext, med, lone, _glitch_fits(ext, lone, lengths, rt.rate_hz, mains), lengths)
    xd = block_mean(med, D)  # filter rate; med[:, i] is centred on ext[:, i + 1]
    n_w = n // Dt
    # clipping: the median is at a rail only where two of three raw samples
    # are (a lone glitch is not); any such sample marks its working sample
    if med.min() > 0 and med.max() < pins.ADC_MAX_CODE:  # the usual case: nothing at a rail
        clip = np.zeros((C, n_w), dtype=bool)
    else:
        at_rail = (med <= 0) | (med >= pins.ADC_MAX_CODE)
        clip = at_rail[:, 0::Dt].copy()
        for k in range(1, Dt):
            clip |= at_rail[:, k::Dt]
    xw = block_mean(xd, D2)  # working rate
    ends_d = np.cumsum([0] + [ln // D for ln in lengths])
    ends_w = np.cumsum([0] + [ln // Dt for ln in lengths])
    if state is None:
        state = start(xd[:, :ends_d[1]], xw[:, :ends_w[1]], rt)
    # sensor states per second: for all chunks at once when chunks are
    # whole seconds (they are at the usual rates), else chunk by chunk
    sub = max(1, int(round(rt.ff)))
    if all(ln // D % sub == 0 for ln in lengths[:-1]):
        status = faults.classify(xd, rt.ff, state.mains_hz, hum_amp_codes)
        rows = np.cumsum([0] + [-(-(ln // D) // sub) for ln in lengths])
        statuses = [status[rows[i]:rows[i + 1]] for i in range(len(lengths))]
    else:
        statuses = [faults.classify(xd[:, ends_d[i]:ends_d[i + 1]], rt.ff, state.mains_hz, hum_amp_codes)
                    for i in range(len(lengths))]
    yf, state.zi_band = filters.sosfilt(state.sos_band, xd, state.zi_band)
    y = block_mean(yf, D2)
    lf, state.zi_lf = filters.sosfilt(state.sos_lf, xw, state.zi_lf)
    e2, state.zi_env = filters.sosfilt(state.sos_env, y * y, state.zi_env)
    e = np.sqrt(np.maximum(e2, 0))
    parts = []
    for i in range(len(lengths)):
        w0, w1 = ends_w[i], ends_w[i + 1]
        parts.append({"y": y[:, w0:w1], "e": e[:, w0:w1], "lf": lf[:, w0:w1], "clip": clip[:, w0:w1],
                      "status": statuses[i], "n_d": ends_d[i + 1] - ends_d[i]})
    return parts, state
