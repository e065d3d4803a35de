"""The beat fit: every beat aligned, scaled and subtracted on each channel.

Each channel keeps a beat template (learned from beats at rest only, the
first from six of them); each beat is aligned to it by cross-correlation
and fitted per channel (size, timing, width) within bounds a heartbeat
keeps to; a beat the template does not fit is not subtracted.  The model
each beat was given is kept, so later template updates do not change the
past.  A channel whose beats stop fitting learns its template again.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .arrays import gradient, masked_median
from .history import History
from .movement import overlaps
from .params import TAIL_BEATS, TAIL_MAX_S, TAIL_MIN_BEATS, TAIL_OVERLAP_S, TAIL_PERIOD_X, TAIL_X_NOISE, Rates

if TYPE_CHECKING:
    from .heartbeat import BeatState


def fit(hist: History, good: np.ndarray, windows: list, sigma: np.ndarray, rt: Rates, st: BeatState,
        excluded=None) -> BeatState:
    """Align, scale and subtract every beat whose window is in ``hist`` and
    was not fitted before (its model added to ``hist.model``); learn the
    templates from the beats that fit; then the pulse's later part after
    each (:func:`_tails`; ``excluded(a_abs, b_abs)``: where a channel is
    out for a fault, as :func:`.heartbeat.track` has it)."""
    _fit_beats(hist, good, windows, sigma, rt, st)
    _tails(hist, good, windows, rt, st, excluded)
    return st


def _fit_beats(hist: History, good: np.ndarray, windows: list, sigma: np.ndarray, rt: Rates, st: BeatState) -> None:
    """The beats' own windows (see :func:`fit`)."""
    K, pre, post = rt.K, rt.pre, rt.post
    y, base = hist.y, hist.base
    # beats come in order and are fitted in order: the ones to do are those
    # after the last fitted whose window (with slack) is in the buffer
    todo = []
    for f in reversed(st.beats):
        if f <= st.last_fitted:
            break
        if f - pre - K - base >= 0 and f + post + K - base <= y.shape[1]:
            todo.append(f)
    if not todo:
        return
    todo.reverse()
    st.last_fitted = todo[-1]
    if st.templates is None:
        if not _first_template(todo, y, base, windows, rt, st):
            return
        # the beats it was learned from are fitted too, so the night's first
        # seconds are as clean as the rest
        inbuf = [f for f in st.boot_f if f - pre - K - base >= 0]
        todo = sorted(set(inbuf) | set(todo))
        st.boot, st.boot_f = [], []
    T = st.templates  # (C, L)
    Td = gradient(T)
    fids = np.array(todo) - base
    noise = np.where(np.isnan(sigma), 1.0, sigma)
    Sb, a, scale, use, best, rho_b = _align(y, fids, T, good, noise, rt)
    m, sc, delta = _models(Sb, a, scale, use, T, Td, good, rt)
    # a beat the template does not fit at any lag was not a beat (or not
    # one this template knows): subtract nothing rather than a misfit
    kept = (sc > 0) & (rho_b >= 0.3)
    if kept.any():
        f_al = np.array(todo, dtype=np.int64)[kept] + (best - K)[kept]
        st.fit_f.append(f_al)
        starts = (f_al - pre - base).tolist()
        mk = m[kept]  # (k, C, L)
        # windows of close beats (an ectopic one) overlap: add each model in
        # full, beat after beat (the order np.add.at would add them in, so the
        # sums are the same to the bit), by slices: add.at costs far more
        if starts and min(starts) >= 0 and max(starts) + rt.L <= hist.model.shape[1]:
            for k, s0 in enumerate(starts):
                hist.model[:, s0:s0 + rt.L] += mk[k]
        else:
            idx = (f_al - pre - base)[:, None] + np.arange(rt.L)[None, :]  # (k, L)
            mk = mk.transpose(1, 0, 2)  # (C, k, L)
            rows = np.broadcast_to(np.arange(len(mk))[:, None, None], mk.shape)
            np.add.at(hist.model, (rows, np.broadcast_to(idx[None], mk.shape)), mk)
        st.tail_todo += list(zip(f_al.tolist(), sc[kept].tolist()))
    seen = np.array([f not in st.placed for f in todo])
    _learn_templates(Sb, m, sc, kept, delta, Td, use, noise, seen, fids, base, windows, good, rt, st)
    st.placed.difference_update(todo)
    # fits whose windows ended before the buffer's start can matter no more
    while st.fit_f and st.fit_f[0][-1] + 2 * rt.L < base:
        del st.fit_f[0]


