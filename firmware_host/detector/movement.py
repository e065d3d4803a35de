"""Movement: when a leg moves, nothing is rest.

A movement bends the piezo (slow 0.3-3 Hz swings far above that channel's
slow floor) or clips it, for 0.5 s in all; or fills at least 2 s with
broadband activity (the envelope far above the noise and the beat level)
most of the time; each on one sensor, as a leg moving swings and shakes
every sensor on it.  A train of twitches is over within a second or so and
swings the slow band a fraction as far as the band (a moving leg swings it
as far or further), so a run under 1.5 s that does that is no movement;
and the slow swing that makes a movement must, for DISPLACED_S in all,
stand that high against the band around it (twitches on several sites in
turn chain into runs of 2-3 s, each twitch's slow part a fraction of its
own band peak, though the run's largest slow swing may pass its largest
band swing elsewhere).  Sites twitching in turn fill the time only
together.  A movement too
short for 0.5 s of slow swing is found among the twitch candidates
(:func:`is_short_movement`).
Nothing counts from ``pre_movement_s`` before a movement until ``settle_s``
after it; those windows (and the first ``warmup_s``) are "not rest".
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .arrays import median_rows, moving_mean, quietest_second, window_max
from .events import Movement
from .history import History
from .params import SHORT_MOVE_MS, SHORT_MOVE_SLOW_X, SLOW_BURST_HZ, SLOW_BURST_MS, SLOW_BURST_SHARE, DetectorConfig, Rates

LF_X_FLOOR, LF_MIN_CODES = 6.0, 8.0  #: a slow swing passes this many slow floors, and this many codes (x gain)
ENV_X_NOISE, ENV_X_BEAT = 15.0, 3.0  #: broadband: the envelope passes this many noise floors and beat levels...
ENV_MIN_CODES = 5.0  #: ... and this many codes (x gain: a board with gain lifts twitches far above its noise)
STRONG_S = 0.5  #: s of slow swing or clipping that make a movement
#: ... unless the run is shorter than TRAIN_S (s) and its largest slow swing
#: is under TRAIN_SLOW_SHARE of its largest band swing (a train of twitches)
TRAIN_S, TRAIN_SLOW_SHARE = 1.5, 0.6
#: s of the slow swing that stands at least TRAIN_SLOW_SHARE (x the board's
#: slow_share) of the largest |band| on its sensor from LOCAL_BACK_S before
#: to LOCAL_FWD_S after (a twitch's slow part follows its band peak), or
#: clipped, one sensor's in all: the displacement a movement needs
DISPLACED_S, LOCAL_BACK_S, LOCAL_FWD_S = 0.15, 0.3, 0.05
BROAD_S, BROAD_SHARE = 2.0, 0.6  #: or this long a run of broadband activity, filled this much
GAP_S = 0.3  #: activity this close together is one run
#: a sensor at a rail for this long unbroken is stuck there (a fault: the
#: sensor check's ``railed``); shorter spells at a rail are a leg swinging the
#: sensor through it, movement evidence even in the seconds the check calls
#: railed (a twitch never takes a sensor to a rail), s
STUCK_S = 1.5


@dataclass
class MoveState:
    sigma_lf: np.ndarray  #: each channel's slow-band floor at rest (codes; NaN until learned)
    run_start: int | None = None  #: the open run of activity, working index
    run_last: int | None = None
    run_chans: set = field(default_factory=set)
    run_strong: np.ndarray | int = 0  #: per channel, working samples of its slow swing or clipping in the run
    run_active: np.ndarray | int = 0  #: per channel, working samples of its activity in the run
    run_slow: np.ndarray | float = 0.0  #: per channel, the run's largest slow swing |lf|, codes
    run_band: np.ndarray | float = 0.0  #: per channel, the run's largest |band|, codes
    run_displaced: np.ndarray | int = 0  #: per channel, working samples of slow swing as high as the band around it
    windows: list = field(default_factory=list)  #: confirmed movements, working index [start, end]
    movements: list = field(default_factory=list)  #: every movement closed so far, and the short ones found later
    slow_share: float = 1.0  #: the board's response to a train's slow swing (DetectorConfig.slow_share)

    @classmethod
    def new(cls, channels: int, slow_share: float = 1.0) -> "MoveState":
        return cls(np.full(channels, np.nan), slow_share=float(slow_share))


def _is_movement(st: MoveState, fw: float) -> bool:
    n = st.run_last - st.run_start
    if np.max(st.run_strong) >= int(STRONG_S * fw) and np.max(st.run_displaced) >= int(DISPLACED_S * fw) and (
            n >= int(TRAIN_S * fw) or _displacement(st)):
        return True
    # on one sensor: a leg moving swings and shakes each of its sensors;
    # independent sites twitching in turn make a run only together
    return n >= int(BROAD_S * fw) and np.max(st.run_active) >= BROAD_SHARE * n


def _displacement(st: MoveState) -> bool:
    """Is the run's slow swing a displacement (a leg moving) rather than
    the slow part of a train of twitches?  On the sensor that swings most,
    a moving leg swings the slow band about as far as the band or further;
    twitches through the piezo's high-pass swing it a fraction as far.
    Behind a board's high-pass both shrink, a train's slow part (about
    2 Hz) less than a leg's (about 1 Hz); the bar scales by the former
    (``st.slow_share``), the thing it must reject."""
    slow = np.asarray(st.run_slow, dtype=float)
    band = np.asarray(st.run_band, dtype=float)
    if not slow.ndim or not len(slow):
        return True
    c = int(np.argmax(slow))
    return bool(slow[c] >= TRAIN_SLOW_SHARE * st.slow_share * band[c])


def _confirm(st: MoveState) -> None:
    win = (st.run_start, st.run_last)
    if st.windows and st.windows[-1][0] == st.run_start:
        st.windows[-1] = win
    else:
        st.windows.append(win)


def close(st: MoveState, rt: Rates) -> list[Movement]:
    """Close the open run; the movement it was, if it was one."""
    out = []
    if st.run_start is None:
        return out
    if _is_movement(st, rt.fw):
        _confirm(st)
        mv = Movement(rt.t(st.run_start), rt.t(st.run_last + 1), sorted(st.run_chans))
        st.movements.append(mv)
        out.append(mv)
    st.run_start = st.run_last = None
    st.run_chans = set()
    return out


def not_rest_windows(st: MoveState, rt: Rates, cfg: DetectorConfig) -> list[tuple[int, int]]:
    """[start, end) working indices that are not rest: the last movements
    with their lead-in and settling time, an open run, the warm-up."""
    pre = int(cfg.pre_movement_s * rt.fw)
    post = int(cfg.settle_s * rt.fw)
    windows = list(st.windows)
    if st.run_start is not None:  # open run: not rest from its start on
        windows.append((st.run_start, 10 ** 15))
    out = [(s - pre, e + post) for s, e in windows[-50:]]
    out.append((-10 ** 15, int(cfg.warmup_s * rt.fw)))
    return out


def not_rest_mask(windows: list[tuple[int, int]], a_abs: int, b_abs: int) -> np.ndarray:
    """True where working samples a_abs..b_abs fall in ``windows``."""
    mask = np.zeros(b_abs - a_abs, dtype=bool)
    for s, e in windows:
        lo, hi = max(s, a_abs), min(e, b_abs)
        if lo < hi:
            mask[lo - a_abs:hi - a_abs] = True
    return mask


def overlaps(windows: list[tuple[int, int]], lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """For spans [lo, hi) (working indices): does any sample fall in ``windows``?"""
    w = np.array(windows)
    return ((w[:, 0][None, :] < hi[:, None]) & (w[:, 1][None, :] > lo[:, None])).any(axis=1)


def slow_threshold(st: MoveState, cfg: DetectorConfig, floors: float) -> np.ndarray:
    """Each channel's slow-swing threshold (codes): ``floors`` slow floors as
    learned at rest so far, and at least ``LF_MIN_CODES`` x gain (all there
    is where no floor is learned yet)."""
    floor = np.where(np.isnan(st.sigma_lf), 0.0, st.sigma_lf)
    return np.maximum(floors * floor, LF_MIN_CODES * cfg.gain)


def short_movements(found: list[tuple[int, int, int]], rt: Rates) -> list[Movement]:
    """Short leg movements the region stage found, (working start, end,
    channel) each, as movements: those that overlap are one, on all their
    channels (a leg moving shows on each of its sensors)."""
    out: list[Movement] = []
    last_end = None
    for s, e, c in sorted(found):
        if out and s <= last_end:
            mv = out[-1]
            last_end = max(last_end, e)
            mv.end = rt.t(last_end + 1)
            if c not in mv.channels:
                mv.channels = sorted(mv.channels + [c])
        else:
            last_end = e
            out.append(Movement(rt.t(s), rt.t(e + 1), [c]))
    return out


def _learn_lf_floor(lf: np.ndarray, active: np.ndarray, abs0: int, rt: Rates, cfg: DetectorConfig,
                    st: MoveState) -> None:
    """The slow floor (codes), learned from this chunk's rest samples (as the noise floor)."""
    fw, end_abs = rt.fw, abs0 + lf.shape[1]
    rest = ~not_rest_mask(not_rest_windows(st, rt, cfg), abs0, end_abs) & ~active
    if st.run_start is not None:
        rest[max(st.run_start - abs0, 0):] = False
    if rest.sum() >= 3 * fw:
        est = median_rows(np.abs(lf[:, rest][:, ::2])) / 0.6745
        a = rt.a_floor * rest.mean()
        st.sigma_lf = np.where(np.isnan(st.sigma_lf), est,
                               np.exp(np.log(st.sigma_lf) + a * (np.log(est + 1e-9) - np.log(st.sigma_lf))))


