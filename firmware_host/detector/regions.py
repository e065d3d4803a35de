"""Regions: twitch candidates on the residual (the band less the heartbeat).

The noise floor of each channel is learned from the residual at rest only
(:func:`learn_floor`).  A region is where the 40 ms mean |residual| stays
above 0.4 x the threshold (gaps up to ``merge_ms`` bridged, so a doublet is
one region) and peaks above the faint threshold (8/9 of the clear one; the
rules ask more of a faint candidate).  Its onset is its first strong stretch;
a region over ``SPLIT_MS`` is cut where its activity falls.  Where a beat was
subtracted a region must also pass 3x what that channel's beats usually
leave at that point of the beat (:func:`remnant_map`) and a share of the
beat's own size (:func:`_thresholds`); one shaped like the beat under it is
a remnant, and each candidate carries its likeness to the channel's whole
beat for the rules (:func:`beat_likeness`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .arrays import gradient, median_rows, moving_mean, quietest_second
from .events import Twitch
from .faults import FaultState, bad_during
from .heartbeat import BeatState, beat_likeness
from .history import History
from . import movement
from .lengths import lengths
from .movement import not_rest_mask
from .params import BEAT_GAP_X, ECHO_LAG_S, ONSET_SHARE, FOLLOW_S, ONSET_SHARE_AFTER, REMNANT_BEAT_SHARE, REGION_SHARE, REMNANT_CORR, REMNANT_R2, REMNANT_SHARE, REMNANT_X_LEVEL, DetectorConfig, Rates


@dataclass
class RegionState:
    sigma: np.ndarray  #: each channel's noise floor at rest, codes (NaN until learned)
    last_end: np.ndarray  #: end of each channel's last decided region, working index
    r_hist: np.ndarray  #: the last analysed chunk's residual
    sig_hist: np.ndarray | None = None  #: the floors that chunk was analysed with
    prof_hist: np.ndarray | None = None  #: ... and what its beats left at each point of their window
    quiet_before: np.ndarray | None = None  #: was the sample before the span quiet, per channel
    quiet_next: np.ndarray | None = None
    rest_samples: int = 0  #: working samples at rest so far
    analysed_samples: int = 0
    rejected_remnants: int = 0  #: candidates with a subtracted beat's shape
    #: short leg movements found among the candidates since the last call
    #: (working index start, end, channel): see :func:`.movement.is_short_movement`
    short_moves: list = field(default_factory=list)
    provisional: bool = False  #: the floors stand in from a night without rest yet (see learn_floor)

    @classmethod
    def new(cls, channels: int) -> "RegionState":
        return cls(np.full(channels, np.nan), np.full(channels, -10 ** 9), np.zeros((channels, 0)))


def learn_floor(r: np.ndarray, a_abs: int, b_abs: int, windows: list, faults: FaultState, rt: Rates,
                st: RegionState) -> RegionState:
    """Count rest in working samples [a_abs, b_abs) and update each
    channel's robust noise floor (codes) from the residual ``r`` at rest only."""
    C = len(r)
    not_rest = not_rest_mask(windows, a_abs, b_abs)
    bad_now = np.array([bad_during(faults, c, a_abs, b_abs) for c in range(C)])
    rest = ~not_rest & (not bad_now.all())
    st.rest_samples += int(rest.sum())
    st.analysed_samples += b_abs - a_abs
    if rest.sum() >= 3 * rt.fw:  # learn from the rest samples alone, as much as there was rest
        est = median_rows(np.abs((r if rest.all() else r[:, rest])[:, ::3])) / 0.6745 + 1e-3  # every 3rd sample is plenty
        learn = ~bad_now
        if st.provisional:  # the stand-in was a moving leg's level: forgotten at the first rest
            st.sigma = np.where(learn, est, np.nan)
            st.provisional = False
        if np.isnan(st.sigma).any():
            st.sigma = np.where(np.isnan(st.sigma) & learn, est, st.sigma)
        upd = learn & ~np.isnan(st.sigma)
        a = rt.a_floor * rest.mean()
        st.sigma[upd] = np.exp(np.log(st.sigma[upd]) + a * (np.log(est[upd]) - np.log(st.sigma[upd])))
    elif np.isnan(st.sigma).all() and r.shape[1]:  # no rest yet: the quietest second stands in until there is
        st.sigma = quietest_second(r, rt.fw) + 1e-3
        st.provisional = True
    return st