def _tails(hist: History, good: np.ndarray, windows: list, rt: Rates, st: BeatState, excluded=None) -> None:
    """The pulse's later part: from TAIL_OVERLAP_S inside each fitted
    beat's window to as far into the next fitted beat's (what their models
    leave between them), TAIL_MAX_S past the window at most.  Learned per
    channel from the beats at rest (the median of the last TAIL_BEATS, each
    over its beat's scale); subtracted (fitted per beat, :func:`_tail_model`)
    on the good channels where it stands TAIL_X_NOISE times the beats'
    spread there.  Only between beats a period apart (not across a beat that was
    not fitted, an ectopic beat's pause), with a gap between their windows
    (not at a fast heart).  A beat waits for the one after it."""
    if not st.tail_todo:
        return
    y, base = hist.y, hist.base
    ov = int(round(TAIL_OVERLAP_S * rt.fw))
    n_max = int(round(TAIL_MAX_S * rt.fw)) + 2 * ov
    due, period = [], st.period or 0.0
    for (f, sc), (f_next, _) in zip(st.tail_todo[:-1], st.tail_todo[1:]):
        if f_next - f > TAIL_PERIOD_X * period:
            continue
        # up to a little inside the next fitted beat's window (its model is
        # in: what the two leave between them, the seam, is learned too)
        a, b = f + rt.post - ov, min(f_next - rt.pre + ov, f + rt.post + n_max - ov)
        if a - base >= 0 and b - a > 2 * ov and b - base <= y.shape[1]:  # a gap between the two windows
            due.append((f, sc, a, b))
    st.tail_todo = st.tail_todo[-1:]  # the last waits for the beat after it
    if not due:
        return
    _learn_tails(hist, good, windows, rt, st, excluded, due, n_max)
    if len(st.tail_recent) < TAIL_MIN_BEATS:
        st.tail_hold = (st.tail_hold + due)[-4 * TAIL_BEATS:]  # done once enough beats tell
        return
    due, st.tail_hold = st.tail_hold + due, []
    R = st.tail_recent
    tail = tail_median(R)
    # what stands clear of the beats' own spread there (the residual's
    # noise, a twitch on a beat or two: the median absolute deviation over
    # the beats, its median over the points any beat reached), known from
    # the first beats on
    spread = 1.4826 * _over_beats(np.abs(R - tail[None]))
    noise = masked_median(spread, ~np.isnan(R).all(axis=0))  # per channel (0: none reached)
    clear = (np.abs(tail).max(axis=1) >= TAIL_X_NOISE * noise) & (noise > 0) & good  # not on a sensor that is out
    # and clear in the last batch of beats too: a wave repeats, a sensor's
    # jolt back from the rail does not
    on = clear & (st.tail_clear if st.tail_clear is not None else clear)
    st.tail_clear, st.tail_on = clear, on
    if not on.any():
        return
    for f, sc, a, b in due:
        if sc > 0 and a - base >= 0:
            hist.model[on, a - base:b - base] += _tail_model(y[on, a - base:b - base] - hist.model[on, a - base:b - base],
                                                             tail[on, :b - a], sc, rt.K)


def _learn_tails(hist: History, good: np.ndarray, windows: list, rt: Rates, st: BeatState, excluded,
                 due: list, n_max: int) -> None:
    """Into ``st.tail_recent`` (the last TAIL_BEATS): each due beat at rest,
    what the models leave in its later part over its scale, NaN past its
    end and where a sensor was out."""
    f_d, sc_d, a_d, b_d = (np.array(v) for v in zip(*due))
    use = np.flatnonzero((sc_d > 0) & ~overlaps(windows, f_d - rt.pre, b_d))[-TAIL_BEATS:]  # at rest; the last kept
    if not len(use):
        return
    y, base = hist.y, hist.base
    f_d, sc_d, a_d, b_d = f_d[use], sc_d[use], a_d[use], b_d[use]
    idx = a_d[:, None] + np.arange(n_max)[None, :]  # (k, n) absolute
    col = np.minimum(idx, base + y.shape[1] - 1) - base
    w = ((y[:, col] - hist.model[:, col]) / sc_d[None, :, None]).transpose(1, 0, 2)  # (k, C, n)
    ok = np.repeat(good[None, :], len(f_d), axis=0)
    if excluded is not None:
        a0 = int(a_d.min())
        out = np.zeros((len(good), int(b_d.max()) - a0 + 1), dtype=np.int64)
        np.cumsum(excluded(a0, int(b_d.max())), axis=1, out=out[:, 1:])  # (C, span + 1): samples out so far
        ok &= (out[:, b_d - a0] == out[:, a_d - a0]).T  # none out between a and b
    w[~((idx < b_d[:, None])[:, None, :] & ok[:, :, None])] = np.nan
    st.tail_recent = np.concatenate([st.tail_recent, w])[-TAIL_BEATS:] if len(st.tail_recent) else w