def _add_to_run(st: MoveState, s_abs: int, e_abs: int, chans: set, counts, peaks, gap: int,
                rt: Rates) -> list[Movement]:
    """A stretch of activity [s_abs, e_abs] (working index) into the open
    run, or a new run after closing it (the movement it was, if any);
    ``counts``: its strong, active and displaced samples per channel;
    ``peaks``: its largest slow and band swing per channel (codes)."""
    strong_n, active_n, displaced_n = counts
    slow_pk, band_pk = peaks
    if st.run_start is not None and s_abs - st.run_last <= gap:
        st.run_last = e_abs
        st.run_chans |= chans
        st.run_strong += strong_n
        st.run_active += active_n
        st.run_displaced += displaced_n
        st.run_slow = np.maximum(st.run_slow, slow_pk)
        st.run_band = np.maximum(st.run_band, band_pk)
        return []
    out = close(st, rt)
    st.run_start, st.run_last, st.run_chans = s_abs, e_abs, chans
    st.run_strong, st.run_active, st.run_displaced = strong_n, active_n, displaced_n
    st.run_slow, st.run_band = slow_pk, band_pk
    return out


def displaced(lf: np.ndarray, y: np.ndarray, clip: np.ndarray, strong: np.ndarray, fw: float,
              slow_share: float = 1.0) -> np.ndarray:
    """The ``strong`` samples (channels x samples) where the slow band ``lf``
    stands at least TRAIN_SLOW_SHARE x ``slow_share`` of the band ``y``'s
    largest |x| from LOCAL_BACK_S before to LOCAL_FWD_S after (codes, the
    working rate ``fw`` Hz), or the sensor is clipped: a leg displaced, not
    the slow part of a twitch just felt in the band."""
    out = np.zeros_like(strong)
    rows = np.flatnonzero(strong.any(axis=1))  # (at rest, none: the usual chunk costs nothing)
    if len(rows):
        loc = window_max(np.abs(y[rows]), int(round(LOCAL_BACK_S * fw)), int(round(LOCAL_FWD_S * fw)))
        out[rows] = strong[rows] & ((np.abs(lf[rows]) >= TRAIN_SLOW_SHARE * slow_share * loc) | clip[rows])
    return out