def beat_remnant(act: np.ndarray, span0: int, nh: int, not_rest: np.ndarray, beats: BeatState, rt: Rates):
    """Fiducials of the beats subtracted in or near the span (working
    samples from ``span0``), and per channel what this chunk's beats at
    rest leave behind at each point of a beat's window: the median over
    the beats of the 40 ms mean |residual| at that offset from the
    fiducial, (channels, pre + post) codes, and on past the window where a
    pulse's later wave is subtracted (``beats.tail_on``); None with under
    5 such beats.  A median over beats: the twitches of a bad spell that
    fall on some beats do not raise it."""
    a, b = rt.pre, beats.model_post(rt)
    if not beats.fit_f:
        return np.zeros(0, dtype=np.int64), None
    f = np.concatenate(beats.fit_f) - span0
    f = f[(f + b > 0) & (f - a < act.shape[1])]
    whole = f[(f - a >= nh) & (f + b <= act.shape[1])]  # this chunk's beats, whole windows
    win = whole[:, None] + np.arange(-a, b)[None, :]  # (k, a+b)
    win = win[~not_rest[win].any(axis=1)]  # ... at rest
    if len(win) < 5:
        return f, None
    # the median over beats (np.median's value, to the bit), beats last so
    # each point's values are a contiguous row
    return f, median_rows(act[:, win.T].reshape(-1, len(win))).reshape(len(act), -1)  # (C, a+b)


def remnant_map(f: np.ndarray, n: int, nh: int, prof_hist, prof, rt: Rates, C: int) -> np.ndarray:
    """(C, n) codes: at each sample of the span, what the subtracted beat
    whose window holds it usually leaves there (the older chunk's profile
    before ``nh``, the newest's after; the larger where windows overlap)."""
    out = np.zeros((C, n))
    a = rt.pre
    for fid in f.tolist():
        prof_f = prof_hist if fid < nh else prof
        if prof_f is None:
            continue
        lo, hi = max(fid - a, 0), min(fid - a + prof_f.shape[1], n)  # as far as its beats' model reached
        if hi > lo:
            np.maximum(out[:, lo:hi], prof_f[:, lo - (fid - a):hi - (fid - a)], out=out[:, lo:hi])
    return out


def near_beat(f: np.ndarray, pos: np.ndarray, rt: Rates) -> np.ndarray:
    """Is each position (working samples from the span's start) in the
    burst window of one of the beats ``f`` (from :func:`beat_remnant`)?"""
    a, b = rt.burst
    return ((f[None, :] - a <= pos[:, None]) & (pos[:, None] < f[None, :] + b)).any(axis=1)


def beat_slot(f: np.ndarray, pos: np.ndarray, period: float | None) -> np.ndarray:
    """Could a beat the tracker missed lie at each position (working
    samples from the span's start)?  Not where the beats ``f`` (from
    :func:`beat_remnant`, in any order) on either side of it are under
    BEAT_GAP_X periods apart: no beat is missing there.  Where that cannot
    be told (no period, no beat on one side yet) it could."""
    if period is None or len(f) < 2:
        return np.ones(len(pos), dtype=bool)
    f = np.sort(f)
    i = np.searchsorted(f, pos)
    inner = (i > 0) & (i < len(f))
    gap = f[np.minimum(i, len(f) - 1)] - f[np.maximum(i - 1, 0)]
    return ~inner | (gap >= BEAT_GAP_X * period)


