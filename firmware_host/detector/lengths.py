"""How long a twitch region is: over-long ones cut into the twitches in them.

A region over ``SPLIT_MS`` may be several twitches close together (a bad
spell, a long one and the next) or one big twitch's long tail: it is cut
where its activity falls below ``SPLIT_SHARE`` of its peak, and also at a
lull there of ``SPLIT_LULL_MS`` after which it rises as high as before (the
next twitch, where a relaxation lobe ran into it), and a part still over
``max_twitch_ms`` again at ``RESPLIT_SHARE`` of its own peak, unless its
slow swing says a leg moved (:func:`.movement.short_movement_test`).  Any
part, long or not, is then cut where a new twitch's front rises out of the
last one's relaxation (:func:`fronts`).
"""
from __future__ import annotations

import numpy as np

from .params import (FRONT_PRE_S, FRONT_SLOPE_X, FRONT_STEP_X, FRONT_VALLEY, RESPLIT_SHARE, SPLIT_LULL_MS, SPLIT_MS,
                     SPLIT_RISE_OF_TOP, SPLIT_SHARE, DetectorConfig, Rates)


def split_long(act: np.ndarray, s: int, e: int, peak: float, thr: float, merge: int,
               share: float = SPLIT_SHARE, lull: int | None = None) -> list:
    """Parts (start, end, peak) of the region [s, e] of one channel's
    activity: runs above ``share`` (15%) of the region's peak, gaps up to
    ``merge`` bridged, each peaking above ``thr``; the region itself if none.
    With ``lull`` (samples), a run after a shorter gap that is still over
    ``lull`` begins a part too if it rises as high as the part before it
    did and to half the region's largest run so far: a twitch's relaxation
    lobes stay well under it (a third by 0.6 s, RELAX_ENVELOPE), so such a
    rise after a lull is the next twitch (the one that follows a long
    twitch within 0.4-0.8 s, or the twitch a relaxation lobe ran into)."""
    seg = act[s:e + 1]
    idx = np.flatnonzero(seg > share * peak)
    if not len(idx):  # (a region's peak outside it: never, but no night is lost to it)
        return [(s, e, peak)]
    gaps = np.diff(idx)
    runs = np.split(idx, np.flatnonzero(gaps > min(merge, lull if lull is not None else merge)) + 1)
    parts, part_pk = [[runs[0]]], float(seg[runs[0]].max())
    top = part_pk  # the region's largest run so far
    for prev, run in zip(runs[:-1], runs[1:]):
        pk = float(seg[run].max())
        if run[0] - prev[-1] > merge or (pk >= part_pk and pk >= SPLIT_RISE_OF_TOP * top):
            parts.append([run])
            part_pk = pk
        else:
            parts[-1].append(run)
            part_pk = max(part_pk, pk)
        top = max(top, pk)
    out = []
    for part in parts:
        a, b = int(part[0][0]), int(part[-1][-1])
        pk = float(seg[a:b + 1].max())
        if pk >= thr:
            out.append((s + a, s + b, pk))
    return out or [(s, e, peak)]


def lengths(act, c_r, s_pos, e_pos, peak_act, sig_c, k_hi, merge, cfg: DetectorConfig, rt: Rates,
            slow_dominated=None, band: np.ndarray | None = None):
    """Each region's duration (ms); a region over ``SPLIT_MS`` may be
    several twitches close together (a bad spell, a long one and the next)
    or one big twitch's long tail: cut where its activity falls below 15%
    of its peak (or lulls there, then as high a rise: :func:`split_long`),
    each part judged (a part that is a twitch's relaxation is then the
    rules' to drop).  A part still over ``max_twitch_ms`` is cut
    again at RESPLIT_SHARE of its own peak (two twitches 0.6-0.9 s apart,
    the second riding on the first's relaxation), unless its slow swing
    says a leg moved (``slow_dominated(channel, start, end[, dur_ms])``).
    Given the ``band`` signal the activity was taken of, every part is then
    cut at the fronts of twitches that began in it (:func:`fronts`), unless
    it is a short leg movement."""
    cols = [c_r, s_pos, e_pos, peak_act, sig_c]
    dur_ms = (e_pos - s_pos + 1) / rt.fw * 1000
    lull = int(round(SPLIT_LULL_MS / 1000 * rt.fw))
    long_i = np.flatnonzero(dur_ms > SPLIT_MS)
    if len(long_i):
        cols = _split(act, long_i, cols, SPLIT_SHARE, k_hi, merge, lull, slow_dominated)
        dur_ms = _remeasure(act, cols, cfg, rt)
        if slow_dominated is not None:
            c_r, s_pos, e_pos = cols[:3]
            again = np.array([i for i in np.flatnonzero(dur_ms > cfg.max_twitch_ms)
                              if not slow_dominated(int(c_r[i]), int(s_pos[i]), int(e_pos[i]))], dtype=np.int64)
            if len(again):
                cols = _split(act, again, cols, RESPLIT_SHARE, k_hi, merge, lull)
                dur_ms = _remeasure(act, cols, cfg, rt)
    if band is not None:
        cols, cut = _cut_at_fronts(act, band, cols, dur_ms, merge, rt, slow_dominated)
        if cut:
            dur_ms = _remeasure(act, cols, cfg, rt)
    return (*cols, dur_ms)