def is_short_movement(dur_ms: float, peak: float, slow: np.ndarray, slow_thr: float,
                      share: float = SHORT_MOVE_SLOW_X, band: np.ndarray | None = None, fw: float = 0.0) -> bool:
    """Is a twitch candidate (``dur_ms`` long, ``peak`` codes in the band) a
    short leg movement rather than a twitch?  A leg movement lasts 0.5 s or
    more (the shortest a sleep laboratory scores) and is a displacement: the
    slow swing around it (``slow``, the 0.3-3 Hz band from 0.2 s before to
    0.3 s after it, codes) is at least ``share`` of its band peak and well
    above what breathing and drift swing at rest (``slow_thr``, codes).  A
    twitch seen through the piezo's high-pass swings the slow band less
    than the band; a movement too short to hold 0.5 s of slow swing over the
    movement stage's threshold escaped it, and its start was counted.
    Behind the v2 board's ~1 Hz high-pass a movement's slow swing is
    smaller and the test stricter; scaled by the board's slow response it
    took slow twitches (their slow part lies at 2-3 Hz, where the board
    passes most), so it is not scaled.  Or, given its ``band`` signal (at
    ``fw`` Hz), a leg's quick jerk: :func:`is_slow_burst`."""
    if dur_ms < SHORT_MOVE_MS:
        return False
    top = float(np.abs(slow).max()) if len(slow) else 0.0
    return (len(slow) > 0 and top >= share * peak and top >= slow_thr) or (
        band is not None and is_slow_burst(band, fw))


