"""The twitch detector: a function of (block of codes, state) -> (events, state).

``Detector.process(codes)`` is the same code for ``twitchmon run`` (100 ms
blocks from the sampler) and ``twitchmon replay`` (big blocks from a file).
Internally it cuts the stream into fixed chunks (``chunk_s``) and works
only on whole chunks, so the events do not depend on how the stream was
split: 1-sample, 37-sample and whole-night blocks give the same events.

Per chunk, in order:

1. **Glitches**: a 3-point median at the full rate removes lone 0/1023
   samples (one sample of delay).
2. **Decimation** to about 250 Hz by block averaging (the twitch band is
   3-40 Hz).
3. **Sensor faults** per channel from the raw codes: railed (stuck at 0 or
   1023), unplugged (flat), or hum-only (mains power is most of the signal).
   A faulty channel is excluded from everything, and for a settling time
   after it comes back.
4. **Mains** frequency (50 or 60 Hz) is measured in the first chunk and
   notched; a 3-35 Hz band-pass removes drift and breathing.
5. **Movement**: sustained large low-frequency swings, large broadband
   energy or clipping on any good channel for >= 0.5 s.  Nothing counts
   from 0.5 s before a movement until ``settle_s`` after it.
6. **Heartbeat**: beats are found where the pulse envelope rises on (almost)
   all good channels at once (the lower median across channels, so one
   twitching channel and its neighbour cannot fake a beat); each channel
   keeps a beat-locked template, which is aligned to every beat by
   cross-correlation, scaled by the beat's common amplitude and
   subtracted.  A twitch landing on a beat survives the subtraction.
7. **Twitches**: on the residual, the 40 ms mean of |x| is compared with a
   threshold set from that channel's robust noise floor (learned at rest
   only) times a factor from the user's sensitivity.  Regions closer than
   120 ms merge (doublets count once).  Of simultaneous regions on one leg
   (crosstalk), only the strongest counts.

Units: ``peak`` is in codes of the band-passed, heartbeat-free signal (ADC
codes, 3-35 Hz); ``t`` is seconds from the first sample; ``duration_ms`` is
milliseconds.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import signal as sps

from . import pins

FAULT_OK = "ok"
FAULT_KINDS = ("ok", "unplugged", "railed", "hum")


@dataclass
class DetectorConfig:
    rate_hz: float = 1000.0
    channels: int = 4
    sensitivity: float = 5.0  #: 1 (only clear twitches) .. 10 (smallest twitches)
    chunk_s: float = 4.0  #: analysis step; latency is about 3 chunks
    warmup_s: float = 15.0  #: learning noise floor and heartbeat; not rest
    settle_s: float = 5.0  #: not rest after a movement ends
    pre_movement_s: float = 0.5
    merge_ms: float = 120.0  #: regions closer than this are one twitch (doublets)
    crosstalk_ms: float = 80.0
    min_twitch_ms: float = 30.0
    max_twitch_ms: float = 1000.0
    legs: tuple[str, ...] | None = None

    def threshold_factor(self) -> float:
        """Multiple of the noise floor the 40 ms mean |x| must pass."""
        s = min(max(float(self.sensitivity), 1.0), 10.0)
        return 8.0 * 1.15 ** (5.0 - s)


@dataclass
class Twitch:
    t: float
    channel: int
    duration_ms: float
    peak: float
    snr: float

    def as_dict(self) -> dict:
        return {"t": round(self.t, 4), "channel": self.channel, "duration_ms": round(self.duration_ms, 1),
                "peak": round(self.peak, 2), "snr": round(self.snr, 2)}


@dataclass
class Movement:
    t: float
    end: float
    channels: list[int]

    def as_dict(self) -> dict:
        return {"t": round(self.t, 3), "end": round(self.end, 3), "channels": self.channels}


@dataclass
class Events:
    twitches: list[Twitch] = field(default_factory=list)
    movements: list[Movement] = field(default_factory=list)
    faults: list[dict] = field(default_factory=list)  #: {"channel", "t", "status"} on changes

    def extend(self, other: "Events") -> None:
        self.twitches += other.twitches
        self.movements += other.movements
        self.faults += other.faults


def _median3(x: np.ndarray) -> np.ndarray:
    """3-point running median along axis 0; output[i] = median(x[i], x[i+1], x[i+2])."""
    a, b, c = x[:-2], x[1:-1], x[2:]
    return np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))


class Detector:
    """Streaming twitch detector.  Feed :meth:`process`, end with :meth:`finish`."""

    def __init__(self, config: DetectorConfig | None = None, **kw):
        cfg = config or DetectorConfig(**kw)
        self.cfg = cfg
        C = cfg.channels
        self.legs = list(cfg.legs) if cfg.legs else pins.legs(C)
        self.D = max(1, int(round(cfg.rate_hz / 250.0)))
        self.fw = cfg.rate_hz / self.D  # working rate, Hz
        self.chunk_raw = int(round(cfg.chunk_s * self.fw)) * self.D
        self.chunk_w = self.chunk_raw // self.D
        self._buf = np.empty((self.chunk_raw, C), dtype=np.float64)
        self._fill = 0
        self._carry = None  # last 2 raw samples for the median
        self._analysed_upto = 0  # absolute working index analysed so far
        self._chunk_index = 0
        fw = self.fw
        nyq = fw / 2
        self._sos_band = sps.butter(2, [3.0 / nyq, min(35.0, 0.4 * fw) / nyq], "bandpass", output="sos")
        self._sos_lf = sps.butter(2, [0.3 / nyq, 3.0 / nyq], "bandpass", output="sos")
        self._sos_env = sps.butter(2, 5.0 / nyq, output="sos")
        self.mains_hz: float | None = None
        self._zi_band = self._zi_lf = self._zi_env = None
        # history ring of working-rate signals, 3 chunks
        self._y = np.zeros((0, C))
        self._e = np.zeros((0, C))
        self._r_hist = np.zeros((0, C))  # residual of analysed chunks (last 2)
        self._base = 0  # working index of self._y[0]
        # heartbeat
        self.pre = int(round(0.2 * fw))
        self.post = int(round(0.3 * fw))
        self.L = self.pre + self.post
        self.templates: np.ndarray | None = None  # (C, L)
        self._boot: list[np.ndarray] = []
        self.g = np.ones(C)  # envelope level at beats, per channel
        self._g_init = False
        self.beats: list[float] = []  # working index (absolute) of beat fiducials
        self._fits: list[tuple[float, float, float]] = []  # (aligned fid, scale, delta)
        self._fitted: set[int] = set()  # beats (as detected) already fitted
        self.rr: list[float] = []
        # noise floors
        self.sigma = np.full(C, np.nan)
        self.sigma_lf = np.full(C, np.nan)
        # faults
        self.status = [FAULT_OK] * C
        self._fault_hist: list[np.ndarray] = []  # per chunk: bool bad (C,)
        self._bad_spans: list[list[tuple[int, int]]] = [[] for _ in range(C)]  # excluded spans
        # movement state (absolute working indices)
        self._run_start: int | None = None
        self._run_last: int | None = None
        self._run_chans: set[int] = set()
        self.movements: list[Movement] = []
        self._mv_windows: list[tuple[int, int]] = []  # confirmed, as working index [start, end]
        # twitches
        self._pending: list[Twitch] = []
        self._last_end = np.full(C, -10 ** 9)
        self.rest_samples = 0
        self.analysed_samples = 0
        self.twitch_count = 0
        self.rejected_coincident = 0

    # -- public --------------------------------------------------------------
    def process(self, codes) -> Events:
        """Take a block (samples, channels) of codes; return what became final."""
        x = np.asarray(codes, dtype=np.float64)
        if x.ndim == 1:
            x = x.reshape(-1, self.cfg.channels) if self.cfg.channels > 1 else x[:, None]
        if x.shape[1] != self.cfg.channels:
            raise ValueError(f"detector expects {self.cfg.channels} channels, got {x.shape[1]}")
        out = Events()
        pos = 0
        n = len(x)
        while pos < n:
            take = min(self.chunk_raw - self._fill, n - pos)
            self._buf[self._fill:self._fill + take] = x[pos:pos + take]
            self._fill += take
            pos += take
            if self._fill == self.chunk_raw:
                self._fill = 0
                out.extend(self._step(self._buf))
        return out

    def finish(self) -> Events:
        """End of stream: analyse what is buffered and close open movements."""
        out = Events()
        usable = (self._fill // self.D) * self.D
        if usable:
            out.extend(self._step(self._buf[:usable].copy()))
        self._fill = 0
        out.extend(self._step(None, final=True))
        return out

    @property
    def rest_s(self) -> float:
        return self.rest_samples / self.fw

    @property
    def heart_rate_bpm(self) -> float | None:
        if len(self.rr) < 5:
            return None
        return round(60.0 * self.fw / float(np.median(self.rr)), 1)

    # -- one chunk -----------------------------------------------------------
    def _step(self, raw: np.ndarray | None, final: bool = False) -> Events:
        out = Events()
        newest_len = 0
        if raw is not None and len(raw):
            self._ingest(raw, out)
            newest_len = self._last_len
        # Analyse what is one chunk behind the newest (all of it at the end).
        analysis_end = len(self._y) - (0 if final else newest_len)
        self._end_guard = self._base + len(self._y) - self.post - int(0.1 * self.fw)
        a0 = self._analysed_upto - self._base
        if analysis_end > a0 >= 0 or (final and analysis_end >= a0 >= 0):
            self._analyse(a0, analysis_end, out, final=final)
            self._analysed_upto = self._base + analysis_end
        if final:
            self._close_movement(out)
            self._finalise_pending(out, horizon=float("inf"))
        keep = 3 * self.chunk_w + self.L  # history kept for beat windows
        if len(self._y) > keep:
            cut = len(self._y) - keep
            self._y = self._y[cut:]
            self._e = self._e[cut:]
            self._base += cut
        return out

    def _ingest(self, raw: np.ndarray, out: Events) -> None:
        cfg, C, D = self.cfg, self.cfg.channels, self.D
        if self._carry is None:
            self._carry = np.repeat(raw[:1], 2, axis=0)
        ext = np.vstack([self._carry, raw])
        self._carry = ext[-2:].copy()
        med = _median3(ext)  # med[i] is centred on raw[i - 1]
        med = med[: (len(med) // D) * D]
        xd = med.reshape(-1, D, C).mean(axis=1)
        self._last_len = len(xd)
        if self.mains_hz is None:
            self._init_filters(xd)
        abs0 = self._base + len(self._y)
        # faults from raw codes
        bad = self._faults(raw, xd, abs0, out)
        y, self._zi_band = sps.sosfilt(self._sos_band_full, xd, axis=0, zi=self._zi_band)
        lf, self._zi_lf = sps.sosfilt(self._sos_lf, xd, axis=0, zi=self._zi_lf)
        e2, self._zi_env = sps.sosfilt(self._sos_env, y * y, axis=0, zi=self._zi_env)
        e = np.sqrt(np.maximum(e2, 0))
        self._y = np.vstack([self._y, y])
        self._e = np.vstack([self._e, e])
        good = ~bad & np.array([not self._bad_during(c, abs0 - 1, abs0) for c in range(C)])
        self._movement(raw, lf, y, e, abs0, good, out)
        self._heartbeat(abs0, good)
        self._chunk_index += 1

    def _init_filters(self, xd: np.ndarray) -> None:
        fw = self.fw
        t = np.arange(len(xd)) / fw
        xc = xd - xd.mean(axis=0)
        power = {}
        for f in (50.0, 60.0):
            if f < fw / 2 - 5:
                ph = np.exp(-2j * np.pi * f * t)
                power[f] = float(np.sum(np.abs(ph @ xc) ** 2))
        self.mains_hz = max(power, key=power.get) if power else 50.0
        sections = [self._sos_band]
        for h in (1, 2):
            f = self.mains_hz * h
            if f < fw / 2 - 5:
                b, a = sps.iirnotch(f, 20.0, fs=fw)
                sections.append(sps.tf2sos(b, a))
        self._sos_band_full = np.vstack(sections)
        # start every filter in its steady state for the first sample, so the
        # night does not begin with a filter's step response
        x0 = xd[0]
        self._zi_band = sps.sosfilt_zi(self._sos_band_full)[:, :, None] * x0[None, None, :]
        self._zi_lf = sps.sosfilt_zi(self._sos_lf)[:, :, None] * x0[None, None, :]
        self._zi_env = np.zeros((self._sos_env.shape[0], 2, len(x0)))

    # -- faults --------------------------------------------------------------
    def _faults(self, raw, xd, abs0, out: Events) -> np.ndarray:
        """Classify each channel per second of this chunk; return "bad in any"."""
        C, D = self.cfg.channels, self.D
        sub = max(1, int(round(self.fw)))  # one second, working samples
        bad_any = np.zeros(C, dtype=bool)
        settle = int(round(3.0 * self.fw))
        for k0 in range(0, len(xd), sub):
            xs = xd[k0:k0 + sub]
            rs = raw[k0 * D:(k0 + len(xs)) * D]
            status = self._classify(rs, xs)
            for c in range(C):
                if status[c] != self.status[c]:
                    out.faults.append({"channel": c, "t": round(self._t(abs0 + k0), 3), "status": status[c]})
                    self.status[c] = status[c]
                if status[c] != FAULT_OK:
                    bad_any[c] = True
                    start, end = abs0 + k0, abs0 + k0 + len(xs) + settle
                    spans = self._bad_spans[c]
                    if spans and spans[-1][1] >= start - settle:
                        spans[-1] = (spans[-1][0], end)
                    else:
                        spans.append((start - int(0.5 * self.fw), end))
                        del spans[:-20]
        return bad_any

    def _classify(self, raw, xd) -> list[str]:
        C = self.cfg.channels
        railed = np.mean((raw <= 1) | (raw >= pins.ADC_MAX_CODE - 1), axis=0) > 0.5
        flat = (xd.std(axis=0) < 0.3) & ~railed
        hum = np.zeros(C, dtype=bool)
        if len(xd) >= 32:
            X = np.fft.rfft(xd - xd.mean(axis=0), axis=0)
            f = np.fft.rfftfreq(len(xd), 1 / self.fw)
            p = np.abs(X) ** 2
            total = p[1:].sum(axis=0) + 1e-12
            sel = np.zeros(len(f), dtype=bool)
            for h in (1, 2, 3):
                fh = self.mains_hz * h
                fh = fh if fh <= self.fw / 2 else abs(self.fw - fh % self.fw)  # aliased harmonic
                sel |= np.abs(f - fh) <= 1.5
            ratio = p[sel].sum(axis=0) / total
            hum_rms = np.sqrt(2 * p[sel].sum(axis=0)) / len(xd)
            hum = (ratio > 0.8) & (hum_rms > 5.0) & ~railed & ~flat
        return ["railed" if railed[c] else "unplugged" if flat[c] else "hum" if hum[c] else FAULT_OK
                for c in range(C)]

    def _bad_during(self, c: int, a_abs: int, b_abs: int) -> bool:
        return any(s < b_abs and e > a_abs for s, e in self._bad_spans[c])

    # -- movement ------------------------------------------------------------
    def _movement(self, raw, lf, y, e, abs0, good, out: Events) -> None:
        C, D = self.cfg.channels, self.D
        n = len(lf)
        # clipping: two or more consecutive raw samples at a rail (not a lone glitch)
        at_rail = (raw <= 0) | (raw >= pins.ADC_MAX_CODE)
        clip2 = np.zeros_like(at_rail)
        clip2[1:] = at_rail[1:] & at_rail[:-1]
        clip = clip2[: n * D].reshape(n, D, C).any(axis=1)
        lf_floor = np.where(np.isnan(self.sigma_lf), np.percentile(np.abs(lf), 50, axis=0) / 0.6745 + 0.5,
                            self.sigma_lf)
        lf_thr = np.maximum(10 * lf_floor, 8.0)
        sig = np.where(np.isnan(self.sigma), np.percentile(np.abs(y), 50, axis=0) / 0.6745 + 0.3, self.sigma)
        e_thr = np.maximum(15 * sig, 3.0 * self.g)
        active_c = ((np.abs(lf) > lf_thr) | (e > e_thr) | clip) & good
        active = active_c.any(axis=1)
        idx = np.flatnonzero(active)
        gap = int(0.3 * self.fw)
        min_len = int(0.5 * self.fw)
        if len(idx):
            # split into runs separated by gaps
            splits = np.flatnonzero(np.diff(idx) > gap)
            starts = np.concatenate([[idx[0]], idx[splits + 1]])
            ends = np.concatenate([idx[splits], [idx[-1]]])
            for s, en in zip(starts, ends):
                s_abs, e_abs = abs0 + int(s), abs0 + int(en)
                chans = set(np.flatnonzero(active_c[s:en + 1].any(axis=0)).tolist())
                if self._run_start is not None and s_abs - self._run_last <= gap:
                    self._run_last = e_abs
                    self._run_chans |= chans
                else:
                    self._close_movement(out)
                    self._run_start, self._run_last, self._run_chans = s_abs, e_abs, chans
                if self._run_last - self._run_start >= min_len:
                    self._confirm_run()
        end_abs = abs0 + n
        if self._run_start is not None and end_abs - self._run_last > gap:
            self._close_movement(out)
        # robust LF floor, learned at rest
        if self._run_start is None and not self._in_movement(abs0, end_abs):
            est = np.median(np.abs(lf), axis=0) / 0.6745
            self.sigma_lf = np.where(np.isnan(self.sigma_lf), est,
                                     np.exp(np.log(self.sigma_lf) + 0.1 * (np.log(est + 1e-9) - np.log(self.sigma_lf))))

    def _confirm_run(self) -> None:
        win = (self._run_start, self._run_last)
        if self._mv_windows and self._mv_windows[-1][0] == self._run_start:
            self._mv_windows[-1] = win
        else:
            self._mv_windows.append(win)

    def _close_movement(self, out: Events) -> None:
        if self._run_start is None:
            return
        if self._run_last - self._run_start >= int(0.5 * self.fw):
            self._confirm_run()
            mv = Movement(self._t(self._run_start), self._t(self._run_last + 1), sorted(self._run_chans))
            self.movements.append(mv)
            out.movements.append(mv)
        self._run_start = self._run_last = None
        self._run_chans = set()

    def _not_rest_mask(self, a_abs: int, b_abs: int) -> np.ndarray:
        """True where samples a_abs..b_abs are not rest (movement windows, warm-up)."""
        mask = np.zeros(b_abs - a_abs, dtype=bool)
        pre = int(self.cfg.pre_movement_s * self.fw)
        post = int(self.cfg.settle_s * self.fw)
        windows = list(self._mv_windows)
        if self._run_start is not None:  # open run: not rest from its start on
            windows.append((self._run_start, 10 ** 15))
        for s, e in windows[-50:]:
            lo, hi = max(s - pre, a_abs), min(e + post, b_abs)
            if lo < hi:
                mask[lo - a_abs:hi - a_abs] = True
        warm = int(self.cfg.warmup_s * self.fw)
        if a_abs < warm:
            mask[: min(warm, b_abs) - a_abs] = True
        return mask

    def _in_movement(self, a_abs: int, b_abs: int) -> bool:
        return bool(self._not_rest_mask(a_abs, b_abs).any())

    # -- heartbeat -----------------------------------------------------------
    def _heartbeat(self, abs0: int, good: np.ndarray) -> None:
        e, y = self._e, self._y
        n_new = self._last_len
        if not good.any():
            return
        if not self._g_init:
            self.g = np.maximum(np.percentile(e[-n_new:], 95, axis=0), 1e-3)
            self._g_init = True
        ratio = e / self.g
        gi = np.flatnonzero(good)
        r = np.sort(ratio[:, gi], axis=1)
        k = 1 if len(gi) >= 3 else 0
        b = r[:, k]
        # search beats in the region not searched before, confirmed 0.15 s before the end
        last_searched = getattr(self, "_beat_searched", self._base)
        lo = max(last_searched - self._base, 0)
        hi = len(b) - int(0.15 * self.fw)
        if hi - lo < 3:
            return
        dist = int(0.33 * self.fw)
        pk, props = sps.find_peaks(b[max(lo - dist, 0):hi], height=0.25, distance=int(0.12 * self.fw))
        pk = pk + max(lo - dist, 0)
        heights = props["peak_heights"]
        rr_med = float(np.median(self.rr[-8:])) if len(self.rr) >= 3 else None
        refr = max(int(0.33 * self.fw), int(0.6 * rr_med) if rr_med else 0)
        new = []
        for p, h in zip(pk, heights):
            p_abs = self._base + int(p)
            if p < lo:
                continue
            last = self.beats[-1] if self.beats else None
            if last is not None and p_abs - last < refr:
                continue
            if h < 0.5:
                # a weak peak is a beat only where the rhythm expects one
                if rr_med is None or last is None or abs((p_abs - last) - rr_med) > 0.2 * rr_med:
                    continue
            if last is not None and p_abs - last < 2.0 * self.fw:
                self.rr.append(p_abs - last)
            self.beats.append(p_abs)
            new.append(p_abs)
        self._beat_searched = self._base + hi
        if new:
            self.g = self.g + 0.2 * (np.clip(np.median(e[np.array(new) - self._base], axis=0), 0.5 * self.g,
                                             2 * self.g) - self.g) * good
        self._fit_beats(good)
        if len(self.beats) > 400:
            self.beats = self.beats[-200:]
            self.rr = self.rr[-200:]

    def _fit_beats(self, good: np.ndarray) -> None:
        """Align, scale and remember every beat whose window is in the buffer."""
        fitted = self._fitted
        K = max(1, int(round(0.07 * self.fw)))  # a twitch can pull the envelope peak this far
        todo = [f for f in self.beats[-30:] if f not in fitted and
                f - self.pre - K - self._base >= 0 and f + self.post + K - self._base <= len(self._y)]
        if not todo:
            return
        y = self._y
        if self.templates is None:
            for f in todo:
                s = f - self._base
                self._boot.append(y[s - self.pre:s + self.post].T.copy())
                self._fits.append((f, 0.0, 0.0))
                self._fitted.add(f)
            if len(self._boot) >= 6:
                self.templates = np.median(np.stack(self._boot), axis=0)
                self._boot = []
            return
        T = self.templates  # (C, L)
        Td = np.gradient(T, axis=1)
        fids = np.array(todo) - self._base
        lags = np.arange(-K, K + 1)
        # segments: (B, lags, L, C)
        idx = fids[:, None, None] - self.pre + lags[None, :, None] + np.arange(self.L)[None, None, :]
        S = y[idx]
        tn = np.sqrt((T ** 2).sum(axis=1)) + 1e-9  # (C,)
        Td_n = (Td ** 2).sum(axis=1) + 1e-9
        dot = np.einsum("bklc,cl->bkc", S, T)
        sn = np.sqrt(np.einsum("bklc,bklc->bkc", S, S)) + 1e-9
        rho = dot / (sn * tn)  # normalised cross-correlation per beat, lag, channel
        noise = np.nan_to_num(self.sigma, nan=1.0)
        B = len(todo)
        use = np.repeat(good[None, :], B, axis=0)  # channels a beat's fit listens to
        for _ in range(2):  # fit, then refit without channels a twitch disturbed
            score = (rho * use[:, None, :]).sum(axis=2)  # (B, lags)
            best = score.argmax(axis=1)
            Sb = S[np.arange(B), best]  # (B, L, C)
            a = np.einsum("blc,cl->bc", Sb, T) / (tn ** 2)
            resid = Sb - a[:, None, :] * T.T[None]
            bcoef = np.einsum("blc,cl->bc", resid, Td) / Td_n
            scale = np.array([np.median(a[i, use[i]]) if use[i].any() else 0.0 for i in range(B)])
            scale = np.clip(scale, 0.4, 1.8)
            model = scale[:, None, None] * T.T[None]  # (B, L, C)
            err = np.sqrt(((Sb - model) ** 2).mean(axis=1)) / (noise + 0.05 * tn / np.sqrt(self.L))
            worst = np.where(use, err, -np.inf).argmax(axis=1)
            out_i = (err[np.arange(B), worst] > 4.0) & (use.sum(axis=1) >= 3)
            if not out_i.any():
                break
            use[np.flatnonzero(out_i), worst[out_i]] = False
        for i, f in enumerate(todo):
            u = use[i]
            ai = a[i, u]
            sc = float(np.clip(np.median(ai), 0.4, 1.8)) if len(ai) else 0.0
            ok = ai > 0.3
            delta = float(np.clip(np.median(bcoef[i, u][ok] / ai[ok]), -1, 1)) if ok.any() else 0.0
            shift = int(lags[best[i]])
            self._fits.append((f + shift, sc, delta))
            self._fitted.add(f)
            if sc > 0:  # robust template update from channels that fit well
                m = sc * (T + delta * Td)  # (C, L)
                e = np.abs(Sb[i].T - m).max(axis=1)
                lim = 6 * noise + 0.3 * np.abs(T).max(axis=1)
                upd = u & (e < lim)
                T[upd] += 0.1 * ((Sb[i].T[upd] / sc - delta * Td[upd]) - T[upd])
        if len(self._fits) > 400:
            self._fits = self._fits[-200:]
            self._fitted = {f for f in self._fitted if f >= self.beats[0]}

    # -- analysis of one chunk ------------------------------------------------
    def _analyse(self, a0: int, a1: int, out: Events, final: bool) -> None:
        cfg, C, fw = self.cfg, self.cfg.channels, self.fw
        a_abs, b_abs = self._base + a0, self._base + a1
        y = self._y[a0:a1].copy()
        # subtract fitted beats
        if self.templates is not None:
            T = self.templates
            Td = np.gradient(T, axis=1)
            for f, s, d in self._fits[-40:]:
                if s == 0.0:
                    continue
                lo = f - self.pre - a_abs
                hi = lo + self.L
                if hi <= 0 or lo >= a1 - a0:
                    continue
                m = (s * (T + d * Td)).T  # (L, C)
                i0, i1 = max(lo, 0), min(hi, a1 - a0)
                y[i0:i1] -= m[i0 - lo:i1 - lo]
        r = y
        not_rest = self._not_rest_mask(a_abs, b_abs)
        bad_now = np.array([self._bad_during(c, a_abs, b_abs) for c in range(C)])
        any_good = np.ones(b_abs - a_abs, dtype=bool)
        if bad_now.all():
            any_good[:] = False
        rest = ~not_rest & any_good
        self.rest_samples += int(rest.sum())
        self.analysed_samples += a1 - a0
        # noise floor, learned at rest only
        if rest.mean() > 0.8:
            est = np.median(np.abs(r[rest]), axis=0) / 0.6745 + 1e-3
            learn = ~bad_now
            if np.isnan(self.sigma).any():
                self.sigma = np.where(np.isnan(self.sigma) & learn, est, self.sigma)
            upd = learn & ~np.isnan(self.sigma)
            self.sigma[upd] = np.exp(np.log(self.sigma[upd]) + 0.1 * (np.log(est[upd]) - np.log(self.sigma[upd])))
        elif np.isnan(self.sigma).all() and self._base + a1 > cfg.warmup_s * fw:
            self.sigma = np.median(np.abs(r), axis=0) / 0.6745 + 1e-3
        # twitch regions on [previous chunk's residual tail + this chunk]
        hist = self._r_hist
        span = np.vstack([hist, r])
        span0 = a_abs - len(hist)
        w = max(1, int(round(0.04 * fw)))
        kernel = np.ones(w) / w
        act = np.abs(span)
        act = sps.oaconvolve(act, kernel[:, None], mode="same", axes=0) if len(act) >= w else act
        k_hi = cfg.threshold_factor()
        sig = np.nan_to_num(self.sigma, nan=np.inf)
        merge = int(cfg.merge_ms / 1000 * fw)
        cands = []
        for c in range(C):
            if not np.isfinite(sig[c]):
                continue
            lo_thr = 0.4 * k_hi * sig[c]
            above = act[:, c] > lo_thr
            idx = np.flatnonzero(above)
            if not len(idx):
                continue
            splits = np.flatnonzero(np.diff(idx) > merge)
            starts = np.concatenate([[idx[0]], idx[splits + 1]])
            ends = np.concatenate([idx[splits], [idx[-1]]])
            for s, e in zip(starts, ends):
                s_abs = span0 + int(s)
                # a region is final once it started in the older part of the span...
                if not final and s_abs >= a_abs:
                    continue  # started in this chunk: decide next time
                if s == 0 and len(hist):
                    continue  # began before the span: decided earlier
                if e >= len(span) - merge and not final:
                    continue  # still open at the end of what we have
                if s_abs - self._last_end[c] < merge:
                    continue
                peak_act = act[s:e + 1, c].max()
                if peak_act < k_hi * sig[c]:
                    continue
                dur_ms = (e - s + 1) / fw * 1000
                if dur_ms < cfg.min_twitch_ms or dur_ms > cfg.max_twitch_ms:
                    self._last_end[c] = span0 + int(e)
                    continue
                seg_nr = self._not_rest_mask(s_abs, span0 + int(e) + 1)
                self._last_end[c] = span0 + int(e)
                if seg_nr.any() or self._bad_during(c, s_abs, span0 + int(e) + 1):
                    continue
                if final and span0 + int(e) > self._end_guard:
                    continue  # the last beats' windows are not whole: cannot clean them
                peak = float(np.abs(span[s:e + 1, c]).max())
                cands.append(Twitch(self._t(s_abs), c, dur_ms, peak, float(peak_act / sig[c])))
        self._r_hist = r  # keep this chunk for the next span
        self._pending += cands
        horizon = self._t(a_abs) - cfg.crosstalk_ms / 1000
        self._finalise_pending(out, horizon)
        if final:
            self._finalise_pending(out, float("inf"))

    def _finalise_pending(self, out: Events, horizon: float) -> None:
        pend = sorted(self._pending, key=lambda tw: tw.t)
        xt = self.cfg.crosstalk_ms / 1000
        while pend and pend[0].t < horizon:
            c0 = pend[0]
            group = [p for p in pend if p.t - c0.t <= xt]
            pend = [p for p in pend if p not in group]
            if len({self.legs[p.channel] for p in group}) > 1:
                # at the same instant on both legs: a twitch is one muscle on one
                # leg, so this is what the heartbeat left behind, not a twitch
                self.rejected_coincident += 1
                continue
            win = max(group, key=lambda p: p.peak)  # crosstalk: the strongest channel twitched
            out.twitches.append(win)
            self.twitch_count += 1
        self._pending = pend

    def _t(self, abs_idx: float) -> float:
        """Seconds from the first sample for a working-rate index (the median's
        one-sample delay and the decimation's half-block are put back)."""
        return (abs_idx * self.D + (self.D - 1) / 2) / self.cfg.rate_hz


def run_detector(blocks, rate_hz: float, channels: int, **kw) -> tuple[Events, Detector]:
    """Whole-stream convenience: every block through one detector."""
    det = Detector(DetectorConfig(rate_hz=rate_hz, channels=channels, **kw))
    ev = Events()
    for b in blocks:
        ev.extend(det.process(b))
    ev.extend(det.finish())
    return ev, det