def fronts(a: np.ndarray, x: np.ndarray, merge: int, pre: int) -> list[int]:
    """Where in a part (its activity ``a`` and band signal ``x``, codes, at
    the working rate) a new twitch begins, as indices of ``a``: at the
    valley before a rise whose top is over twice the valley
    (``FRONT_VALLEY``), ``merge`` samples or more after the part's (or the
    last cut's) start, where the band steps in one sample (from two before
    the valley to two after the top) at least ``FRONT_STEP_X`` times its
    largest |band| in the ``pre`` samples before the valley, or
    ``FRONT_SLOPE_X`` times its steepest step there.  A contraction moves
    the skin in a few milliseconds; the twitch before it, relaxing, swings
    the band slowly and ever less, so a step that large is something new
    beginning, whatever its size against the twitch before (a relaxation
    lobe may reach 0.9 of it)."""
    tops = np.flatnonzero((a[1:-1] >= a[:-2]) & (a[1:-1] > a[2:])) + 1
    cuts, start, last = [], 0, 0
    for i in tops.tolist():
        if i - start < merge:  # its valley, at or before it, is too near the start too
            last = i
            continue
        v = last + int(np.argmin(a[last:i + 1]))
        if v - start >= merge and a[v] < FRONT_VALLEY * a[i]:
            before = x[max(0, v - pre):v + 1]
            step = float(np.abs(np.diff(x[max(v - 2, 0):i + 3])).max())
            swing = float(np.abs(before).max())
            steepest = float(np.abs(np.diff(before)).max()) if len(before) > 1 else np.inf
            if step >= min(FRONT_STEP_X * swing, FRONT_SLOPE_X * steepest):
                cuts.append(v)
                start = v
        last = i
    return cuts


def _cut_at_fronts(act, band, cols, dur_ms, merge, rt: Rates, moved=None):
    """``cols`` (channel, start, end, peak, floor) with each part cut at its
    :func:`fronts` (a part ``moved`` calls a short leg movement is not);
    and whether any was."""
    c_r, s_pos, e_pos, peak_act, sig_c = cols
    pre = int(round(FRONT_PRE_S * rt.fw))
    parts = {}
    for i in np.flatnonzero(e_pos - s_pos > merge).tolist():
        c, s, e = int(c_r[i]), int(s_pos[i]), int(e_pos[i])
        cuts = fronts(act[c, s:e + 1], band[c, s:e + 1], merge, pre)
        if cuts and not (moved is not None and moved(c, s, e, float(dur_ms[i]))):
            bounds = [s] + [s + u for u in cuts] + [e + 1]
            parts[i] = [(a, b - 1, float(act[c, a:b].max())) for a, b in zip(bounds[:-1], bounds[1:])]
    if not parts:
        return cols, False
    return _apply(cols, list(parts), list(parts.values())), True


def _split(act, idx, cols, share, k_hi, merge, lull, moved=None):
    """The regions ``idx`` of ``cols`` (channel, start, end, peak, floor)
    cut by :func:`split_long`, at lulls too unless ``moved(channel, start,
    end)`` says a leg moved (a movement's parts are no twitches)."""
    c_r, s_pos, e_pos, peak_act, sig_c = cols
    parts = [split_long(act[c_r[i]], int(s_pos[i]), int(e_pos[i]), float(peak_act[i]), k_hi * float(sig_c[i]), merge,
                        share, None if moved is not None and moved(int(c_r[i]), int(s_pos[i]), int(e_pos[i])) else lull)
             for i in idx]
    return _apply(cols, idx, parts)


def _apply(cols, idx, parts):
    """``cols`` with each region ``idx[k]`` replaced by ``parts[k]``, a list
    of (start, end, peak): each part keeps its region's channel and floor."""
    c_r, s_pos, e_pos, peak_act, sig_c = cols
    rep = np.ones(len(c_r), dtype=np.int64)
    rep[idx] = [len(p) for p in parts]
    c_r, peak_act, sig_c = (np.repeat(v, rep) for v in (c_r, peak_act, sig_c))
    s_pos, e_pos = np.repeat(s_pos, rep), np.repeat(e_pos, rep)
    first = np.concatenate([[0], np.cumsum(rep)[:-1]])
    for i, p in zip(idx, parts):
        for j, (a, b, pk) in enumerate(p):
            s_pos[first[i] + j], e_pos[first[i] + j], peak_act[first[i] + j] = a, b, pk
    return [c_r, s_pos, e_pos, peak_act, sig_c]


def _remeasure(act, cols, cfg: DetectorConfig, rt: Rates) -> np.ndarray:
    """Durations (ms); one still over ``max_twitch_ms`` measured as how long
    it stays above a tenth of its peak (a big twitch's tail)."""
    c_r, s_pos, e_pos, peak_act, _ = cols
    dur_ms = (e_pos - s_pos + 1) / rt.fw * 1000
    for i in np.flatnonzero(dur_ms > cfg.max_twitch_ms):
        hi_i = np.flatnonzero(act[c_r[i], s_pos[i]:e_pos[i] + 1] > 0.1 * peak_act[i])
        dur_ms[i] = (hi_i[-1] - hi_i[0] + 1) / rt.fw * 1000
    return dur_ms