def short_movement_test(span: np.ndarray, span0: int, hist: History, slow_thr: np.ndarray | None, rt: Rates,
                        longest_ms: float):
    """``(channel, start, end, dur_ms=longest_ms) -> bool`` for a part of
    ``span`` (working samples from ``span0``): :func:`is_short_movement` on
    its band peak and the history's slow band from 0.2 s before it to 0.3 s
    after (``slow_thr``: each channel's threshold, codes), its band signal
    for the quick-jerk test.  Called without ``dur_ms`` (the
    over-long regions' cutting, lengths.py) a part is taken as longest_ms
    long, so a slow burst of 350-500 ms is left uncut there though it is too
    short to be judged a movement (known; not changed).  None without
    thresholds."""
    if slow_thr is None:
        return None
    pre, post = int(0.2 * rt.fw), int(0.3 * rt.fw)

    def moved(c: int, a: int, b: int, dur_ms: float = longest_ms) -> bool:
        m0 = span0 + a - hist.base
        slow = hist.lf[c, max(m0 - pre, 0):max(m0 + b + 1 - a + post, 0)]
        x = span[c, a:b + 1]
        return is_short_movement(dur_ms, float(np.abs(x).max()), slow, float(slow_thr[c]), band=x, fw=rt.fw)
    return moved


def is_slow_burst(x: np.ndarray, fw: float) -> bool:
    """Is a candidate's band signal ``x`` (codes, working rate ``fw`` Hz) a
    leg's sway rather than twitches?  Sustained (its 40 ms activity over
    SLOW_BURST_SHARE of its peak for SLOW_BURST_MS in all, counted over the
    whole part, not as one unbroken stretch) and slow (mean
    frequency, mean |dx/dt| over 2 pi mean |x|, under SLOW_BURST_HZ): a
    twitch's contraction is fast and its activity soon falls, and a train
    of them is as fast."""
    need = SLOW_BURST_MS / 1000 * fw  # samples
    if len(x) < need:
        return False
    act = moving_mean(np.abs(x), max(1, int(round(0.04 * fw))))
    top = float(act.max())
    if top <= 0 or (act >= SLOW_BURST_SHARE * top).sum() < need:
        return False
    mean_hz = float(np.abs(np.diff(x)).mean()) * fw / (2 * np.pi * float(np.abs(x).mean()))
    return mean_hz < SLOW_BURST_HZ