def _tail_model(r: np.ndarray, T: np.ndarray, sc: float, K: int) -> np.ndarray:
    """One beat's later wave on each channel (rows of ``r``: what is left
    there, codes): the learned shape ``T`` at the beat's size and timing
    (least squares on ``T`` and its slope, as the beat's own fit), or at
    the beat's scale ``sc`` where that fit leaves the bounds a heartbeat
    keeps to (a twitch on the wave)."""
    D = gradient(T)
    tt, dd, td = (T * T).sum(1), (D * D).sum(1), (T * D).sum(1)
    rt_, rd = (r * T).sum(1), (r * D).sum(1)
    det = tt * dd - td * td
    ok = det > 1e-12 * np.maximum(tt * dd, 1e-300)
    d = np.where(ok, det, 1.0)
    amp, shift = (dd * rt_ - td * rd) / d, (tt * rd - td * rt_) / d
    own = ok & (amp > 0.5 * sc) & (amp < 2.0 * sc) & (np.abs(shift) < 0.5 * K * np.abs(amp))
    return np.where(own[:, None], amp[:, None] * T + shift[:, None] * D, sc * T)


def tail_median(R: np.ndarray) -> np.ndarray:
    """(C, n): at each point, the median over the windows ``R`` (k, C, n)
    that reach it (NaN where one does not), as np.nanmedian gives it; 0
    where fewer than TAIL_MIN_BEATS do."""
    cnt = (~np.isnan(R)).sum(axis=0)
    return np.where(cnt >= TAIL_MIN_BEATS, _over_beats(R), 0.0)


def _over_beats(R: np.ndarray) -> np.ndarray:
    """(C, n): np.nanmedian(R, axis=0) to the bit, 0 where no window
    reaches (arrays.masked_median over the beats, made the last axis:
    nanmedian's masked path costs an 8-h replay a second)."""
    k, C, n = R.shape
    v = R.transpose(1, 2, 0).reshape(C * n, k)
    return masked_median(v, ~np.isnan(v)).reshape(C, n)


def _align(y: np.ndarray, fids: np.ndarray, T: np.ndarray, good: np.ndarray, noise: np.ndarray, rt: Rates):
    """Each beat's window aligned to the templates ``T`` by normalised
    cross-correlation over +-K lags, summed over the channels that fit
    (a channel a twitch disturbed is left out on the second pass).
    Returns the aligned windows (B, C, L), the template's share in each,
    each beat's scale, the channels used, the best lag and the fit's median
    correlation."""
    K, pre, L = rt.K, rt.pre, rt.L
    nl = 2 * K + 1
    B, C = len(fids), len(T)
    # each beat's window with K samples of slack either side: (B, C, L + 2K),
    # and its L-sample windows at every lag: (B, C, lags, L), a view
    slack_idx = np.arange(L + 2 * K)[None, :] - pre - K
    W = y[np.arange(C)[None, :, None], (fids[:, None] + slack_idx)[:, None, :]]  # contiguous
    windows_l = np.lib.stride_tricks.as_strided(W, (B, C, nl, L), W.strides + W.strides[2:], writeable=False)
    dot = np.einsum("bcxl,cl->bcx", windows_l, T)  # (B, C, lags)
    cs = np.zeros((B, C, L + 2 * K + 1))
    np.cumsum(W * W, axis=2, out=cs[:, :, 1:])
    sn = np.sqrt(np.maximum(cs[:, :, L:L + nl] - cs[:, :, :nl], 0.0)) + 1e-9
    tn = np.sqrt((T * T).sum(axis=1)) + 1e-9  # (C,)
    rho = dot / (sn * tn[:, None])  # (B, C, lags)
    bi, ci = np.arange(B)[:, None], np.arange(C)[None, :]
    err_scale = noise + 0.05 * tn / np.sqrt(L)
    use = np.repeat(good[None, :], B, axis=0)  # channels a beat's fit listens to
    tn_2 = tn ** 2
    for _ in range(2):  # fit, then refit without channels a twitch disturbed
        score = np.einsum("bcx,bc->bx", rho, use.astype(float))  # (B, lags)
        best = score.argmax(axis=1)
        Sb = windows_l[bi, ci, best[:, None]]  # (B, C, L)
        a = dot[bi, ci, best[:, None]] / tn_2  # the template's share in each window
        scale = np.clip(masked_median(a, use), 0.4, 1.8)
        d = Sb - scale[:, None, None] * T[None]
        err = np.sqrt(np.einsum("bcl,bcl->bc", d, d) / L) / err_scale
        worst = np.where(use, err, -np.inf).argmax(axis=1)
        out_i = (err[np.arange(B), worst] > 4.0) & (use.sum(axis=1) >= 3)
        if not out_i.any():
            break
        use[out_i, worst[out_i]] = False
    return Sb, a, scale, use, best, masked_median(rho[bi, ci, best[:, None]], use)