def is_beat_remnant(seg: np.ndarray, mdl: np.ndarray) -> bool:
    """Evidence that a candidate (its residual ``seg``, codes) is what a
    beat left behind: it lies on a subtracted beat (``mdl``: the model
    under it), is smaller than that beat, and has the shape of a misfit of
    it: a size, timing, width or rate error leaves (to first order) the
    beat, its slope, its slope times time, or its curvature behind, and the
    candidate is mostly a mix of those."""
    n = len(seg)
    if n < 4 or len(mdl) < n or not mdl.any():
        return False
    peak, beat = np.abs(seg).max(), np.abs(mdl).max()
    if peak > beat:
        return False
    if peak < REMNANT_SHARE * beat:
        # a misfit grows with the beat: this much smaller than the beat
        # under it, a twitch cannot be told from one (a detection limit
        # that rises with the heartbeat's size, said in docs/detector.md)
        return True
    d1 = gradient(mdl)
    tt = np.arange(n) - (n - 1) / 2
    basis = np.stack([np.ones(n), mdl, d1, tt * d1, gradient(d1)], axis=1)
    s = seg - seg.mean()
    ss = float((s * s).sum())
    if ss <= 0 or n <= basis.shape[1] + 2:
        return _corr_remnant(seg, mdl)
    coef, *_ = np.linalg.lstsq(basis, seg, rcond=None)
    fit = basis @ coef
    r2 = 1.0 - float(((seg - fit) ** 2).sum()) / ss
    return r2 >= REMNANT_R2 or _corr_remnant(seg, mdl)


def _corr_remnant(seg: np.ndarray, mdl: np.ndarray) -> bool:
    """The beat's own shape, or its slope's."""
    s = seg - seg.mean()
    best = 0.0
    for ref in (mdl, gradient(mdl)):
        r = ref - ref.mean()
        den = np.sqrt((s * s).sum() * (r * r).sum())
        if den > 0:
            best = max(best, abs(float((s * r).sum())) / den)
    return best >= REMNANT_CORR

