"""Planning a simulated night up front: beats, movements, faults,
twitches and, for the family's nights, every parameter drawn per night
(a mixin of :class:`~.night.Night`, which renders the plan)."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from .. import pins
from .parts import Fault, Movement, Twitch, twitch_shapes, twitch_wave


RESOLVE_S = 0.15  #: twitches on one site whose onsets are closer than this are one (the later is an onset of the first's), s


class NightPlanning:
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
        C = self.channels
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
        self._all_twitches = self.twitches
        self.twitches = self._sort_scored()
        self._finish_plan()

    def _sort_scored(self) -> list:
        """The twitches scored: those a person at rest would feel and a
        sensor can show, clear of movements and faults; the rest go to
        ``ambiguous``, neither a hit nor a false alarm when found.  Two onsets on one site
        closer than RESOLVE_S are felt, and shown, as one twitch: the later
        is an onset of the earlier's (found at either, it is that twitch
        found), scored as the earlier is.  An unscored twitch's crosstalk,
        where the neighbour shows it, is unscored there too."""
        band_sd = self.noise_sd * math.sqrt(2 * 32.0 / self.rate_hz)  # white noise in the 3-35 Hz band, codes
        self.scored_floor = 25.0 * band_sd  #: codes per channel; smaller twitches are not scored
        scored, self.ambiguous = [], []
        last_onset = np.full(self.channels, -10.0)
        owner: dict[int, tuple] = {}  # per channel: the twitch its last onset belongs to, and is it scored
        for tw in self.twitches:  # (in time order)
            apart = tw.t - last_onset[tw.channel] >= RESOLVE_S
            last_onset[tw.channel] = tw.t
            if not apart:  # an onset of the twitch before it: scored as that one is
                first, ok = owner[tw.channel]
                if ok:
                    first.also.append(tw.t)
                    continue
            else:
                ok = tw.peak >= self.scored_floor[tw.channel] and not self._blocked(tw.t, tw.channel) \
                    and not self._blocked(tw.t + tw.visible_s, tw.channel)
                owner[tw.channel] = (tw, ok)
            if ok:
                scored.append(tw)
            else:
                self.ambiguous += [tw, *self._echo_of_unscored(tw)]
        return scored

    def _echo_of_unscored(self, tw) -> list:
        """An unscored twitch as the neighbour its crosstalk reaches feels
        it, if that shows it: found there, neither a hit nor a false alarm.
        (A twitch under a sensor out for a fault, or just back, is a real
        twitch of the leg that only its neighbour shows, and nothing there
        tells it from the neighbour's own.  Any unscored source counts: one
        too small for its own floor has no echo over the neighbour's, and one
        in a movement's margin blanks every sensor anyway.)  A record for the
        truth only: never rendered (the source's crosstalk already is)."""
        cc = tw.cross_channel
        peak = abs(tw.cross_gain) * tw.peak
        if cc is None or peak < self.scored_floor[cc]:
            return []
        return [replace(tw, t=tw.t + tw.cross_delay / self.rate_hz, channel=cc, peak=peak, wave=tw.wave * tw.cross_gain,
                        cross_channel=None, also=[])]

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
        times = self._family_onsets(rng, profile)
        out: list[Twitch] = []
        busy = np.full(C, -10.0)  # where each channel's last twitch stops being visible, s
        p_follow = 0.6 if profile == "long-followed" else 0.08
        # a site has many motor units, each firing on its own: one may twitch
        # while the last one's twitch is still visible.  Those are drawn from
        # a stream of their own, so every other twitch of a night is what it
        # was before they were added (the first ten sessions drew none)
        rng_over = np.random.default_rng([self.seed, 7])
        queue = list(times)
        i = 0
        while i < len(queue):
            t, ch, big = queue[i]
            i += 1
            if t > T - 0.5:
                continue
            if t < busy[ch] + 0.12:
                tw, _ = self._family_twitch(rng_over, shapes, shape_rate, t, ch, big, False, polarity)
                tw.overlaps = True
                out.append(tw)
                continue
            long = rng.random() < p_follow
            tw, vis = self._family_twitch(rng, shapes, shape_rate, t, ch, big, long, polarity)
            out.append(tw)
            busy[ch] = t + vis
            if long:  # a long twitch followed by another on the same site 0.4-0.8 s later
                queue.insert(i, (t + max(vis + 0.12, rng.uniform(0.4, 0.8)), ch, False))
        out.sort(key=lambda tw: tw.t)
        return out

    def _family_onsets(self, rng, profile: str) -> list[tuple[float, int, bool]]:
        """(onset s, channel, large) of every twitch the night's sites make, in order."""
        C, T = self.channels, self.duration_s
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
        return times

    def _family_twitch(self, rng, shapes, shape_rate, t: float, ch: int, big: bool, long: bool,
                       polarity) -> tuple[Twitch, float]:
        """One twitch of the family (maybe a doublet) with its crosstalk; and how long it stays visible, s."""
        lo_peak, hi_peak = 3.0, 80.0
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
        mates = [c for c in range(self.channels) if c != ch]
        if mates:
            m = int(rng.choice(mates))
            tw.cross_channel = m
            g = rng.uniform(0.0, 0.5) if self.legs[m] == self.legs[ch] else rng.uniform(0.0, 0.15)
            tw.cross_gain = float(g * polarity[m] * polarity[ch])
            tw.cross_delay = int(rng.uniform(0.003, 0.015) * self.rate_hz)
        return tw, vis

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