def _models(Sb, a, scale, use, T, Td, good, rt: Rates):
    """Each beat's model (B, C, L) in codes: the template scaled and shifted
    by the beat's common timing, or, where it stays within the bounds a
    heartbeat keeps to, each channel's own size, timing and width (least
    squares on the template, its slope and its slope times time).  Also
    each beat's scale (0: no channel fitted) and timing offset."""
    K, L = rt.K, rt.L
    Td_n = (Td * Td).sum(axis=1) + 1e-9
    # the template's slope: how far each beat is from the template's timing
    bcoef = (np.einsum("bcl,cl->bc", Sb, Td) - a * np.einsum("cl,cl->c", T, Td)) / Td_n
    sc = np.where(use.any(axis=1), scale, 0.0)
    ok = use & (a > 0.3)
    delta = np.clip(masked_median(bcoef / np.where(ok, a, 1.0), ok), -1, 1)
    m = sc[:, None, None] * (T[None] + delta[:, None, None] * Td[None])
    Bas = np.stack([T, Td, (np.arange(L) - rt.pre)[None, :] * Td], axis=1)  # (C, 3, L)
    G_inv = np.linalg.inv(np.einsum("cil,cjl->cij", Bas, Bas) + 1e-9 * np.eye(3)[None])  # (C, 3, 3)
    coef = np.einsum("cij,bcj->bci", G_inv, np.einsum("bcl,cil->bci", Sb, Bas))  # (B, C, 3)
    amp = coef[..., 0]
    own = good[None, :] & (amp > 0.5 * sc[:, None]) & (amp < 2.0 * sc[:, None])
    own &= (np.abs(coef[..., 1]) < 0.5 * K * np.abs(amp)) & (np.abs(coef[..., 2]) < 0.1 * np.abs(amp))
    return np.where(own[..., None], np.einsum("bci,cil->bcl", coef, Bas), m), sc, delta


def _first_template(todo: list, y: np.ndarray, base: int, windows: list, rt: Rates, st: BeatState) -> bool:
    """Gather beats at rest (never a movement's) for the first template;
    True once it is learned (the median of six)."""
    f_abs = np.array(todo)
    at_rest = ~overlaps(windows, f_abs - rt.pre, f_abs + rt.post)
    for f in f_abs[at_rest].tolist():
        s = f - base
        st.boot.append(y[:, s - rt.pre:s + rt.post].copy())
        st.boot_f.append(f)
    if len(st.boot) < 6:
        return False
    st.templates = np.median(np.stack(st.boot), axis=0)
    return True


def _learn_templates(Sb, m, sc, kept, delta, Td, use, noise, seen, fids, base, windows, good, rt: Rates,
                     st: BeatState) -> None:
    """Robust template update from channels that fit well: the running mean
    (weight 0.1 per beat, in beat order) of each beat's aligned shape; a
    channel whose beats have stopped fitting (the sensor moved, the strap
    was tightened) learns its template again from its last beats."""
    T = st.templates
    e = np.abs(Sb - m).max(axis=2)  # (B, C)
    lim = 6 * noise + 0.3 * np.abs(T).max(axis=1)
    # only beats seen as peaks teach the template (not those the rhythm placed)
    upd = use & (e < lim) & kept[:, None] & seen[:, None]
    if upd.any():
        later = np.cumsum(upd[::-1], axis=0)[::-1] - upd  # updates after this beat, per channel
        w = np.where(upd, 0.1 * 0.9 ** later, 0.0)  # (B, C)
        target = Sb / np.where(kept, sc, 1.0)[:, None, None] - delta[:, None, None] * Td[None]
        T *= (0.9 ** upd.sum(axis=0))[:, None]
        T += np.einsum("bc,bcl->cl", w, target)
    at_rest = ~overlaps(windows, fids + base - rt.pre, fids + base + rt.post) & seen
    if at_rest.any():
        u = upd[at_rest]
        st.recent = np.concatenate([st.recent, Sb[at_rest]])[-8:]
        trailing = np.argmax(u[::-1], axis=0)  # beats since the last update, per channel
        st.stale = np.where(u.any(axis=0), trailing, st.stale + len(u)) * good
    relearn = (st.stale >= 8) & good
    if relearn.any() and len(st.recent) >= 8:
        T[relearn] = np.median(st.recent[:, relearn, :], axis=0)
        st.stale[relearn] = 0
        st.relearned += int(relearn.sum())