def regions(r: np.ndarray, a_abs: int, final: bool, end_guard: int, hist: History, beats: BeatState,
            windows: list, faults: FaultState, cfg: DetectorConfig, rt: Rates,
            st: RegionState, slow_thr: np.ndarray | None = None) -> tuple[dict[int, list[Twitch]], RegionState]:
    """Twitch candidates on [the last chunk's residual + ``r``] (``r`` from
    working index ``a_abs``), per channel.  A region is decided once it began
    in the older chunk and has closed (at the end of the stream, all are).

    All channels are worked on at once, as one flat array of (channel,
    sample) in channel order: a region or run never crosses a channel."""
    fw = rt.fw
    span = np.concatenate([st.r_hist, r], axis=1)
    nh, n = st.r_hist.shape[1], span.shape[1]
    span0 = a_abs - nh
    act = moving_mean(np.abs(span), max(1, int(round(0.04 * fw))))
    k_hi = cfg.threshold_factor()
    # each chunk keeps the noise floor it was analysed with, so a region
    # decided one chunk later is judged as it would be at the end of a
    # recording: events do not depend on whether the stream went on
    # (an unknown floor is infinite: nothing is above it)
    sig = np.where(np.isnan(st.sigma), np.inf, st.sigma)
    sig_hist = st.sig_hist if st.sig_hist is not None else sig
    st.r_hist, st.sig_hist = r, sig
    merge = int(cfg.merge_ms / 1000 * fw)
    not_rest = not_rest_mask(windows, span0, span0 + n)
    beat_f, prof = beat_remnant(act, span0, nh, not_rest, beats, rt)
    prof_hist = st.prof_hist if st.prof_hist is not None else prof
    if prof is None:  # too few beats at rest in this chunk: the last chunk's profile serves
        prof = prof_hist
    st.prof_hist = prof
    above = _above(act, nh, REGION_SHARE * k_hi, sig, sig_hist, st)
    flat = np.flatnonzero(above)
    if not len(flat):
        return {}, st
    c_r, s_pos, e_pos, peak_act, s_flat, e_flat, rs = _find(flat, act, above, n, nh, merge, sig, sig_hist, k_hi,
                                                            final, span0, st)
    sig_c = np.where(s_pos < nh, sig_hist[c_r], sig[c_r])  # the floor where each began
    remnant = remnant_map(beat_f, n, nh, prof_hist, prof, rt, len(act))
    thr = _thresholds(act, nh, cfg.faint_factor(), sig, sig_hist, remnant, hist, span0, rt)
    cs = np.concatenate([[0], np.cumsum((act >= thr).ravel())])  # some sample of a region above them
    strong = cs[e_flat + 1] > cs[s_flat]
    c_r, s_pos, e_pos, peak_act, s_flat, e_flat, sig_c = (
        v[strong] for v in (c_r, s_pos, e_pos, peak_act, s_flat, e_flat, sig_c))
    if not len(c_r):
        return {}, st
    last = np.ones(len(c_r), dtype=bool)
    last[:-1] = c_r[1:] != c_r[:-1]
    follows = _follows(c_r, s_pos, e_pos, span0, st.last_end, fw)
    st.last_end[c_r[last]] = span0 + e_pos[last]
    s_pos = _onsets(s_pos, s_flat, e_flat, peak_act, rs, follows)
    moved = movement.short_movement_test(span, span0, hist, slow_thr, rt, cfg.max_twitch_ms)
    c_r, s_pos, e_pos, peak_act, sig_c, dur_ms = lengths(act, c_r, s_pos, e_pos, peak_act, sig_c, k_hi, merge,
                                                         cfg, rt, moved, band=span)
    ok = (dur_ms >= cfg.min_twitch_ms) & (dur_ms <= cfg.max_twitch_ms)
    if final:
        ok &= span0 + e_pos <= end_guard  # the last beats' windows are not whole
    ok, context = _at_rest(ok, not_rest, s_pos, e_pos)
    found = {c: [] for c in np.unique(c_r).tolist()}
    _judge(found, span, span0, (v[ok] for v in (c_r, s_pos, e_pos, dur_ms, peak_act, sig_c, context)),
           (beat_f, beats), hist, faults, rt, st, moved)
    return found, st


def _follows(c_r: np.ndarray, s_pos: np.ndarray, e_pos: np.ndarray, span0: int, last_end: np.ndarray,
             fw: float) -> np.ndarray:
    """Does each region (in channel order) begin within ``FOLLOW_S`` of the
    end of the region before it on its channel (``last_end``: each
    channel's last decided region's end, working index)?"""
    prev_end = last_end[c_r].astype(np.int64)
    same = np.zeros(len(c_r), dtype=bool)
    same[1:] = c_r[1:] == c_r[:-1]
    prev_end[1:][same[1:]] = span0 + e_pos[:-1][same[1:]]
    return span0 + s_pos - prev_end < int(FOLLOW_S * fw)


def _at_rest(ok: np.ndarray, not_rest: np.ndarray, s_pos: np.ndarray, e_pos: np.ndarray):
    """Of the regions ``ok`` so far, those to judge: at rest throughout, or
    begun before rest did (not counted, but context: their relaxation, at
    rest, must not count as a twitch of its own).  Returns that mask and
    which of them are context."""
    nr_cs = np.concatenate([[0], np.cumsum(not_rest)])
    n_nr = nr_cs[e_pos + 1] - nr_cs[s_pos]
    context = ok & (n_nr > 0) & (n_nr <= e_pos - s_pos)
    return ok & ((n_nr == 0) | context), context


