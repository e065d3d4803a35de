"""Heartbeat: is there one, where each beat is, and what it looks like on each channel.

The piezo feels the heart (ballistocardiogram) on every channel at about
the same time.  A heartbeat is tracked only while the pulse envelope's
autocorrelation shows a clear period (:func:`evidence`); below that, heart
rate is unknown and no beat is subtracted, rather than noise being tracked.
Beats are picked along that period (:func:`track`); each channel keeps a
beat template, and every beat is fitted on each channel (size, timing,
width) and subtracted (:func:`fit`).  The model each beat was given is
kept, so later template updates do not change the past.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import numpy as np

from . import filters
from .arrays import masked_median, median_rows, second_smallest
from .beatfit import fit
from .movement import not_rest_mask, overlaps
from .history import History
from .params import CONF_OFF, CONF_ON, HR_AGREE, HR_HARMONIC_TOL, HR_MIN_CHUNKS, HR_MIN_SHARE, TAIL_MAX_S, Rates


@dataclass
class BeatState:
    g: np.ndarray  #: envelope level at beats, per channel (codes)
    stale: np.ndarray  #: beats in a row that did not fit, per channel
    recent: np.ndarray  #: last aligned beat windows at rest (k, C, L)
    conf: float = 0.0  #: the autocorrelation's height at the period, over its trough (0..1)
    period: float | None = None  #: beat period while tracked, working samples
    on: bool = False
    cand: float | None = None  #: the last chunk's period, if it had a clear one
    periods: list = field(default_factory=list)  #: periods of the chunks tracked with a clear peak (CONF_ON), working samples
    searched: int | None = None  #: beats were searched up to this working index
    g_init: bool = False
    beats: list = field(default_factory=list)  #: beat fiducials, working index
    n_placed: int = 0  #: beats in a row the rhythm placed
    placed: set = field(default_factory=set)  #: beats placed where no peak was (not yet fitted)
    beat_h: float = 1.0  #: running mean of the beats' peak heights (envelope / beat level)
    templates: np.ndarray | None = None  #: (C, L) codes
    boot: list = field(default_factory=list)  #: windows the first template is learned from
    boot_f: list = field(default_factory=list)
    fit_f: list = field(default_factory=list)  #: per batch of fitted beats, their aligned fiducials
    last_fitted: int = -1
    relearned: int = 0  #: templates learned again (per channel)
    #: beats fitted whose pulse's later part (after the beat's window, up to
    #: the next beat's) is still to be learned from and subtracted: (aligned
    #: fiducial, scale), in order
    tail_todo: list = field(default_factory=list)
    #: the later part of the last TAIL_BEATS beats at rest, each over its
    #: scale, NaN past the next beat's window: (k, C, TAIL_MAX_S + 2 x TAIL_OVERLAP_S) codes
    tail_recent: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))
    tail_on: np.ndarray | None = None  #: per channel: is a later wave subtracted
    tail_clear: np.ndarray | None = None  #: per channel: did it stand clear in the last batch of beats
    tail_hold: list = field(default_factory=list)  #: beats due before enough were seen to tell

    def model_post(self, rt: Rates) -> int:
        """Working samples after a beat's fiducial its model reaches: the
        beat's window, and on where a later wave is subtracted."""
        on = self.tail_on is not None and bool(self.tail_on.any())
        return rt.post + (int(round(TAIL_MAX_S * rt.fw)) if on else 0)

    @classmethod
    def new(cls, channels: int, L: int) -> "BeatState":
        return cls(np.ones(channels), np.zeros(channels, dtype=int), np.zeros((0, channels, L)))

    def heart_rate_bpm(self, fw: float, chunks: int = 0) -> float | None:
        """The median heart rate (bpm) over the chunks where the heartbeat was
        tracked with confidence; None when it was in fewer than 3 of them,
        or in under a tenth of the ``chunks`` analysed (a heartbeat at the
        noise, confident by chance in a chunk or two, reads a wrong rate),
        or when some of them found twice the period others did (within
        HR_HARMONIC_TOL): the envelope of a heartbeat at the noise repeats
        at every multiple of its period, and a night read at half its rate
        must say unknown; or when fewer than 3 of them lie within HR_AGREE
        of the median (chunks that each guessed a different period: the
        median of guesses is no rate)."""
        if len(self.periods) < max(HR_MIN_CHUNKS, HR_MIN_SHARE * chunks):
            return None
        p = np.sort(np.asarray(self.periods, dtype=float))
        # any period between (2 -+ 2 x tol) x another?  (sorted, not all pairs:
        # a night keeps ~1000 periods and the daemon asks after every block)
        lo = np.searchsorted(p, (2.0 - 2.0 * HR_HARMONIC_TOL) * p, side="right")
        hi = np.searchsorted(p, (2.0 + 2.0 * HR_HARMONIC_TOL) * p, side="left")
        if (hi > lo).any():
            return None  # some chunks found twice the period others did: which is the heart's cannot be told
        med = float(np.median(p))
        if np.count_nonzero(np.abs(p - med) <= HR_AGREE * med) < HR_MIN_CHUNKS:
            return None
        return round(60.0 * fw / med, 1)


