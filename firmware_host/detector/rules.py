"""Rules: which candidates are twitches.

Sites twitch independently (motor units in different muscles), so
candidates at the same instant are each a twitch unless the evidence says
otherwise:

- an **echo**: crosstalk is the source's own waveform, so a candidate
  is the echo of a bigger simultaneous one (or of a bigger event on any
  other sensor while that lasts, counted or not) when that channel's
  signal, scaled and shifted up to 20 ms, explains it: nearly all of it
  at any size, or most of it when it is smaller than crosstalk can be
  (under 0.6x on the same leg, 0.3x through the body).  Echoes are taken
  out first, so a twitch and its echo are not "three channels at once"
  with a third;
- the **same instant on three or more channels** (a beat or a jolt),
  unless one stands 3x above the rest; or on two or more, each shaped like
  its channel's whole beat (a beat the tracker missed);
- a **tail**: within 0.25 s after a twitch three times its size on its
  channel, or under its relaxation's envelope (0.8 of it until 0.4 s
  after its onset, 0.6 until 0.6 s, 0.3 until 0.7 s);
- **in step with the heart**: three or more on one channel, each one or
  two beat periods apart, at beats, and shaped like the channel's beat;
- a lone candidate shaped like its channel's whole beat (0.97 or more)
  where a beat can be: at a tracked beat, or where the tracked beats
  either side are 1.5 periods apart or more (one may be missing).
- a **faint** candidate (between the faint and the clear threshold, 8-9
  noise floors) that is like its channel's beat (over 0.9), shorter than
  60 ms, or shown bigger by another sensor's signal at the same moment
  (the echo of a source ruled out, or on a sensor that is out): there,
  what beats, relaxation and glitches leave lies as well as twitches.

A candidate that began before rest did (the end of a movement's settling
time) is never counted, but it is context: what follows it on its channel
may be its tail, as it may be the tail of any recent candidate there,
counted or not (a beat taken for a twitch, an echo).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .arrays import gradient
from .events import Twitch
from .params import (BEAT_LIKE_ALONE, BEAT_LIKE_GROUP, BEAT_LIKE_RHYTHM, COINCIDENT_STANDOUT, CROSSTALK_OTHER_LEG, CROSSTALK_SAME_LEG,
                     ECHO_RESIDUAL_LOOSE, ECHO_RESIDUAL_TIGHT, FAINT_BEAT_LIKE, FAINT_MIN_MS, RELAX_ENVELOPE,
                     RHYTHM_TOL, TAIL_RATIO, TAIL_S, DetectorConfig)


@dataclass
class RuleState:
    pending: list = field(default_factory=list)  #: candidates not yet decided
    #: channel -> the events on it in the last RECENT_S, counted or not (a
    #: beat taken for a twitch, an echo, a twitch begun before rest): what
    #: follows on the channel may be the tail of any of them, and what comes
    #: on another channel while one lasts may be its echo
    recent_on_chan: dict = field(default_factory=dict)
    cand_times: list = field(default_factory=list)  #: per channel, the last candidate onsets (s)
    twitch_count: int = 0
    #: why, how many
    rejected: dict = field(default_factory=lambda: {"coincident": 0, "tail": 0, "rhythmic": 0, "beat": 0, "faint": 0})

    @classmethod
    def new(cls, channels: int) -> "RuleState":
        return cls(cand_times=[[] for _ in range(channels)])


def mark_rhythmic(c: int, found: list[Twitch], period_s: float | None, st: RuleState) -> list[Twitch]:
    """Mark candidates that come in step with the heart (``period_s``: the
    tracked beat period, None when none is): three or more on one channel,
    each one or two periods (+-12%) after the last, are a heartbeat the
    subtraction missed (a sensor shifted by a movement, a template still
    being learned).  Twitches come at random times."""
    hist = st.cand_times[c]
    if period_s is None or not found:
        st.cand_times[c] = (hist + [tw.t for tw in found])[-3:]
        return found
    times = hist + [tw.t for tw in found]
    link = []
    for t0, t1 in zip(times[:-1], times[1:]):
        k = round((t1 - t0) / period_s)
        link.append(k in (1, 2) and abs((t1 - t0) - k * period_s) < RHYTHM_TOL * period_s)
    # chains of linked candidates; members of chains of 3+ are heartbeats
    beat = [False] * len(times)
    i = 0
    while i < len(times):
        j = i
        while j < len(link) and link[j]:
            j += 1
        if j - i + 1 >= 3:
            for k in range(i, j + 1):
                beat[k] = True
        i = j + 1
    st.cand_times[c] = times[-3:]
    for tw, b in zip(found, beat[len(hist):]):
        # in step with the heart, on a beat, and shaped like one: at 20 a
        # minute, twitches fall one or two periods apart by chance, and a
        # beat the subtraction missed is its channel's beat, whole
        tw.rhythmic = b and tw.at_beat and tw.beat_like >= BEAT_LIKE_RHYTHM
    return found


def _group_survivors(group: list[Twitch]) -> list[Twitch]:
    """Three channels or more at once: three independent sites within 80 ms
    is rare by chance (well under 1% at 20 twitches a minute each), a beat
    or a jolt is not: such a group keeps only a twitch far above the rest.
    Two at once are two twitches unless each is shaped like its channel's
    whole beat (a beat the tracker missed, felt by every sensor)."""
    chans = {p.channel for p in group}
    if len(chans) >= 2 and all(p.beat_like >= BEAT_LIKE_GROUP for p in group):
        return []  # a beat the tracker missed, on every sensor that shows it
    if len(chans) >= 3:
        peaks = sorted((p.peak for p in group), reverse=True)
        return [p for p in group if p.peak >= COINCIDENT_STANDOUT * peaks[1]]
    return group


def explained(p: Twitch, ch: int) -> float | None:
    """The share of ``p``'s energy that channel ``ch``, at the same time,
    leaves unexplained: fitted by least squares as a scaled copy shifted by
    up to ``p.snip_lag`` samples plus its slope (the part-sample shift);
    None when it cannot be told (the signal was not kept)."""
    snip = p.snip
    if snip is None or ch >= len(snip):
        return None
    K = p.snip_lag
    n = snip.shape[1] - 2 * K
    seg = snip[p.channel, K:K + n]
    ss = float(seg @ seg)
    if n < 3 or ss <= 0:
        return None
    refs = np.lib.stride_tricks.sliding_window_view(snip[ch], n)  # (2K+1, n), one per lag
    slopes = gradient(refs)
    aa, bb, ab = (refs * refs).sum(1), (slopes * slopes).sum(1), (refs * slopes).sum(1)
    sa, sb = refs @ seg, slopes @ seg
    det = aa * bb - ab * ab
    ok = det > 1e-12 * np.maximum(aa * bb, 1e-300)
    d = np.where(ok, det, 1.0)
    ca, cb = (bb * sa - ab * sb) / d, (aa * sb - ab * sa) / d
    # the energy the best fit of [ref, slope] takes out, per lag; the slope
    # stands for a shift of half a sample at most (on a narrow-band wave it
    # could fit any shift: a twitch 40 ms late is not an echo)
    part = ok & (np.abs(cb) <= 0.5 * np.abs(ca))
    took = np.where(part, ca * sa + cb * sb, np.where(aa > 0, sa * sa / np.where(aa > 0, aa, 1.0), 0.0))
    return float(max(0.0, 1.0 - took.max() / ss))


def _path_share(legs: list[str], src: int, ch: int) -> float:
    """The most of a twitch under sensor ``src`` crosstalk carries to sensor
    ``ch``: through its leg, or through the body to the other one."""
    return CROSSTALK_SAME_LEG if legs[src] == legs[ch] else CROSSTALK_OTHER_LEG


def _echo_of(p: Twitch, src_ch: int, src_peak: float, share: float) -> bool:
    """Is ``p`` the crosstalk of a bigger event (``src_peak``, codes) on
    channel ``src_ch`` (``share``: the most of it crosstalk carries to
    ``p``'s sensor)?  If it is that waveform, at any size; or smaller than
    ``share`` of it and shaped like it; or, where the signal was not kept
    to tell, smaller than ``share`` of it."""
    if p.peak >= src_peak:
        return False  # the bigger is the source, if either
    small = p.peak < share * src_peak
    left = explained(p, src_ch)
    if left is None:
        return small
    return left < ECHO_RESIDUAL_TIGHT or (small and left < ECHO_RESIDUAL_LOOSE)


def _not_echoes(group: list[Twitch], legs: list[str]) -> list[Twitch]:
    """The biggest on each channel, less the crosstalk of a bigger one
    elsewhere in the group: smaller than crosstalk can be and shaped like
    it, or its very waveform at any size."""
    keep: list[Twitch] = []
    for p in sorted(group, key=lambda q: -q.peak):
        echo = any(_echo_of(p, k.channel, k.peak, _path_share(legs, k.channel, p.channel)) for k in keep)
        if echo or any(k.channel == p.channel for k in keep):
            continue
        keep.append(p)
    return keep


def _echo_of_a_sensor(p: Twitch, legs: list[str]) -> bool:
    """Does another sensor show ``p``'s waveform bigger, at the same time,
    candidate or not (its source may have been ruled out, or be on a sensor
    that is out)?"""
    if p.snip is None:
        return False
    return any(_echo_of(p, ch, float(np.abs(p.snip[ch]).max()), _path_share(legs, ch, p.channel))
               for ch in range(len(p.snip)) if ch != p.channel)


def _relax_share(after_s: float) -> float:
    """The share of a twitch's peak its relaxation may reach ``after_s``
    after its onset (0 once it is over)."""
    for until_s, share in RELAX_ENVELOPE:
        if after_s < until_s:
            return share
    return 0.0


def _why_not(win: Twitch, legs: list[str], st: RuleState, clear_x: float) -> str | None:
    """What rules a lone candidate out against the twitches before it, if
    anything; one under ``clear_x`` noise floors (faint) must also be unlike
    its channel's beat, last as a twitch does and be no other sensor's echo."""
    for prev in st.recent_on_chan.get(win.channel, ()):
        if win.t - (prev.t + prev.duration_ms / 1000) < TAIL_S and win.peak * TAIL_RATIO < prev.peak:
            return "tail"  # the tail or rebound of a big twitch just ended on this channel
        if win.peak < _relax_share(win.t - prev.t) * prev.peak:
            return "tail"  # the relaxation of a twitch begun on this channel: smaller, and within its time course
    for ch, lst in st.recent_on_chan.items():
        for src in lst if ch != win.channel else ():
            if src.t <= win.t <= src.t + src.duration_ms / 1000 and _echo_of(
                    win, ch, src.peak, _path_share(legs, ch, win.channel)):
                return "coincident"  # inside a bigger event on another sensor, while it lasts: its echo
    if win.rhythmic:
        return "rhythmic"
    if win.beat_like >= BEAT_LIKE_ALONE and (win.beat_slot or win.at_beat):
        return "beat"
    if win.snr < clear_x and (win.beat_like > FAINT_BEAT_LIKE or win.duration_ms < FAINT_MIN_MS
                              or _echo_of_a_sensor(win, legs)):
        return "faint"
    return None


#: s an event stays recent: the longest twitch (1 s) and its tail window (0.25 s), with room
RECENT_S = 2.0


def _remember(p: Twitch, st: RuleState) -> None:
    """Keep ``p`` as a recent event on its channel (for the tail rules)."""
    lst = [q for q in st.recent_on_chan.get(p.channel, []) if p.t - q.t < RECENT_S]
    lst.append(p)
    st.recent_on_chan[p.channel] = lst


def decide(horizon_s: float, legs: list[str], cfg: DetectorConfig,
           st: RuleState) -> tuple[list[Twitch], RuleState]:
    """Decide the pending candidates older than ``horizon_s``, in groups of
    those within ``crosstalk_ms`` of each other.  Returns the twitches, in
    time order per group."""
    pend = sorted(st.pending, key=lambda tw: tw.t)
    xt = cfg.crosstalk_ms / 1000
    clear_x = cfg.threshold_factor()
    out = []
    i = 0
    while i < len(pend) and pend[i].t < horizon_s:
        j = i + 1
        while j < len(pend) and pend[j].t - pend[i].t <= xt:
            j += 1
        members = pend[i:j]
        i = j
        group = [p for p in members if not p.context]  # one begun before rest did is not counted
        if group:
            # echoes first: a twitch and its crosstalk on two sensors are one
            # twitch, not three channels at once
            group = _group_survivors(_not_echoes(group, legs))
            if not group:
                st.rejected["coincident"] += 1
        for win in sorted(group, key=lambda q: q.t):
            why = _why_not(win, legs, st, clear_x)
            if why is not None:
                st.rejected[why] += 1
                continue
            out.append(win)
            st.twitch_count += 1
        for p in members:
            p.snip = None  # decided: the signal around it is no longer needed
            _remember(p, st)
    st.pending = pend[i:]
    return out, st