def _thresholds(act: np.ndarray, nh: int, k: float, sig: np.ndarray, sig_hist: np.ndarray, remnant: np.ndarray,
                hist: History, span0: int, rt: Rates) -> np.ndarray:
    """(C, n) codes: the activity a twitch must reach at each sample of the
    span: ``k`` noise floors (the faint threshold; the older chunk's floors
    before ``nh``); where a beat was subtracted, also well above what this
    channel's beats usually leave at that point of the beat (``remnant``,
    from :func:`remnant_map`) and a share of the beat's own size."""
    n = act.shape[1]
    thr = np.empty_like(act)
    thr[:, :nh] = k * sig_hist[:, None]
    thr[:, nh:] = k * sig[:, None]
    np.maximum(thr, REMNANT_X_LEVEL * remnant, out=thr)
    m0 = span0 - hist.base
    if m0 >= 0 and hist.model.shape[1] >= m0 + n:
        mact = moving_mean(np.abs(hist.model[:, m0:m0 + n]), max(1, int(round(0.04 * rt.fw))))
        np.maximum(thr, REMNANT_BEAT_SHARE * mact, out=thr)
    return thr


def _judge(found: dict, span: np.ndarray, span0: int, cols, heart: tuple, hist: History,
           faults: FaultState, rt: Rates, st: RegionState, moved=None) -> None:
    """Candidates into ``found`` (per channel), less those on an excluded
    channel, beat remnants and short leg movements (into ``st.short_moves``;
    ``moved``: :func:`.movement.short_movement_test`'s test); ``cols``:
    channel, start, end, duration (ms), peak activity and floor of each
    region; ``heart``: the fiducials of
    the beats subtracted near the span (:func:`beat_remnant`) and the beat
    state, for whether each is at a tracked beat (:func:`near_beat`), could
    lie where a beat was missed (:func:`beat_slot`) and how like a beat it
    is while the heartbeat is tracked (its templates, from 0.1 s before its
    onset to 0.25 s after, what follows its end by 40 ms left out)."""
    pre, post = int(0.1 * rt.fw), int(0.25 * rt.fw)
    m, k_lag = max(1, int(round(0.04 * rt.fw))), max(1, int(round(ECHO_LAG_S * rt.fw)))
    c_r, s_pos, e_pos, dur_ms, peak_act, sig_c, context = cols
    beat_f, beats = heart
    at_beat, slot = near_beat(beat_f, s_pos, rt), beat_slot(beat_f, s_pos, beats.period)
    templates = beats.templates if beats.on else None
    for c, a, b, d, pa, sc, ab, cx, sl in zip(c_r.tolist(), s_pos.tolist(), e_pos.tolist(), dur_ms.tolist(),
                                              peak_act.tolist(), sig_c.tolist(), at_beat.tolist(), context.tolist(),
                                              slot.tolist()):
        if bad_during(faults, c, span0 + a, span0 + b + 1):
            continue
        m0 = span0 + a - hist.base
        if is_beat_remnant(span[c, a:b + 1], hist.model[c, m0:m0 + b + 1 - a]):
            st.rejected_remnants += 1
            continue
        if moved is not None and not cx and moved(c, a, b, d):
            st.short_moves.append((span0 + a, span0 + b, c))
            continue
        like = 0.0 if templates is None else beat_likeness(span[c, max(a - pre, 0):a + post], templates[c],
                                                           b + 1 + m - max(a - pre, 0))
        # every channel around it, for the rules' echo test (rules.explained)
        lo, hi = a - m - k_lag, b + 1 + m + k_lag
        snip = span[:, lo:hi].copy() if lo >= 0 and hi <= span.shape[1] else None
        found[c].append(Twitch(rt.t(span0 + a), c, d, float(np.abs(span[c, a:b + 1]).max()), pa / sc, at_beat=ab,
                               beat_like=like, context=cx, snip=snip, snip_lag=k_lag, beat_slot=sl))


def _above(act: np.ndarray, nh: int, k: float, sig: np.ndarray, sig_hist: np.ndarray, st: RegionState) -> np.ndarray:
    """Where the activity passes ``k`` floors (the older chunk's part with
    its own floors); notes for the next call, whose span starts where this
    one's newest chunk does, whether the sample before it was quiet."""
    above = act > k * sig[:, None]
    above[:, :nh] = act[:, :nh] > k * sig_hist[:, None]
    quiet_before = ~above[:, nh - 1] if nh else np.ones(len(act), dtype=bool)
    st.quiet_before = st.quiet_next if st.quiet_next is not None else np.ones(len(act), dtype=bool)
    st.quiet_next = quiet_before
    return above