def swinging_clip(clip: np.ndarray, fw: float) -> np.ndarray:
    """The clipped working samples (``clip``, channels x samples of one
    chunk) in spells at a rail shorter than STUCK_S that begin and end inside
    the chunk: a leg swinging its sensor through a rail.  A spell that
    reaches the chunk's edge is taken as stuck (a fault), so the verdict
    never waits for the next chunk."""
    out = np.zeros_like(clip)
    if not clip.any():
        return out
    stuck = int(round(STUCK_S * fw))
    n = clip.shape[1]
    for c in np.flatnonzero(clip.any(axis=1)).tolist():
        d = np.diff(np.concatenate([[0], clip[c].astype(np.int8), [0]]))
        for a, b in zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()):
            if a > 0 and b < n and b - a < stuck:
                out[c, a:b] = True
    return out


def movement(lf: np.ndarray, y: np.ndarray, e: np.ndarray, clip: np.ndarray, abs0: int, good: np.ndarray,
             sigma: np.ndarray, g: np.ndarray, rt: Rates, cfg: DetectorConfig,
             st: MoveState) -> tuple[list[Movement], MoveState]:
    """One chunk (working rate, from index ``abs0``): ``lf`` the slow band,
    ``y`` the band, ``e`` its envelope, ``clip`` clipping, ``good`` where
    each channel is without a fault (channels, samples: a sensor pulled off
    by the movement itself must not hide the seconds before it), ``sigma``
    the noise floors and ``g`` the beat levels (codes).  Returns the movements that ended, and the state."""
    n = lf.shape[1]
    fw = rt.fw
    out: list[Movement] = []
    # until floors are learned at rest, the quietest second of this chunk
    # stands in: a night may open with a long movement, and its level must
    # not become the floor it is judged against
    lf_floor = st.sigma_lf
    if np.isnan(lf_floor).any():
        # (and at most 2 codes: the slow swing a sensor shows at rest,
        # breathing and drift, seldom comes near it, a leg moving the
        # whole chunk long would otherwise set its own bar)
        lf_floor = np.where(np.isnan(lf_floor), np.minimum(quietest_second(lf, fw) + 0.5 * cfg.gain, 2.0 * cfg.gain),
                            lf_floor)
    lf_thr = np.maximum(LF_X_FLOOR * lf_floor, LF_MIN_CODES * cfg.gain)
    sig = sigma
    if np.isnan(sig).any():
        sig = np.where(np.isnan(sig), quietest_second(y, fw) + 0.3, sig)
    e_thr = np.maximum(np.maximum(ENV_X_NOISE * sig, ENV_X_BEAT * g), ENV_MIN_CODES * cfg.gain)
    swing = swinging_clip(clip, fw)
    strong_c = (((np.abs(lf) > lf_thr[:, None]) | clip) & good) | swing
    active_c = strong_c | ((e > e_thr[:, None]) & good)
    active = active_c.any(axis=0)
    idx = np.flatnonzero(active)
    gap = int(GAP_S * fw)
    if len(idx):
        splits = np.flatnonzero(np.diff(idx) > gap)
        starts = np.concatenate([[idx[0]], idx[splits + 1]])
        ends = np.concatenate([idx[splits], [idx[-1]]])
        # strong, active and displaced samples so far, per channel
        cs = np.cumsum(np.stack([strong_c, active_c, displaced(lf, y, clip, strong_c, fw, st.slow_share)]), axis=2)
        cs = np.concatenate([np.zeros(cs.shape[:2] + (1,), dtype=cs.dtype), cs], axis=2)
        for s, en in zip(starts, ends):
            s_abs, e_abs = abs0 + int(s), abs0 + int(en)
            chans = set(np.flatnonzero(active_c[:, s:en + 1].any(axis=1)).tolist())
            seen = good[:, s:en + 1] | swing[:, s:en + 1]
            peaks = (np.where(seen, np.abs(lf[:, s:en + 1]), 0.0).max(axis=1),
                     np.abs(y[:, s:en + 1]).max(axis=1))
            out += _add_to_run(st, s_abs, e_abs, chans, tuple(cs[:, :, en + 1] - cs[:, :, s]), peaks, gap, rt)
            if _is_movement(st, fw):
                _confirm(st)
    end_abs = abs0 + n
    if st.run_start is not None and end_abs - st.run_last > gap:
        out += close(st, rt)
    _learn_lf_floor(lf, active, abs0, rt, cfg, st)
    return out, st