def beat_level(e: np.ndarray, fw: float) -> np.ndarray:
    """Pulse-envelope level at beats, per channel: the median over 2-s
    windows of each window's maximum (every window holds a beat; a
    movement or twitch spoils only the windows it is in)."""
    w = int(2 * fw)
    k = e.shape[1] // w
    lvl = np.median(e[:, :k * w].reshape(len(e), k, w).max(axis=2), axis=1) if k >= 1 else e.max(axis=1)
    return np.maximum(lvl, 1e-3)


def _peak(ac: np.ndarray, lo: int, hi: int, fw: float) -> tuple[float, float]:
    """The beat period (working samples, finer than a sample) from the
    normalised autocorrelation ``ac`` over lags lo..hi, and how clearly it
    stands (its height over the trough before it)."""
    seg = ac[lo:hi + 1]
    k = int(np.argmax(seg)) + lo
    # a peak at twice the period can be as high: take the shorter when it is nearly so
    half = int(round(k / 2))
    if half >= lo and ac[half - 1:half + 2].max() >= 0.7 * ac[k]:
        k = half - 1 + int(np.argmax(ac[half - 1:half + 2]))
    # a heartbeat's peak stands above the trough before it (half a period
    # on); a slow wander of the envelope falls from lag 0 with no peak at all
    trough = float(ac[int(0.2 * fw):k].min()) if k > int(0.2 * fw) else float(ac[k])
    conf = float(ac[k]) - trough if lo < k < hi else 0.0
    if 0 < k < len(ac) - 1:  # parabolic peak for a period finer than a sample
        a, b, c = ac[k - 1], ac[k], ac[k + 1]
        den = a - 2 * b + c
        period = k + (0.5 * (a - c) / den if den < 0 else 0.0)
    else:
        period = float(k)
    return conf, period