def _onsets(s_pos: np.ndarray, s_flat: np.ndarray, e_flat: np.ndarray, peak: np.ndarray, runs,
            follows: np.ndarray | None = None) -> np.ndarray:
    """Each region's onset: its first strong stretch of a tenth of its peak
    or more (not a weak beat remnant bridged to its front); if it
    ``follows`` another on its channel closely, of ONSET_SHARE_AFTER of it
    (its front may be the last twitch's ringing); never past its peak.
    ``runs``: the strong runs' flat starts and peaks."""
    rs, rpk = runs
    lo = np.searchsorted(rs, s_flat)
    hi = np.searchsorted(rs, e_flat, side="right")
    out = s_pos.copy()
    for i in range(len(s_pos)):
        if hi[i] <= lo[i] or rpk[lo[i]:hi[i]].max() < peak[i]:
            continue  # its peak's run was judged on another chunk's floor, not strong: the onset stays
        share = ONSET_SHARE_AFTER if follows is not None and follows[i] else ONSET_SHARE
        for j in range(lo[i], hi[i]):
            if rpk[j] >= share * peak[i]:
                out[i] = s_pos[i] + (rs[j] - s_flat[i])
                break
    return out

def _find(flat, act, above, n, nh, merge, sig, sig_hist, k_hi, final, span0, st: RegionState):
    """Regions from the flat indices of samples above the low threshold:
    (channel, start, end, peak activity, flat start, flat end) of those due
    now, and the flat starts of the strong runs (for onsets)."""
    ch, pos = np.divmod(flat, n)
    new_ch = np.diff(ch) != 0
    gaps = np.diff(pos)
    cut = np.flatnonzero((gaps > merge) | new_ch) + 1
    s = np.concatenate([[0], cut])  # region starts, as indices into flat
    e = np.concatenate([cut - 1, [len(flat) - 1]])
    act_above = np.where(above, act, 0.0).ravel()
    # each region's peak: from its start to the next start only its own
    # samples are above the low threshold
    peak_act = np.maximum.reduceat(act_above, flat[s])
    # strong runs (unbridged), for the onsets
    rcut = np.flatnonzero((gaps > 1) | new_ch) + 1
    rs = flat[np.concatenate([[0], rcut])]
    rpk = np.maximum.reduceat(act_above, rs)
    rs_ch, rs_pos = np.divmod(rs, n)
    strong_run = rpk >= k_hi * np.where(rs_pos < nh, sig_hist[rs_ch], sig[rs_ch])
    rs, rpk = rs[strong_run], rpk[strong_run]
    c_r, s_pos, e_pos = ch[s], pos[s], pos[e]
    keep = np.ones(len(s), dtype=bool)
    if not final:
        keep &= s_pos < nh  # began in this chunk: decide next time
        keep &= e_pos < n - merge  # still open at the end of what we have
    if nh:
        # began before the span: decided earlier; one that begins on the
        # span's first sample began there only if the sample before it was
        # quiet (it waited a chunk for its end: a twitch on a chunk's edge)
        keep &= (s_pos > 0) | st.quiet_before[c_r]
    # regions of one channel are more than `merge` apart, so only the first
    # kept one can be too close to the last one decided before
    k_idx = np.flatnonzero(keep)
    first_of_ch = np.ones(len(k_idx), dtype=bool)
    first_of_ch[1:] = c_r[k_idx[1:]] != c_r[k_idx[:-1]]
    too_close = first_of_ch & (span0 + s_pos[k_idx] - st.last_end[c_r[k_idx]] < merge)
    keep[k_idx[too_close]] = False
    return tuple(v[keep] for v in (c_r, s_pos, e_pos, peak_act, flat[s], flat[e])) + ((rs, rpk),)
