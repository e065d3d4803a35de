"""How long a twitch region is: over-long ones cut into the twitches in them.

A region over ``SPLIT_MS`` may be several twitches close together (a bad
spell, a long one and the next) or one big twitch's long tail: it is cut
where its activity falls below ``SPLIT_SHARE`` of its peak, and also at a
lull there of ``SPLIT_LULL_MS`` after which it rises as high as before (the
next twitch, where a relaxation lobe ran into it), and a part still over
``max_twitch_ms`` again at ``RESPLIT_SHARE`` of its own peak, unless its
slow swing says a leg moved (:func:`.movement.short_movement_test`).
"""
from __future__ import annotations

import numpy as np

from .params import RESPLIT_SHARE, SPLIT_LULL_MS, SPLIT_MS, SPLIT_RISE_OF_TOP, SPLIT_SHARE, DetectorConfig, Rates


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
             slow_dominated=None):
    """Each region's duration (ms); a region over ``SPLIT_MS`` may be
    several twitches close together (a bad spell, a long one and the next)
    or one big twitch's long tail: cut where its activity falls below 15%
    of its peak (or lulls there, then as high a rise: :func:`split_long`),
    each part judged (a part that is a twitch's relaxation is then the
    rules' to drop).  A part still over ``max_twitch_ms`` is cut
    again at RESPLIT_SHARE of its own peak (two twitches 0.6-0.9 s apart,
    the second riding on the first's relaxation), unless its slow swing
    says a leg moved (``slow_dominated(channel, start, end)``)."""
    fw = rt.fw
    cols = [c_r, s_pos, e_pos, peak_act, sig_c]
    dur_ms = (e_pos - s_pos + 1) / fw * 1000
    long_i = np.flatnonzero(dur_ms > SPLIT_MS)
    if not len(long_i):
        return c_r, s_pos, e_pos, peak_act, sig_c, dur_ms
    lull = int(round(SPLIT_LULL_MS / 1000 * fw))
    cols = _split(act, long_i, cols, SPLIT_SHARE, k_hi, merge, lull, slow_dominated)
    dur_ms = _remeasure(act, cols, cfg, rt)
    if slow_dominated is not None:
        c_r, s_pos, e_pos = cols[:3]
        again = np.array([i for i in np.flatnonzero(dur_ms > cfg.max_twitch_ms)
                          if not slow_dominated(int(c_r[i]), int(s_pos[i]), int(e_pos[i]))], dtype=np.int64)
        if len(again):
            cols = _split(act, again, cols, RESPLIT_SHARE, k_hi, merge, lull)
            dur_ms = _remeasure(act, cols, cfg, rt)
    return (*cols, dur_ms)


def _split(act, idx, cols, share, k_hi, merge, lull, moved=None):
    """The regions ``idx`` of ``cols`` (channel, start, end, peak, floor)
    cut by :func:`split_long`, at lulls too unless ``moved(channel, start,
    end)`` says a leg moved (a movement's parts are no twitches)."""
    c_r, s_pos, e_pos, peak_act, sig_c = cols
    parts = [split_long(act[c_r[i]], int(s_pos[i]), int(e_pos[i]), float(peak_act[i]), k_hi * float(sig_c[i]), merge,
                        share, None if moved is not None and moved(int(c_r[i]), int(s_pos[i]), int(e_pos[i])) else lull)
             for i in idx]
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