def folded_level(e: np.ndarray, ok: np.ndarray, period: float) -> np.ndarray:
    """Pulse-envelope level at beats, per channel, from the envelope folded
    at the beat ``period`` (working samples): the peak over the beat's
    phase of the median over beats, from the samples where ``ok`` ((C, n)
    or (n,)).  A twitch or a knock spoils a few beats' samples, not the
    median; NaN for a channel with fewer than four beats' worth."""
    C, n = e.shape
    nb = max(8, int(round(period / 2)))
    K = int((n - 1) // period)
    if K < 4:
        return np.full(C, np.nan)
    idx = (np.arange(K)[:, None] * period + np.arange(nb)[None, :] * (period / nb)).astype(np.int64)  # (K, nb)
    v = e[:, idx]  # (C, K, nb)
    okv = (ok if ok.ndim == 2 else np.broadcast_to(ok, e.shape))[:, idx]
    n_ok = okv.sum(axis=1)  # (C, nb)
    enough = n_ok.sum(axis=1) >= 4 * nb
    # the median over beats of the ok samples in each bin, as np.nanmedian
    # gives it to the bit (the two middle values' sum over 2), by one sort
    # (arrays.masked_median: nanmedian's masked-array path costs several
    # times more); a bin with none is "no data"
    med = masked_median(v.transpose(0, 2, 1).reshape(C * nb, K), okv.transpose(0, 2, 1).reshape(C * nb, K))
    prof = np.where(n_ok > 0, med.reshape(C, nb), -np.inf)  # (C, nb)
    lvl = prof.max(axis=1)
    return np.where(enough, lvl, np.nan)

def chunk_rest(windows: list, abs0: int, clip: np.ndarray) -> np.ndarray:
    """The chunk's samples (from working index ``abs0``) at rest and with no
    channel clipping (``clip``: only where a channel is free of faults; a
    second mostly at the rail is a railed-sensor fault, masked with 0.5 s
    before and 3 s after it, not a moving leg): where the heartbeat stages
    look (evidence, level)."""
    return ~not_rest_mask(windows, abs0, abs0 + clip.shape[1]) & ~clip.any(axis=0)


def evidence(e: np.ndarray, rest: np.ndarray, abs0: int, good: np.ndarray, base: int,
             rt: Rates, st: BeatState) -> BeatState:
    """Is the heartbeat there, and at what period?  The pulse envelope of
    this chunk's rest seconds, every good channel scaled to its median and
    summed, is autocorrelated over lags of 0.45-1.6 s (37-133 bpm): a
    heartbeat gives a clear peak at its period; noise gives none, so
    noise peaks are never taken for beats.  Movements are left out; a
    chunk with under 10 s of rest keeps what the last chunk said."""
    fw = rt.fw
    n = e.shape[1]
    lo, hi = int(0.45 * fw), int(1.6 * fw)
    if not good.any() or rest.sum() < max(10 * fw, 2 * hi):
        return st
    ee = e[good]
    # each channel scaled to its median and clipped at 3x it, so a twitch or
    # a knock (large and rare) cannot make a period of its own
    z = np.minimum(ee / (median_rows(ee[:, rest])[:, None] + 1e-9), 3.0).sum(axis=0)  # (a copy: partitioned)
    z = np.where(rest, z - z[rest].mean(), 0.0)
    nfft = 1 << int(np.ceil(np.log2(2 * n)))
    ac = np.fft.irfft(np.abs(np.fft.rfft(z, nfft)) ** 2, nfft)[:hi + 2]
    if rest.all():  # the usual chunk: every lag has n - lag pairs
        cnt = n - np.arange(hi + 2, dtype=float)
    else:
        cnt = np.fft.irfft(np.abs(np.fft.rfft(rest.astype(float), nfft)) ** 2, nfft)[:hi + 2]
    ac = ac / np.maximum(cnt, 1.0)  # mean product per overlapping rest pair
    ac = ac / (ac[0] + 1e-12)
    conf, period = _peak(ac, lo, hi, fw)
    st.conf = conf
    # on: two chunks in a row agree on a clear period (noise can give one
    # chunk a peak, rarely two at the same lag); stays on while the peak
    # stays and the period moves no more than a heart rate does in 30 s
    prev, st.cand = st.cand, (period if conf >= CONF_ON else None)
    if st.on:
        st.on = conf >= CONF_OFF and abs(period - st.period) < 0.15 * st.period
    else:  # a clear peak in two chunks in a row, or a very clear one
        st.on = st.cand is not None and (conf >= 2 * CONF_ON or (
            prev is not None and abs(period - prev) < 0.08 * prev))
        if st.on:  # the chunk before had the same heartbeat: track it from there
            st.searched = max(base, abs0 - rt.chunk_w)
    if st.on:
        st.period = period
        if conf >= CONF_ON:  # the heart rate only from chunks whose peak stands clear (a weaker one still tracks)
            st.periods.append(period)
    else:
        st.period = None
    return st


def _pick(peaks: list, end_abs: int, s0: int, base: int, st: BeatState) -> tuple[list, int]:
    """Beats along the period from ``peaks`` [(working index, height)] up to
    ``end_abs``; returns the beats seen as peaks and how far it searched."""
    P = st.period
    new = []
    last = st.beats[-1] if st.beats else None
    if last is not None and last < base + s0 - 2 * P:
        last = None  # the rhythm was lost (tracking was off, or a long gap): start again
    searched = end_abs
    # peaks come in order of time: those still ahead are peaks[j:], and a
    # window's are found by bisection (not by filtering the list each beat)
    at = [q for q, _ in peaks]
    j = 0
    while True:
        if last is None:  # the first clear peak starts the rhythm
            first = next((pk for pk in peaks[j:] if pk[1] >= 0.5), None)
            if first is None:
                break
            p, h = first
        else:
            # the next beat: the highest peak between 0.55 and 1.7 periods
            # on (an ectopic beat comes early), weighted to where the
            # rhythm expects it; until that window has all arrived, wait
            # (to 1.7 periods: the pause after an ectopic beat; from 0.3
            # after a beat that was only placed, its time being a guess)
            w0, w1 = last + (0.3 if st.n_placed else 0.55) * P, last + 1.7 * P
            if w1 > end_abs:
                searched = int(last) + 1
                break
            cands = peaks[bisect.bisect_left(at, w0, j):bisect.bisect_right(at, w1, j)]
            if cands:
                # a beat-sized peak off the expected time beats a small one on
                # it: a run of noise peaks must not hold the rhythm on a wrong phase
                p, h = max(cands, key=lambda c: min(c[1] / st.beat_h, 1.5)
                           * math.exp(-0.5 * ((c[0] - last - P) / (0.3 * P)) ** 2))
                if h < 0.5 and abs(p - last - P) > 0.2 * P:
                    cands = []  # a weak peak counts only where the rhythm puts it
            if not cands:
                if st.n_placed >= 3:
                    # three beats in a row with no peak: the rhythm was lost
                    # (or is on the wrong phase); the next clear peak starts it again
                    last, st.n_placed = None, 0
                    continue
                # no peak: the beat is where the rhythm puts it (hidden by a
                # twitch, or too weak); the fit aligns it, and subtracts
                # nothing where the template does not fit
                p, h = int(round(last + P)), 0.0
                st.placed.add(p)
        st.beats.append(p)
        st.n_placed = 0 if h > 0 else st.n_placed + 1
        if h > 0:
            new.append(p)
            st.beat_h += 0.1 * (min(h, 3.0) - st.beat_h)  # a typical beat's peak height
        last = p
        j = bisect.bisect_right(at, p, j)
    return new, searched


def _search(e: np.ndarray, base: int, lo: int, hi: int, good: np.ndarray, excluded, rt: Rates,
            st: BeatState) -> list:
    """Beats in envelope columns lo..hi (the peaks of the second-lowest
    channel's envelope over its beat level, leaving out the seconds a
    channel is ``excluded(a_abs, b_abs)`` for), along the period; the beat
    level follows the beats seen.  Returns the beats seen as peaks."""
    fw = rt.fw
    s0 = max(lo - int(0.33 * fw), 0)
    ratio = e[good, s0:hi] / st.g[good][:, None]
    bad = excluded(base + s0, base + hi)[good]
    if bad.any():
        ratio = np.where(bad, np.inf, ratio)
    if len(ratio) >= 3:  # the second smallest: one twitching channel cannot make a beat
        b = second_smallest(ratio)
    else:
        b = ratio.min(axis=0)
    if bad.any():
        b = np.where(np.isinf(b), 0.0, b)
    pk, heights = filters.find_peaks(b, height=0.25, distance=int(0.12 * fw))
    peaks = [(base + int(p), float(h)) for p, h in zip((pk + s0).tolist(), heights.tolist())
             if p >= lo or (st.beats and base + p > st.beats[-1])]
    new, st.searched = _pick(peaks, base + hi, s0, base, st)
    if new:
        st.g = st.g + rt.a_beat * (np.clip(median_rows(e[:, np.array(new) - base]), 0.5 * st.g,
                                           2 * st.g) - st.g) * good
    return new


#: a beat level this many times what the envelope folded at the period shows
#: was learned from something else (frequent twitches, a movement): it is reset
LEVEL_X_FOLDED, LEVEL_RESET_X = 2.5, 1.2


def _check_level(e: np.ndarray, a0: int, rest: np.ndarray, good: np.ndarray, excluded, st: BeatState) -> None:
    """Compare each channel's beat level with the envelope of this chunk
    (``e``, from working index ``a0``) folded at the tracked period, at rest
    and where the channel is fine; reset a level far above it."""
    n = e.shape[1]
    ok = rest[None, :] & ~excluded(a0, a0 + n)
    folded = folded_level(e, ok, st.period)
    high = good & (folded > 0) & (st.g > LEVEL_X_FOLDED * folded)  # (NaN compares False)
    if high.any():
        st.g = np.where(high, LEVEL_RESET_X * folded, st.g)


def track(hist: History, n_new: int, rest: np.ndarray, good: np.ndarray, windows: list, sigma: np.ndarray,
          rt: Rates, st: BeatState, excluded) -> BeatState:
    """Beats in the newest ``n_new`` samples of ``hist`` (and what was not
    searched before), then their fit (:func:`fit`): the model in ``hist``.
    ``rest``: the newest samples at rest and unclipped (:func:`chunk_rest`);
    ``good``: channels with any use in the chunk; ``excluded(a_abs, b_abs)``:
    (channels, b_abs - a_abs), True where a channel is excluded (a fault)."""
    e, base, fw = hist.e, hist.base, rt.fw
    if not good.any():
        return st
    if not st.g_init:
        # the beat level from rest only: a night that opens with a
        # movement must not set it (nothing is learned outside rest)
        if rest.sum() < 6 * fw:
            return st
        st.g = beat_level(e[:, -n_new:][:, rest], fw)
        st.g_init = True
    # search beats in the region not searched before, confirmed 0.15 s before the end
    last_searched = st.searched if st.searched is not None else base
    lo = max(last_searched - base, 0)
    hi = e.shape[1] - int(0.15 * fw)
    if hi - lo < 3:
        return st
    if not st.on:  # no heartbeat to be seen: track none rather than noise
        st.searched = base + hi
        return st
    end_abs = base + hi
    _check_level(e[:, -n_new:], base + e.shape[1] - n_new, rest, good, excluded, st)
    snap = (len(st.beats), st.n_placed, set(st.placed), st.beat_h)
    _search(e, base, lo, hi, good, excluded, rt, st)
    if (not st.beats or end_abs - st.beats[-1] > 6 * fw) and hi - lo > 6 * fw and \
            not (end_abs > base + lo and overlaps(windows, np.array([base + lo]), np.array([end_abs]))[0]):
        # no beat for 6 s at rest: the level was learned too high (a
        # movement at the start, a sensor moved, a channel back from a
        # fault); learn it again, and look for this stretch's beats again
        # (not on a channel excluded meanwhile: a flat or humming sensor has no beat)
        clean = good & ~excluded(base + lo, base + hi).any(axis=1)
        g = np.where(clean, np.minimum(st.g, beat_level(e[:, lo:hi], fw)), st.g)
        if (g < st.g).any():
            st.g = g
            del st.beats[snap[0]:]
            st.n_placed, st.placed, st.beat_h = snap[1], snap[2], snap[3]
            _search(e, base, lo, hi, good, excluded, rt, st)
    fit(hist, good, windows, sigma, rt, st, excluded)
    if len(st.beats) > 400:
        st.beats = st.beats[-200:]
    return st


def beat_likeness(seg: np.ndarray, template: np.ndarray, own: int | None = None) -> float:
    """How like a whole beat ``seg`` is (0..1): the largest normalised cross-
    correlation of it with the channel's beat template, against the whole
    template's energy (a match to a small part of the template is not a
    beat).  A beat the tracker missed (an early, ectopic one) is left whole
    in the residual and scores near 1; a twitch seldom passes 0.95.  From
    index ``own`` on, ``seg`` is what follows the candidate (the next part
    of a region cut in two, a twitch after a beat it missed): left out, as
    zeros, so it does not make the beat before it unlike a beat."""
    if len(seg) < 4 or len(seg) > len(template):
        return 0.0
    if own is not None:
        seg = seg.copy()
        seg[max(own, 0):] = 0.0
    s = seg - seg.mean()
    den = float(np.linalg.norm(s) * np.linalg.norm(template))
    if den <= 0:
        return 0.0
    return float(np.abs(np.correlate(template, s, "valid")).max()) / den
