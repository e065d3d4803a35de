"""A labelled night on leg piezos, generated (contracts section 4).

The night is planned up front as small lists (beats, twitches, movements,
glitches, sensor faults) and rendered on demand for any sample range, so a
night of any length streams in constant memory and the same range always
renders to the same codes whatever the block size.

What goes in, per channel, in 10-bit codes around mid-rail:

- drift (minutes) and breathing (0.15-0.5 Hz);
- mains hum at 50 or 60 Hz with 2nd and 3rd harmonics;
- white noise of the amplifier and ADC;
- the heartbeat: a 6-12 Hz burst each beat on every channel, with a gain,
  delay and burst frequency of its own per channel, a beat-to-beat amplitude
  shared by all channels, and heart-rate variability;
- twitches: real leg-twitch time courses (``data/twitch_shapes.npz``, from
  E. J. Mastnak's spm-potentiation dataset, CC-BY 4.0) stretched in time,
  passed through the piezo's first-order high-pass (corner 2-15 Hz), scaled
  to a few to tens of codes, on one channel with weaker crosstalk on the
  other sensor of the same leg; some are doublets 10-110 ms apart;
- leg movements (0.5-10 s, one leg) and body movements (2-8 s, every
  channel, may clip at 0/1023);
- single-sample SPI glitches (a lone 0 or 1023);
- sensor faults: a channel unplugged (flat), railed, or picking up only hum.

The truth (:meth:`Night.truth`) lists the twitches that count: every planned
twitch is at rest, at least 1 s before and 6 s after any movement and clear
of fault edges on its channel, so the labels are not ambiguous.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np

from . import pins
from .detector import filters

#: the first generator's profiles (the golden nights and the demo use them)
CLASSIC = ("normal", "hard", "quiet")
#: the family: every parameter drawn per night over wide ranges ("family"),
#: and named stress profiles, each the family with one hard thing forced on
STRESS = ("coincident", "bursty", "trains", "weak-heart", "opening-movement", "early", "long-followed")
FAMILY = ("family",) + STRESS
PROFILES = CLASSIC + FAMILY


def _piezo_highpass(fc_hz: float, rate_hz: float) -> np.ndarray:
    """A first-order Butterworth high-pass at ``fc_hz`` as one second-order
    section: the numbers ``scipy.signal.butter(1, ..., "high")`` gives, made
    the way it makes them (prototype pole, high-pass, bilinear at fs = 2:
    tests/test_simulator_lean.py checks it bit for bit), so the simulator
    need not import scipy.signal (75 MB in the daemon that plays a night)."""
    warped = 2 * 2.0 * np.tan(np.pi * (fc_hz / (rate_hz / 2)) / 2.0)
    p = warped / np.array([-np.exp(0j)])
    pz = (4.0 + p) / (4.0 - p)
    kz = float(np.real(np.prod(4.0 - np.array([0.0])) / np.prod(4.0 - p)))
    return np.array([[kz, -kz, 0.0, 1.0, float(np.real(-pz[0])), 0.0]])


@lru_cache(maxsize=1)
def twitch_shapes() -> tuple[np.ndarray, float]:
    """The shipped twitch time courses (peak 1) and their rate in Hz."""
    with resources.files("firmware_host").joinpath("data/twitch_shapes.npz").open("rb") as f:
        z = np.load(f)
        return z["shapes"].astype(np.float64) / float(z["scale"]), float(z["rate_hz"])


def twitch_wave(rng, rate_hz: float, shapes=None, shape_rate=None, stretch=None, visible=False):
    """One twitch as a leg piezo sees it, at ``rate_hz``, peak 1: a real
    twitch time course, stretched 0.5-1.4x in time, through the piezo's
    first-order high-pass (corner 2-15 Hz).  With ``visible``, also how long
    it stays above a tenth of its peak (s)."""
    if shapes is None:
        shapes, shape_rate = twitch_shapes()
    shape = shapes[rng.integers(len(shapes))]
    stretch = rng.uniform(0.5, 1.4) if stretch is None else stretch
    n_out = int(len(shape) / shape_rate * stretch * rate_hz)
    t_out = np.arange(n_out) / rate_hz / stretch
    x = np.interp(t_out, np.arange(len(shape)) / shape_rate, shape)
    onset = int(np.argmax(np.abs(x) > 0.02))  # the truth's onset: first visible motion
    x = x[max(onset - 2, 0):]
    fc = rng.uniform(2.0, 15.0)
    x = filters.sosfilt(_piezo_highpass(fc, rate_hz), np.concatenate([x, np.zeros(int(0.3 * rate_hz))])[None, :],
                        np.zeros((1, 1, 2)))[0][0]
    fade = np.ones(len(x))
    k = int(0.1 * rate_hz)
    fade[-k:] = np.linspace(1, 0, k)
    x = x * fade
    x = x / np.abs(x).max()
    if visible:
        return x, float(np.flatnonzero(np.abs(x) > 0.1)[-1] + 1) / rate_hz
    return x


@dataclass
class Twitch:
    t: float  #: onset, seconds from the first sample
    channel: int
    peak: float  #: largest |deviation| in codes on its channel
    wave: np.ndarray = field(repr=False)  #: codes, at the night's rate, on its channel
    cross_channel: int | None = None
    cross_gain: float = 0.0
    cross_delay: int = 0  #: samples
    doublet: bool = False
    visible_s: float = 0.0  #: how long it stays above a tenth of its peak, s


@dataclass
class Movement:
    t: float
    end: float
    channels: list[int]
    amp: float
    comps: np.ndarray = field(repr=False)  #: (k, 3): freq Hz, phase, weight


@dataclass
class Fault:
    channel: int
    t: float
    end: float
    kind: str  #: unplugged | railed | hum


class Night:
    """A planned night; :meth:`render` gives codes for any sample range."""

    BLOCK = 4096  # noise is drawn per fixed block so any split renders alike

    #: volts at the disc per code of the first board (unity-gain buffers into a
    #: 3.3 V-referenced MCP3008): what the signals' sizes in codes were drawn in
    V1_PER_CODE = 3.3 / 1024

    def __init__(self, minutes: float, *, seed: int = 0, channels: int = 4, rate_hz: float = 1000.0,
                 profile: str = "normal", twitches_per_min: float | None = None, board: bool = False):
        """``board``: pass what the discs make through the v2 sensor board
        (firmware_host.frontend, from the same part table as the schematic:
        gain, high-pass and anti-alias poles, rails, the ADC's 2.5 V
        reference) instead of the first board's unity gain; the noise drawn
        is then the ADC's, added after the board."""
        if profile not in PROFILES:
            raise ValueError(f"profile must be one of {PROFILES}")
        self.board = bool(board)
        self._fe_state: dict[int, tuple] = {}  # board filter state after each block rendered
        self.seed = int(seed)
        self.rate_hz = float(rate_hz)
        self.channels = int(channels)
        self.n_samples = int(round(minutes * 60 * self.rate_hz))
        self.duration_s = self.n_samples / self.rate_hz
        self.profile = profile
        rng = np.random.default_rng([self.seed, 1])
        self.ambiguous: list[Twitch] = []  #: family nights: twitches not scored either way
        if profile in FAMILY:
            self._plan_family(rng, profile)
            return
        hard = profile == "hard"
        C = self.channels
        self.legs = pins.legs(C)
        self.offset = 512 + rng.uniform(-25, 25, C)
        self.noise_sd = rng.uniform(0.45, 0.9 if hard else 0.7, C)
        self.mains_hz = float(rng.choice([50.0, 60.0]))
        self.hum = rng.uniform(0.3, 4.0 if hard else 1.5, C)
        self.hum_phase = rng.uniform(0, 2 * np.pi, C)
        self.breath_amp = rng.uniform(0.5, 4.0, C)
        self.breath_hz = rng.uniform(0.18, 0.33)
        self.drift = [(rng.uniform(3, 12), rng.uniform(1 / 1800, 1 / 300), rng.uniform(0, 2 * np.pi))
                      for _ in range(3)]
        self.drift_gain = rng.uniform(0.3, 1.0, C)
        # heartbeat
        self.hr_bpm = rng.uniform(45, 100) if hard else rng.uniform(50, 80)
        self.hb_amp = rng.uniform(5, 15, C) if hard else rng.uniform(2, 8, C)
        self.hb_freq = rng.uniform(6, 12, C)
        self.hb_delay = rng.uniform(0.0, 0.06, C)
        self.hb_sigma = rng.uniform(0.03, 0.05, C)
        self.hb_phase = rng.uniform(0, 2 * np.pi, C)
        self.beats, self.beat_amp = self._plan_beats(rng)
        self._beat_variation(None)
        # movements, faults, twitches, glitches
        self.movements = self._plan_movements(rng, hard)
        self.faults = self._plan_faults(rng, hard)
        rate = twitches_per_min if twitches_per_min is not None else (0.0 if profile == "quiet" else
                                                                      rng.uniform(2, 6))
        self.twitches = self._plan_twitches(rng, rate, hard)
        n_gl = int(self.duration_s / 60 * (60 if hard else 10))
        self.glitch_idx = np.sort(rng.integers(0, max(self.n_samples, 1), n_gl))
        self.glitch_ch = rng.integers(0, C, n_gl)
        self.glitch_val = rng.choice([0, pins.ADC_MAX_CODE], n_gl)
        self._finish_plan()

    def _finish_plan(self) -> None:
        self._beat_starts = self.beats - 0.05  # burst windows for fast lookup
        self._tw_start = np.array([int(round(tw.t * self.rate_hz)) - 20 for tw in self.twitches], dtype=np.int64)

    def _beat_variation(self, rng, shape_sd: float = 0.0) -> None:
        """Per beat and channel: gain, burst-frequency factor and extra delay
        (s).  The classic nights share one amplitude per beat and no shape
        change; the family's beats change shape from beat to beat."""
        n, C = len(self.beats), self.channels
        if rng is None or shape_sd == 0.0:
            self.beat_gain = np.repeat(self.beat_amp[:, None], C, axis=1)
            self.beat_freq = np.ones((n, C))
            self.beat_shift = np.zeros((n, C))
            return
        # mostly common to all channels (stroke volume, breathing), a little per channel
        self.beat_gain = self.beat_amp[:, None] * np.exp(shape_sd * rng.standard_normal((n, C)))
        self.beat_freq = 1.0 + 0.2 * shape_sd * rng.standard_normal((n, C))
        self.beat_shift = 0.02 * shape_sd * rng.standard_normal((n, C))  # s

    # -- the family ------------------------------------------------------------
    def _plan_family(self, rng, profile: str) -> None:
        """Every parameter drawn over a wide range; a stress profile forces one
        hard thing on.  Physics first: each site's motor units fire on their
        own (twitches coincide across sites by chance and come in bursty
        spells, from the first second on), the heartbeat may be weaker than
        the noise and changes shape from beat to beat, and movements come in
        every length, the night's first seconds included."""
        C, fs = self.channels, self.rate_hz
        self.legs = pins.legs(C)
        self.offset = 512 + rng.uniform(-60, 60, C)
        self.noise_sd = np.exp(rng.uniform(np.log(0.5), np.log(4.0))) * rng.uniform(0.8, 1.25, C)  # codes
        self.mains_hz = float(rng.choice([50.0, 60.0]))
        self.hum = np.exp(rng.uniform(np.log(0.2), np.log(8.0), C))
        self.hum_phase = rng.uniform(0, 2 * np.pi, C)
        self.breath_amp = np.exp(rng.uniform(np.log(0.3), np.log(10.0), C))
        self.breath_hz = rng.uniform(0.15, 0.5)
        self.drift = [(rng.uniform(2, 20), rng.uniform(1 / 1800, 1 / 120), rng.uniform(0, 2 * np.pi))
                      for _ in range(3)]
        self.drift_gain = rng.uniform(0.2, 1.0, C)
        # heartbeat: its size as a multiple of the raw noise sd, 0.5x-30x
        self.hr_bpm = rng.uniform(40, 120)
        hb_snr = np.exp(rng.uniform(np.log(0.5), np.log(1.5) if profile == "weak-heart" else np.log(30.0)))
        self.hb_snr = float(hb_snr)
        self.hb_amp = hb_snr * float(np.mean(self.noise_sd)) * rng.uniform(0.5, 1.5, C)
        self.hb_freq = rng.uniform(6, 12, C)
        self.hb_delay = rng.uniform(0.0, 0.08, C)
        self.hb_sigma = rng.uniform(0.025, 0.06, C)
        self.hb_phase = rng.uniform(0, 2 * np.pi, C)
        self.beats, self.beat_amp = self._plan_beats(rng, ectopic=rng.uniform(0, 0.03))
        self._beat_variation(rng, shape_sd=rng.uniform(0.02, 0.15))
        self.movements = self._plan_family_movements(rng, opening=profile == "opening-movement" or rng.random() < 0.15)
        self.faults = self._plan_faults(rng, hard=rng.random() < 0.3)
        self.twitches = self._plan_family_twitches(rng, profile)
        n_gl = int(self.duration_s / 60 * rng.uniform(0, 60))
        self.glitch_idx = np.sort(rng.integers(0, max(self.n_samples, 1), n_gl))
        self.glitch_ch = rng.integers(0, C, n_gl)
        self.glitch_val = rng.choice([0, pins.ADC_MAX_CODE], n_gl)
        # what is scored: twitches a person at rest would feel and a sensor can
        # show, clear of movements and faults; the rest is neither a hit nor
        # a false alarm when found
        band_sd = self.noise_sd * math.sqrt(2 * 32.0 / fs)  # white noise in the 3-35 Hz band, codes
        self.scored_floor = 25.0 * band_sd  #: codes per channel; smaller twitches are not scored
        scored, self.ambiguous = [], []
        for tw in self.twitches:
            ok = tw.peak >= self.scored_floor[tw.channel] and not self._blocked(tw.t, tw.channel) \
                and not self._blocked(tw.t + tw.visible_s, tw.channel)
            (scored if ok else self.ambiguous).append(tw)
        self._all_twitches = self.twitches
        self.twitches = scored
        self._finish_plan()
        self._tw_start = np.array([int(round(tw.t * fs)) - 20 for tw in self._all_twitches], dtype=np.int64)

    def _plan_family_movements(self, rng, opening: bool) -> list[Movement]:
        per_hour = rng.uniform(0, 60)
        out, t = [], rng.exponential(3600 / per_hour) if per_hour else float("inf")
        if opening:
            t = 0.0
        while t < self.duration_s - 1:
            body = rng.random() < 0.35
            if opening and t == 0.0:
                dur = rng.uniform(5, 40)
            else:
                dur = float(np.exp(rng.uniform(np.log(0.5), np.log(20.0 if body else 10.0))))
            if body:
                chans, amp = list(range(self.channels)), float(np.exp(rng.uniform(np.log(60), np.log(600))))
            else:
                leg = rng.choice(sorted(set(self.legs)))
                chans = [c for c in range(self.channels) if self.legs[c] == leg]
                amp = float(np.exp(rng.uniform(np.log(25), np.log(250))))
            end = min(t + dur, self.duration_s)
            k = 6
            comps = np.column_stack([rng.uniform(0.3, 4.0, k), rng.uniform(0, 2 * np.pi, k), rng.standard_normal(k)])
            out.append(Movement(float(t), float(end), chans, amp, comps))
            t = end + 3 + (rng.exponential(3600 / per_hour) if per_hour else float("inf"))
        return out

    def _plan_family_twitches(self, rng, profile: str) -> list[Twitch]:
        """Independent bursty streams, one per site, then the profile's extras."""
        shapes, shape_rate = twitch_shapes()
        C, T = self.channels, self.duration_s
        polarity = rng.choice([-1.0, 1.0], C)
        base = np.where(rng.random(C) < 0.15, 0.0, np.exp(rng.uniform(np.log(0.3), np.log(8.0), C)))  # per min
        if profile == "coincident":
            base = rng.uniform(10, 20, C)
        spell_rate = (1 / 60 if profile == "bursty" else 1 / 300)  # spells per second, per site
        times: list[tuple[float, int, bool]] = []  # onset s, channel, large (a train's)
        for c in range(C):
            # a bad spell multiplies the site's rate (up to ~20 a minute)
            rate = np.full(int(np.ceil(T)) + 1, base[c] / 60)  # per second, second by second
            s = rng.exponential(1 / spell_rate)
            while s < T:
                d = rng.uniform(10, 60)
                hi = min(20.0, max(base[c], 1.0) * rng.uniform(3, 10)) / 60
                rate[int(s):int(min(s + d, T)) + 1] = hi
                s += d + rng.exponential(1 / spell_rate)
            n = rng.poisson(rate.sum())
            cand = rng.uniform(0, T, n * 2 + 4)
            keep = rng.random(len(cand)) < rate[cand.astype(int)] / max(rate.max(), 1e-12)
            for t in np.sort(cand[keep])[:n]:
                times.append((float(t), c, False))
        if profile == "early":
            times += [(float(t), int(rng.integers(C)), False) for t in np.sort(rng.uniform(0.3, 15.0, rng.integers(3, 7)))]
        if profile == "coincident" and C > 1:
            other = [c for c in range(C) if self.legs[c] != self.legs[0]] or list(range(1, C))
            for t in rng.uniform(1, T - 1, int(T / 20)):
                times += [(float(t), 0, False), (float(t + rng.uniform(0, 0.08)), int(rng.choice(other)), False)]
        if profile == "trains":
            for t in rng.uniform(1, T - 2, int(T / 30)):
                leg = self.legs[int(rng.integers(C))]
                leg_ch = [c for c in range(C) if self.legs[c] == leg]
                for j in range(int(rng.integers(2, 5))):
                    times.append((float(t + j * rng.uniform(0.1, 0.2)), int(rng.choice(leg_ch)), True))
        times.sort()
        lo_peak, hi_peak = 3.0, 80.0
        out: list[Twitch] = []
        busy = np.full(C, -10.0)  # where each channel's last twitch stops being visible, s
        p_follow = 0.6 if profile == "long-followed" else 0.08
        queue = list(times)
        i = 0
        while i < len(queue):
            t, ch, big = queue[i]
            i += 1
            if t < busy[ch] + 0.12 or t > T - 0.5:
                continue  # same site: one motor unit at a time, and clear of the last
            long = rng.random() < p_follow
            wave, vis = self._twitch_wave(rng, shapes, shape_rate, stretch=rng.uniform(1.1, 1.6) if long else None,
                                          visible=True)
            peak = float(np.exp(rng.uniform(np.log(lo_peak), np.log(hi_peak))))
            if big:
                peak = max(peak, float(np.exp(rng.uniform(np.log(15), np.log(60)))))
            doublet = rng.random() < 0.1
            if doublet:
                gap = int(rng.uniform(0.010, 0.110) * self.rate_hz)
                second, vis2 = self._twitch_wave(rng, shapes, shape_rate, visible=True)
                second = second * rng.uniform(0.6, 1.0)
                w = np.zeros(max(len(wave), gap + len(second)))
                w[:len(wave)] += wave
                w[gap:gap + len(second)] += second
                wave, vis = w, max(vis, gap / self.rate_hz + vis2)
            wave = wave * polarity[ch] * peak / np.abs(wave).max()
            tw = Twitch(t, ch, peak, wave, doublet=doublet)
            tw.visible_s = vis
            # crosstalk: the leg's other sensors feel it (0-50%), the other leg a little through the body
            mates = [c for c in range(C) if c != ch]
            if mates:
                m = int(rng.choice(mates))
                tw.cross_channel = m
                g = rng.uniform(0.0, 0.5) if self.legs[m] == self.legs[ch] else rng.uniform(0.0, 0.15)
                tw.cross_gain = float(g * polarity[m] * polarity[ch])
                tw.cross_delay = int(rng.uniform(0.003, 0.015) * self.rate_hz)
            out.append(tw)
            busy[ch] = t + vis
            if long:  # a long twitch followed by another on the same site 0.4-0.8 s later
                queue.insert(i, (t + max(vis + 0.12, rng.uniform(0.4, 0.8)), ch, False))
        out.sort(key=lambda tw: tw.t)
        return out

    # -- planning ----------------------------------------------------------
    def _plan_beats(self, rng, ectopic: float = 0.0):
        """Beat times (s) with breathing-linked and random variability; with
        ``ectopic`` > 0 that share of beats comes early (0.6 of a period,
        stronger) and is followed by a compensatory pause."""
        rr0 = 60.0 / self.hr_bpm
        t, beats, strong = rng.uniform(0, rr0), [], []
        while t < self.duration_s + 1:
            beats.append(t)
            rsa = 0.04 * math.sin(2 * math.pi * self.breath_hz * t)
            step = rr0 * (1 + rsa + 0.03 * rng.standard_normal())
            if ectopic and rng.random() < ectopic:
                beats.append(t + 0.6 * step)
                strong.append(len(beats) - 1)
                step *= 2.0
            t += step
        beats = np.array(beats)
        amp = np.clip(1 + 0.08 * rng.standard_normal(len(beats)), 0.7, 1.3)
        amp[strong] *= 1.3
        return beats, amp

    def _plan_movements(self, rng, hard):
        per_hour = rng.uniform(40, 60) if hard else rng.uniform(8, 20)
        out, t = [], rng.exponential(3600 / per_hour)
        while t < self.duration_s - 1:
            body = rng.random() < 0.3
            if body:
                dur, chans = rng.uniform(2, 8), list(range(self.channels))
                amp = rng.uniform(80, 600)
            else:
                dur = rng.uniform(0.5, 10)
                leg = rng.choice(sorted(set(self.legs)))
                chans = [c for c in range(self.channels) if self.legs[c] == leg]
                amp = rng.uniform(30, 250)
            end = min(t + dur, self.duration_s)
            k = 6
            comps = np.column_stack([rng.uniform(0.3, 4.0, k), rng.uniform(0, 2 * np.pi, k),
                                     rng.standard_normal(k)])
            out.append(Movement(float(t), float(end), chans, float(amp), comps))
            t = end + 3 + rng.exponential(3600 / per_hour)
        return out

    def _plan_faults(self, rng, hard):
        if not hard or self.duration_s < 240:
            return []
        ch = int(rng.integers(self.channels))
        dur = rng.uniform(60, min(300, self.duration_s / 3))
        t = rng.uniform(30, self.duration_s - dur - 30)
        return [Fault(ch, float(t), float(t + dur), str(rng.choice(["unplugged", "railed", "hum"])))]

    def _blocked(self, t: float, ch: int) -> bool:
        for m in self.movements:
            if m.t - 1.0 <= t <= m.end + 6.0:
                return True
        for f in self.faults:  # unplugging jolts the whole setup; the channel is blind while out
            if f.t - 3.0 <= t <= f.t + 6.0 or f.end - 3.0 <= t <= f.end + 6.0:
                return True
            if f.channel == ch and f.t <= t <= f.end:
                return True
        return False

    def _plan_twitches(self, rng, per_min, hard):
        shapes, shape_rate = twitch_shapes()
        C = self.channels
        # Some sites twitch more than others, and some not at all.
        weights = rng.uniform(0.2, 1.0, C)
        if C > 1:
            weights[rng.integers(C)] *= rng.choice([0.0, 1.0, 2.5])
        weights = weights / weights.sum() if weights.sum() > 0 else np.full(C, 1 / C)
        polarity = rng.choice([-1.0, 1.0], C)
        n = rng.poisson(per_min * self.duration_s / 60)
        times = np.sort(rng.uniform(20.0, max(self.duration_s - 1.0, 20.0), n))  # after the warm-up
        out, last = [], -10.0
        lo, hi = (4.0, 30.0) if hard else (5.0, 40.0)
        for t in times:
            if t - last < 0.6:
                continue
            ch = int(rng.choice(C, p=weights))
            if self._blocked(t, ch):
                continue
            wave = self._twitch_wave(rng, shapes, shape_rate)
            peak = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
            doublet = rng.random() < 0.1
            if doublet:
                gap = int(rng.uniform(0.010, 0.110) * self.rate_hz)
                second = self._twitch_wave(rng, shapes, shape_rate) * rng.uniform(0.6, 1.0)
                w = np.zeros(max(len(wave), gap + len(second)))
                w[:len(wave)] += wave
                w[gap:gap + len(second)] += second
                wave = w
            wave = wave * polarity[ch] * peak / np.abs(wave).max()
            mates = [c for c in range(C) if c != ch and self.legs[c] == self.legs[ch]]
            tw = Twitch(float(t), ch, peak, wave, doublet=doublet)
            if mates:
                tw.cross_channel = int(rng.choice(mates))
                tw.cross_gain = float(rng.uniform(0.1, 0.5) * polarity[tw.cross_channel] * polarity[ch])
                tw.cross_delay = int(rng.uniform(0.003, 0.015) * self.rate_hz)
            out.append(tw)
            last = t
        return out

    def _twitch_wave(self, rng, shapes, shape_rate, stretch=None, visible=False):
        """One twitch as the piezo sees it, at the night's rate, peak 1 (with
        ``visible``, also how long it stays above a tenth of its peak, s)."""
        return twitch_wave(rng, self.rate_hz, shapes, shape_rate, stretch=stretch, visible=visible)

    # -- rendering ---------------------------------------------------------
    def render(self, start: int, n: int) -> np.ndarray:
        """Codes (uint16) for samples ``start .. start+n``, shape (n, channels)."""
        n = max(0, min(n, self.n_samples - start))
        out = np.empty((n, self.channels), dtype=np.uint16)
        pos = start
        while pos < start + n:
            b = pos // self.BLOCK
            b0 = b * self.BLOCK
            block = self._render_block(b)
            lo, hi = pos - b0, min(self.BLOCK, start + n - b0)
            out[pos - start:pos - start + hi - lo] = block[lo:hi]
            pos += hi - lo
        return out

    @lru_cache(maxsize=4)
    def _render_block(self, b: int) -> np.ndarray:
        fs, C = self.rate_hz, self.channels
        i0 = b * self.BLOCK
        idx = np.arange(i0, i0 + self.BLOCK)
        t = idx / fs
        rng = np.random.default_rng([self.seed, 2, b])
        noise = rng.standard_normal((self.BLOCK, C)) * self.noise_sd
        x = self.offset + noise
        drift = sum(a * np.sin(2 * np.pi * f * t + p) for a, f, p in self.drift)
        x += drift[:, None] * self.drift_gain
        breath = np.sin(2 * np.pi * self.breath_hz * t + 0.5 * np.sin(2 * np.pi * t / 300))
        x += breath[:, None] * self.breath_amp
        w = 2 * np.pi * self.mains_hz * t
        for h, rel in ((1, 1.0), (2, 0.1), (3, 0.3)):
            x += np.sin(h * w[:, None] + self.hum_phase * h) * (self.hum * rel)
        # heartbeat bursts overlapping the block
        t0, t1 = t[0], t[-1]
        lo = np.searchsorted(self.beats, t0 - 0.4)
        hi = np.searchsorted(self.beats, t1 + 0.1)
        for k in range(lo, hi):
            tau = t[:, None] - self.beats[k] - self.hb_delay - 0.08 - self.beat_shift[k]
            env = np.exp(-0.5 * (tau / self.hb_sigma) ** 2)
            x += (self.beat_gain[k] * self.hb_amp) * env * np.sin(
                2 * np.pi * (self.hb_freq * self.beat_freq[k]) * tau + self.hb_phase)
        # twitches
        lo = np.searchsorted(self._tw_start, i0 - int(1.5 * fs))
        hi = np.searchsorted(self._tw_start, i0 + self.BLOCK)
        for tw in getattr(self, "_all_twitches", self.twitches)[lo:hi]:
            s = int(round(tw.t * fs))
            self._add_wave(x[:, tw.channel], i0, s, tw.wave)
            if tw.cross_channel is not None:
                self._add_wave(x[:, tw.cross_channel], i0, s + tw.cross_delay, tw.wave * tw.cross_gain)
        # movements
        for m in self.movements:
            if m.end < t0 or m.t > t1:
                continue
            tau = t - m.t
            dur = m.end - m.t
            env = np.clip(np.minimum(tau, dur - tau) / min(0.3, dur / 4), 0, 1) * ((tau >= 0) & (tau <= dur))
            f, p, wt = m.comps[:, 0], m.comps[:, 1], m.comps[:, 2]
            sway = (np.sin(2 * np.pi * f * tau[:, None] + p) * wt).sum(axis=1) / np.sqrt(len(wt))
            jitter = rng.standard_normal(self.BLOCK) * 0.15
            mv = m.amp * env * (sway + jitter)
            for j, c in enumerate(m.channels):
                x[:, c] += mv * (1.0 - 0.2 * j)
        if self.board:
            # a lead that came off picks mains up at the board's input, where
            # the board amplifies it like any signal (the first board had no gain)
            for fl in self.faults:
                sel = (t >= fl.t) & (t < fl.end)
                if fl.kind == "hum" and sel.any():
                    x[sel, fl.channel] = self.offset[fl.channel] + noise[sel, fl.channel] + self._fault_hum(w[sel])
            x = self._through_board(b, x - self.offset - noise) + noise
        # faults
        for fl in self.faults:
            sel = (t >= fl.t) & (t < fl.end)
            if not sel.any() or (self.board and fl.kind == "hum"):
                continue
            c = fl.channel
            if fl.kind == "unplugged":
                x[sel, c] = 512 + (rng.random(sel.sum()) < 0.05)
            elif fl.kind == "railed":
                x[sel, c] = pins.ADC_MAX_CODE
            else:
                x[sel, c] = 512 + self._fault_hum(w[sel]) + 0.3 * rng.standard_normal(sel.sum())
        codes = np.clip(np.rint(x), 0, pins.ADC_MAX_CODE).astype(np.uint16)
        lo = np.searchsorted(self.glitch_idx, i0)
        hi = np.searchsorted(self.glitch_idx, i0 + self.BLOCK)
        codes[self.glitch_idx[lo:hi] - i0, self.glitch_ch[lo:hi]] = self.glitch_val[lo:hi]
        return codes

    @staticmethod
    def _fault_hum(w: np.ndarray) -> np.ndarray:
        """Mains on a lead that came off (codes of the first board); ``w``: mains phase, rad."""
        return 80 * np.sin(w + 0.3) + 20 * np.sin(3 * w)

    def _through_board(self, b: int, x_codes1: np.ndarray) -> np.ndarray:
        """Block ``b``'s signal (codes of the first board, about 0) as the v2
        board gives it (codes, float): the board's filters carry their state
        from block to block, so blocks are rendered in order."""
        from . import frontend  # noqa: PLC0415

        if b > 0 and b - 1 not in self._fe_state:
            self._render_block(b - 1)
        zi = self._fe_state.get(b - 1) or frontend.initial_state(self.rate_hz, self.channels)
        codes, zf = frontend.to_codes(x_codes1 * self.V1_PER_CODE, self.rate_hz, zi=zi)
        self._fe_state[b] = zf
        return codes.astype(np.float64)

    @staticmethod
    def _add_wave(col: np.ndarray, i0: int, s: int, wave: np.ndarray) -> None:
        a, b = max(s, i0), min(s + len(wave), i0 + len(col))
        if a < b:
            col[a - i0:b - i0] += wave[a - s:b - s]

    def blocks(self, block_samples: int = 10_000):
        for s in range(0, self.n_samples, block_samples):
            yield self.render(s, block_samples)

    # -- truth ---------------------------------------------------------------
    def truth(self) -> dict:
        return {
            "seed": self.seed, "profile": self.profile, "rate_hz": self.rate_hz,
            "channels": self.channels, "duration_s": self.duration_s,
            "mains_hz": self.mains_hz, "heart_rate_bpm": round(self.hr_bpm, 2),
            "twitches": [{"t": round(tw.t, 4), "channel": tw.channel, "peak": round(tw.peak, 2),
                          "doublet": tw.doublet} for tw in self.twitches],
            "movements": [{"t": round(m.t, 3), "end": round(m.end, 3), "channels": m.channels}
                          for m in self.movements],
            "faults": [{"channel": f.channel, "t": round(f.t, 3), "end": round(f.end, 3), "kind": f.kind}
                       for f in self.faults],
            "glitches": int(len(self.glitch_idx)),
            "board": "v2 (firmware_host.frontend)" if self.board else "v1 (unity gain)",
            "heart_rate_true_bpm": round(60.0 / float(np.median(np.diff(self.beats))), 2),
            "heartbeat_x_noise": round(float(getattr(self, "hb_snr", np.median(self.hb_amp / self.noise_sd))), 2),
            "ambiguous": [{"t": round(tw.t, 4), "channel": tw.channel, "peak": round(tw.peak, 2)}
                          for tw in self.ambiguous],
            "attribution": "Twitch time courses: E. J. Mastnak, spm-potentiation dataset, CC-BY 4.0",
        }
