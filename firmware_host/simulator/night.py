"""A planned night rendered on demand: :class:`Night` gives codes for any
sample range, the same whatever the block size, and its truth."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .. import pins
from .parts import FAMILY, PROFILES, Twitch
from .plan import NightPlanning


class Night(NightPlanning):
    """A planned night; :meth:`render` gives codes for any sample range."""

    BLOCK = 4096  # noise is drawn per fixed block so any split renders alike
    wave2_delay_s = wave2_share = wave2_freq = 0.0  #: the pulse's second wave: none (see _plan_second_wave)

    #: volts at the disc per code of the first board (unity-gain buffers into a
    #: 3.3 V-referenced MCP3008): what the signals' sizes in codes were drawn in
    V1_PER_CODE = 3.3 / 1024
    #: the ADC's own noise, LSB rms (a SAR converter's transition noise; its
    #: rounding is done apart): of the noise drawn per night (``noise_sd``,
    #: first-board codes), this much is the ADC's, and the rest is the
    #: sensor's (the disc, the strap, the body), which a board with gain
    #: amplifies like any signal
    ADC_NOISE_LSB = 0.3

    def __init__(self, minutes: float, *, seed: int = 0, channels: int = pins.N_CHANNELS, rate_hz: float = 1000.0,
                 profile: str = "normal", twitches_per_min: float | None = None, board: bool = False,
                 second_wave: bool = False):
        """``board``: what the discs make through the v2 sensor board's model
        (firmware_host.frontend, the schematic's part table: gain, poles, rails,
        the ADC's 2.5 V reference), the sensor's noise through it and the ADC's
        (``ADC_NOISE_LSB``) after; ``second_wave``: :meth:`_plan_second_wave`."""
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
            if second_wave:
                self._plan_second_wave()
            return
        if second_wave:
            raise ValueError("second_wave is for the family's nights")
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

    def _plan_second_wave(self) -> None:
        """Each beat's pulse has a second, later wave (the reflected wave
        after the dicrotic notch, at the end of systole): ``wave2_delay_s``
        after the first (0.25-0.45 s at 60 bpm, shorter as the heart speeds
        up, as systole does: times the square root of the beat period in s),
        ``wave2_share`` of its size (0.3-0.8), its own burst frequency
        (``wave2_freq``, 0.6-1.2x).  From a random stream of its own: every
        other part of the night is as without it.  Not in the family's
        figures yet (benchmarks/detector_heart_waves.py measures what it
        does to the count)."""
        w = np.random.default_rng([self.seed, 5])
        self.wave2_delay_s = float(w.uniform(0.25, 0.45) * np.sqrt(60.0 / self.hr_bpm))
        self.wave2_share = float(w.uniform(0.3, 0.8))
        self.wave2_freq = float(w.uniform(0.6, 1.2))

    def _finish_plan(self) -> None:
        """Lookups for rendering, from the planned beats and twitches (call
        again after changing them): every twitch drawn, scored or not."""
        self._beat_starts = self.beats - 0.05  # burst windows for fast lookup
        self._tw_start = np.array([int(round(tw.t * self.rate_hz)) - 20 for tw in self._drawn_twitches()],
                                  dtype=np.int64)

    def _drawn_twitches(self) -> list:
        """Every twitch in the signal: a family night's scored and unscored ones
        alike (not the crosstalk records among ``ambiguous``: their source is here)."""
        return getattr(self, "_all_twitches", self.twitches)


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
        self._add_background(x, t)
        self._add_beats(x, t)
        self._add_twitches(x, i0)
        self._add_movements(x, t, rng)
        if self.board:
            self._add_board_hum(x, t, noise)
            adc_sd = np.minimum(self.ADC_NOISE_LSB, self.noise_sd)
            sensor = noise * (np.sqrt(self.noise_sd ** 2 - adc_sd ** 2) / self.noise_sd)
            x = self._through_board(b, x - self.offset - noise + sensor) + rng.standard_normal((self.BLOCK, C)) * adc_sd
        self._add_faults(x, t, rng)
        codes = np.clip(np.rint(x), 0, pins.ADC_MAX_CODE).astype(np.uint16)
        lo = np.searchsorted(self.glitch_idx, i0)
        hi = np.searchsorted(self.glitch_idx, i0 + self.BLOCK)
        codes[self.glitch_idx[lo:hi] - i0, self.glitch_ch[lo:hi]] = self.glitch_val[lo:hi]
        return codes

    def _add_background(self, x: np.ndarray, t: np.ndarray) -> None:
        """Drift, breathing and mains hum (with its 2nd and 3rd harmonics)."""
        drift = sum(a * np.sin(2 * np.pi * f * t + p) for a, f, p in self.drift)
        x += drift[:, None] * self.drift_gain
        breath = np.sin(2 * np.pi * self.breath_hz * t + 0.5 * np.sin(2 * np.pi * t / 300))
        x += breath[:, None] * self.breath_amp
        w = 2 * np.pi * self.mains_hz * t
        for h, rel in ((1, 1.0), (2, 0.1), (3, 0.3)):
            x += np.sin(h * w[:, None] + self.hum_phase * h) * (self.hum * rel)

    def _add_beats(self, x: np.ndarray, t: np.ndarray) -> None:
        """The heartbeat bursts overlapping the block."""
        t0, t1 = t[0], t[-1]
        waves = [(0.0, 1.0, 1.0)]
        if self.wave2_share:
            waves.append((self.wave2_delay_s, self.wave2_share, self.wave2_freq))
        lo = np.searchsorted(self.beats, t0 - 0.4 - waves[-1][0])
        hi = np.searchsorted(self.beats, t1 + 0.1)
        for k in range(lo, hi):
            for delay_s, share, freq in waves:
                tau = t[:, None] - self.beats[k] - self.hb_delay - 0.08 - self.beat_shift[k] - delay_s
                env = np.exp(-0.5 * (tau / self.hb_sigma) ** 2)
                x += (share * self.beat_gain[k] * self.hb_amp) * env * np.sin(
                    2 * np.pi * (freq * self.hb_freq * self.beat_freq[k]) * tau + self.hb_phase)

    def _add_twitches(self, x: np.ndarray, i0: int) -> None:
        """Each twitch on its channel, and its crosstalk on a neighbour."""
        fs = self.rate_hz
        lo = np.searchsorted(self._tw_start, i0 - int(1.5 * fs))
        hi = np.searchsorted(self._tw_start, i0 + self.BLOCK)
        for tw in self._drawn_twitches()[lo:hi]:
            s = int(round(tw.t * fs))
            self._add_wave(x[:, tw.channel], i0, s, tw.wave)
            if tw.cross_channel is not None:
                self._add_wave(x[:, tw.cross_channel], i0, s + tw.cross_delay, tw.wave * tw.cross_gain)

    def _add_movements(self, x: np.ndarray, t: np.ndarray, rng) -> None:
        t0, t1 = t[0], t[-1]
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

    def _add_board_hum(self, x: np.ndarray, t: np.ndarray, noise: np.ndarray) -> None:
        """A lead that came off picks mains up at the v2 board's input, where
        the board amplifies it like any signal (the first board had no gain)."""
        w = 2 * np.pi * self.mains_hz * t
        for fl in self.faults:
            sel = (t >= fl.t) & (t < fl.end)
            if fl.kind == "hum" and sel.any():
                x[sel, fl.channel] = self.offset[fl.channel] + noise[sel, fl.channel] + self._fault_hum(w[sel])

    def _add_faults(self, x: np.ndarray, t: np.ndarray, rng) -> None:
        """A sensor unplugged (flat), railed, or picking up only hum (on the
        v2 board the hum went in before it: :meth:`_add_board_hum`)."""
        w = 2 * np.pi * self.mains_hz * t
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

    @staticmethod
    def _fault_hum(w: np.ndarray) -> np.ndarray:
        """Mains on a lead that came off (codes of the first board); ``w``: mains phase, rad."""
        return 80 * np.sin(w + 0.3) + 20 * np.sin(3 * w)

    def _through_board(self, b: int, x_codes1: np.ndarray) -> np.ndarray:
        """Block ``b``'s signal (codes of the first board, about 0) as the v2
        board gives it (codes, float): the board's filters carry their state
        from block to block, so blocks are rendered in order."""
        if b > 0 and b - 1 not in self._fe_state:
            self._render_block(b - 1)
        # the v2 board's filters are designed with scipy.signal (75 MB): loaded
        # for a night drawn through it only (tests/test_simulator_lean.py)
        from firmware_host import frontend_digital as frontend  # noqa: PLC0415 - optional: scipy.signal
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
                          "doublet": tw.doublet, **({"also": [round(t, 4) for t in tw.also]} if tw.also else {})}
                         for tw in self.twitches],
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
