"""The twitch detector: a function of (block of codes, state) -> (events, state).

``Detector.process(codes)`` is the same code for ``twitchmon run`` (100 ms
blocks from the sampler) and ``twitchmon replay`` (big blocks from a file).
Internally it cuts the stream into fixed chunks (``chunk_s``) and works
only on whole chunks, so the events do not depend on how the stream was
split: 1-sample, 37-sample and whole-night blocks give the same events.

Per chunk (30 s; events are final about two chunks after they happen), in
order:

1. **Glitches**: a 3-point median at the full rate removes lone 0/1023
   samples (one sample of delay); block means take it to the filter rate
   (~250 Hz).
2. **Sensor faults** per channel and second: railed (stuck at 0 or 1023),
   unplugged (flat), or hum-only (mains power is most of the signal).  A
   faulty channel is excluded from everything, and for 3 s after it is back.
3. **Mains** frequency (50 or 60 Hz) is measured in the first chunk and
   notched with its harmonic; a 3-35 Hz band-pass removes drift and
   breathing; then everything runs at the working rate (~125 Hz).
4. **Movement**: large low-frequency swings or clipping for >= 0.5 s, or
   broadband energy for >= 1 s, on any good channel.  Nothing counts from
   0.5 s before a movement until ``settle_s`` after it.
5. **Heartbeat**: beats are found where the pulse envelope rises on (almost)
   all good channels at once (the second-lowest channel, so one twitching
   channel and its neighbour cannot fake a beat); each channel keeps a
   beat-locked template, aligned to every beat by cross-correlation (FFT),
   scaled by the beat's common amplitude and subtracted; the model each beat
   was given is kept, so later template updates do not change the past.
6. **Twitches**: on the residual, the 40 ms mean of |x| is compared with a
   threshold from that channel's robust noise floor (learned at rest only)
   times a factor from the user's sensitivity.  Gaps under 120 ms are
   bridged (doublets count once); the onset is the region's first strong
   stretch; inside a beat's window a region must also stand 2x above what
   that channel's beats usually leave behind.
7. **Not twitches**: of regions within 80 ms on one leg only the strongest
   counts (crosstalk); on both legs at once it is a heartbeat remnant unless
   one leg is 3x the other; a small one within 0.5 s after a big one on the
   same leg is its tail; 3+ on one channel in step with the heart are beats.

Units: ``peak`` is in codes of the band-passed, heartbeat-free signal (ADC
codes, 3-35 Hz); ``t`` is seconds from the first sample; ``duration_ms`` is
milliseconds.
"""
from __future__ import annotations

import math
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
    chunk_s: float = 30.0  #: analysis step; latency is about 3 chunks
    warmup_s: float = 0.5  #: s at the start that are not rest: the first beat's window is not whole (the rest of the start is analysed once the floor is known)
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
        return 9.0 * 1.15 ** (5.0 - s)


@dataclass
class Twitch:
    t: float
    channel: int
    duration_ms: float
    peak: float
    snr: float
    rhythmic: bool = False  #: in step with the heart (see Detector._mark_rhythmic)
    at_beat: bool = False  #: onset inside the burst window of a subtracted beat

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


def _median3(x: np.ndarray, out: np.ndarray | None = None, tmp: np.ndarray | None = None) -> np.ndarray:
    """3-point running median along the last axis; out[..., i] = median(x[..., i:i+3]).
    ``out`` and ``tmp`` (optional) are work arrays of the result's shape."""
    a, b, c = x[..., :-2], x[..., 1:-1], x[..., 2:]
    lo = np.minimum(a, b, out=out)
    hi = np.maximum(a, b, out=tmp)
    np.minimum(hi, c, out=hi)
    return np.maximum(lo, hi, out=lo)


def _block_mean(x: np.ndarray, k: int) -> np.ndarray:
    """Means of k consecutive samples along the last axis (its length a
    multiple of k), by strided adds: faster than reshape().mean()."""
    if k == 1:
        return x.astype(np.float64, copy=False)
    acc = x[..., 0::k].astype(np.float64)
    for j in range(1, k):
        acc += x[..., j::k]
    return acc / k


def _moving_mean(x: np.ndarray, w: int) -> np.ndarray:
    """Centred w-point moving mean along the last axis (zero beyond the
    ends), like convolving with ones(w)/w in "same" mode; by shifted adds,
    for the short windows used here (a running sum would be cheaper for
    long ones, and less exact)."""
    n = x.shape[-1]
    if w <= 1 or n < w:
        return x
    pad = np.zeros(x.shape[:-1] + (n + w - 1,))
    pad[..., w // 2:w // 2 + n] = x
    acc = pad[..., 0:n].copy()
    for k in range(1, w):
        acc += pad[..., k:k + n]
    acc /= w
    return acc


def _gradient(x: np.ndarray) -> np.ndarray:
    """``np.gradient(x, axis=-1)`` (unit spacing), without its overhead."""
    g = np.empty_like(x)
    g[..., 1:-1] = (x[..., 2:] - x[..., :-2]) / 2.0
    g[..., 0] = x[..., 1] - x[..., 0]
    g[..., -1] = x[..., -1] - x[..., -2]
    return g


def _second_smallest(x: np.ndarray) -> np.ndarray:
    """The second smallest along axis 0 of (few rows, many columns), by
    running minima and maxima over the rows."""
    lo, second = np.minimum(x[0], x[1]), np.maximum(x[0], x[1])
    for row in x[2:]:
        second = np.minimum(second, np.maximum(lo, row))
        lo = np.minimum(lo, row)
    return second


def _median_rows(x: np.ndarray) -> np.ndarray:
    """``np.median(x, axis=1)`` (to the bit) for a 2-D array the caller no
    longer needs (it is partitioned in place): several times faster."""
    n = x.shape[1]
    h = n // 2
    x.partition(h, axis=1)
    if n % 2:
        return x[:, h].copy()
    return (x[:, :h].max(axis=1) + x[:, h]) / 2


def _percentile_rows(x: np.ndarray, q: float) -> np.ndarray:
    """``np.percentile(x, 100 * q, axis=1)`` (its default linear method, to
    the bit), without its overhead; x has at least 2 columns."""
    v = np.sort(x, axis=1)
    vi = (v.shape[1] - 1) * q
    i = int(np.floor(vi))
    g = vi - i
    lo, hi = v[:, i], v[:, min(i + 1, v.shape[1] - 1)]
    d = hi - lo
    return hi - d * (1 - g) if g >= 0.5 else lo + d * g


def _masked_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median along axis 1 of ``values`` where ``mask``; 0 for rows with none."""
    k = mask.sum(axis=1)
    v = np.where(mask, values, np.inf)
    v.sort(axis=1)
    rows = np.arange(len(v))
    lo = v[rows, np.maximum((k - 1) // 2, 0)]
    hi = v[rows, np.minimum(k // 2, v.shape[1] - 1)]
    return np.where(k > 0, 0.5 * (lo + hi), 0.0)


class Detector:
    """Streaming twitch detector.  Feed :meth:`process`, end with :meth:`finish`."""

    batch_chunks = 4  #: whole chunks the front end takes at once, at most

    def __init__(self, config: DetectorConfig | None = None, **kw):
        cfg = config or DetectorConfig(**kw)
        self.cfg = cfg
        C = cfg.channels
        self.legs = list(cfg.legs) if cfg.legs else pins.legs(C)
        # two rates: the filter rate (~250 Hz) for the glitch median, sensor
        # checks, mains and the band-pass; then, the signal being band-limited
        # to 35 Hz with mains and its harmonic notched, the working rate
        # (~125 Hz) for everything after
        self.D = max(1, int(round(cfg.rate_hz / 250.0)))  # raw samples per filter sample
        self.ff = cfg.rate_hz / self.D  # filter rate, Hz
        self.D2 = 2 if self.ff >= 200 else 1  # filter samples per working sample
        self.fw = self.ff / self.D2  # working rate, Hz
        self.Dt = self.D * self.D2  # raw samples per working sample
        self.chunk_raw = int(round(cfg.chunk_s * self.fw)) * self.Dt
        self.chunk_w = self.chunk_raw // self.Dt
        # running estimates move per chunk with these weights, so their time
        # constants are in seconds whatever the chunk length
        self._a_floor = 1.0 - np.exp(-cfg.chunk_s / 38.0)  # noise floors, ~38 s
        self._a_beat = 1.0 - np.exp(-cfg.chunk_s / 18.0)  # beat amplitude, ~18 s
        # codes (exact in float32), channel-major; columns 0-1 carry the last two
        # samples of the chunk before, for the 3-point median
        # It holds up to ``batch_chunks`` chunks: whole chunks that arrive in one
        # block (a replay) go through the stateless front end (median,
        # decimation, filters, sensor checks) together, which saves per-call
        # overhead; live blocks (100 ms) make one chunk at a time.  Either way
        # each chunk then goes through the stateful steps on its own, so the
        # events are the same.
        self._cap = self.batch_chunks * self.chunk_raw
        self._buf = np.empty((C, 2 + self._cap), dtype=np.float32)
        self._fill = 0
        self._started = False
        self._scratch = (np.empty((C, self._cap), np.float32), np.empty((C, self._cap), np.float32))
        self._analysed_upto = 0  # absolute working index analysed so far
        self._chunk_index = 0
        fw = self.fw
        nyq = fw / 2
        self._sos_band = sps.butter(2, [3.0, min(35.0, 0.4 * self.ff)], "bandpass", fs=self.ff, output="sos")
        self._sos_lf = sps.butter(2, [0.3 / nyq, 3.0 / nyq], "bandpass", output="sos")
        self._sos_env = sps.butter(2, 5.0 / nyq, output="sos")
        self.mains_hz: float | None = None
        self._zi_band = self._zi_lf = self._zi_env = None
        # history ring of working-rate signals, 3 chunks
        # working-rate history, channel-major (C, samples): reductions along the
        # last axis are many times faster than along the first for 4 channels
        self._y = np.zeros((C, 0))
        self._e = np.zeros((C, 0))
        self._r_hist = np.zeros((C, 0))  # residual of the last analysed chunk
        self._base = 0  # working index of self._y[0]
        # heartbeat
        self.pre = int(round(0.2 * fw))
        self.post = int(round(0.3 * fw))
        self.L = self.pre + self.post
        self.templates: np.ndarray | None = None  # (C, L)
        self._boot: list[np.ndarray] = []
        self._boot_f: list[int] = []  # fiducials of the beats in _boot
        self._n_placed = 0  # beats in a row the rhythm placed
        self._placed: set[int] = set()  # beats the rhythm placed where no peak was (not yet fitted)
        self._beat_h = 1.0  # running mean of the beats' peak heights (envelope / beat level)
        self.g = np.ones(C)  # envelope level at beats, per channel
        self._g_init = False
        self.beats: list[float] = []  # working index (absolute) of beat fiducials
        # per batch of fitted beats: their aligned fiducials (working index) and
        # the models fitted to them (k, C, L).  A model is kept as fitted, so
        # what is subtracted does not depend on template updates made later
        # (or on whether the stream went on)
        self._fit_f: list[np.ndarray] = []
        # the fitted models laid out on the working-rate history (as _y): what
        # the heartbeat is taken to be, added as each beat is fitted
        self._model = np.zeros((C, 0))
        self._last_fitted = -1  # the last beat (as detected) fitted
        self._K = max(1, int(round(0.07 * fw)))  # a twitch can pull the envelope peak this far
        self._burst = (int(0.1 * fw), int(0.25 * fw))  # around a beat's fiducial: its burst, working samples
        self._slack_idx = np.arange(self.L + 2 * self._K)[None, :] - self.pre - self._K
        # is there a heartbeat to track?  Per chunk, from the autocorrelation of
        # the pulse envelope at rest: its height at the beat period (0..1) and
        # that period (working samples); beats are tracked only while it is high
        self.beat_conf = 0.0
        self.beat_period: float | None = None
        self._beat_on = False
        self._cand: float | None = None  # the last chunk's period, if it had a clear one
        self.periods: list[float] = []  # beat periods of confident chunks, working samples
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
        self._run_strong = 0  # working samples of slow swing or clipping in this run
        self._run_active = 0  # working samples of any activity in this run
        self.movements: list[Movement] = []
        self._mv_windows: list[tuple[int, int]] = []  # confirmed, as working index [start, end]
        # twitches
        self._pending: list[Twitch] = []
        self._last_end = np.full(C, -10 ** 9)
        self.rest_samples = 0
        self.analysed_samples = 0
        self.twitch_count = 0
        self.rejected_coincident = 0
        self.rejected_tails = 0
        self.rejected_rhythmic = 0
        self.rejected_remnants = 0  # candidates with a subtracted beat's shape (see _is_beat_remnant)
        self._cand_times: list[list[float]] = [[] for _ in range(C)]  # last candidate onsets, s
        self.relearned = 0  # beat templates learned again (per channel)
        self._stale = np.zeros(C, dtype=int)  # beats in a row that did not fit, per channel
        self._recent_windows = np.zeros((0, C, self.L))  # last aligned beat windows at rest
        self._last_on_chan: dict[int, Twitch] = {}
        self._last_on_leg: dict[str, Twitch] = {}

    # -- public --------------------------------------------------------------
    def process(self, codes) -> Events:
        """Take a block (samples, channels) of codes; return what became final."""
        x = np.asarray(codes)
        if x.dtype.kind not in "iuf":
            x = x.astype(np.float64)
        if x.ndim == 1:
            x = x.reshape(-1, self.cfg.channels) if self.cfg.channels > 1 else x[:, None]
        if x.shape[1] != self.cfg.channels:
            raise ValueError(f"detector expects {self.cfg.channels} channels, got {x.shape[1]}")
        out = Events()
        pos = 0
        n = len(x)
        if n and not self._started:
            self._buf[:, :2] = x[0][:, None]  # before the first sample: itself, twice
            self._started = True
        while pos < n:
            take = min(self._cap - self._fill, n - pos)
            self._buf[:, 2 + self._fill:2 + self._fill + take] = x[pos:pos + take].T
            self._fill += take
            pos += take
            k = self._fill // self.chunk_raw
            if k and (self._fill == self._cap or pos == n):
                used = k * self.chunk_raw
                out.extend(self._run(self._buf[:, :2 + used], [self.chunk_raw] * k))
                # the rest, with the two samples before it, to the front
                rest = self._fill - used
                self._buf[:, :2 + rest] = self._buf[:, used:used + 2 + rest]
                self._fill = rest
        return out

    def finish(self) -> Events:
        """End of stream: analyse what is buffered and close open movements."""
        out = Events()
        usable = (self._fill // self.Dt) * self.Dt
        if usable:
            out.extend(self._run(self._buf[:, :2 + usable], [usable]))
        self._fill = 0
        out.extend(self._step(None, final=True))
        return out

    @property
    def rest_s(self) -> float:
        return self.rest_samples / self.fw

    @property
    def analysed_s(self) -> float:
        """How much of the stream the counts and ``rest_s`` cover so far, s
        from its first sample: they trail the input by one to two chunks."""
        return self._analysed_upto / self.fw

    @property
    def heart_rate_bpm(self) -> float | None:
        """The night's median heart rate (bpm) over the chunks where the
        heartbeat was tracked with confidence; None when it never was (the
        heartbeat below what the sensors can show, or no rest)."""
        if not self.periods:
            return None
        return round(60.0 * self.fw / float(np.median(self.periods)), 1)

    # -- one chunk -----------------------------------------------------------
    def _run(self, ext: np.ndarray, lengths: list[int]) -> Events:
        """Chunks of ``lengths`` raw samples: ``ext`` is (channels, 2 + their
        sum) codes, the first two columns the two samples before them."""
        out = Events()
        for part in self._front(ext, lengths):
            out.extend(self._step(part))
        return out

    def _step(self, part: dict | None, final: bool = False) -> Events:
        """One chunk (``part``: its front-end output), then the analysis of
        the chunk before it."""
        out = Events()
        newest_len = 0
        if part is not None:
            self._ingest(part, out)
            newest_len = self._last_len
        # Analyse what is one chunk behind the newest (all of it at the end).
        ny = self._y.shape[1]
        analysis_end = ny - (0 if final else newest_len)
        self._end_guard = self._base + ny - self.post - int(0.1 * self.fw)
        a0 = self._analysed_upto - self._base
        if analysis_end > a0 >= 0 or (final and analysis_end >= a0 >= 0):
            self._analyse(a0, analysis_end, out, final=final)
            self._analysed_upto = self._base + analysis_end
        if final:
            self._close_movement(out)
            self._finalise_pending(out, horizon=float("inf"))
        keep = 3 * self.chunk_w + self.L  # history kept for beat windows
        if self._y.shape[1] > keep:
            cut = self._y.shape[1] - keep
            self._y = self._y[:, cut:]
            self._e = self._e[:, cut:]
            self._model = self._model[:, cut:]
            self._base += cut
        return out

    def _front(self, ext: np.ndarray, lengths: list[int]) -> list[dict]:
        """The stateless front end over consecutive chunks at once (the
        filters carry their state across); one dict of arrays per chunk."""
        C, D, D2, Dt = self.cfg.channels, self.D, self.D2, self.Dt
        n = ext.shape[1] - 2
        med = _median3(ext, *(s_[:, :n] for s_ in self._scratch))  # n <= self._cap
        xd = _block_mean(med, D)  # filter rate; med[:, i] is centred on ext[:, i + 1]
        n_w = n // Dt
        # clipping: the median is at a rail only where two of three raw samples
        # are (a lone glitch is not); any such sample marks its working sample
        if med.min() > 0 and med.max() < pins.ADC_MAX_CODE:  # the usual case: nothing at a rail
            clip = np.zeros((C, n_w), dtype=bool)
        else:
            at_rail = (med <= 0) | (med >= pins.ADC_MAX_CODE)
            clip = at_rail[:, 0::Dt].copy()
            for k in range(1, Dt):
                clip |= at_rail[:, k::Dt]
        xw = _block_mean(xd, D2)  # working rate
        ends_d = np.cumsum([0] + [ln // D for ln in lengths])
        ends_w = np.cumsum([0] + [ln // Dt for ln in lengths])
        if self.mains_hz is None:  # measured on the first chunk
            self._init_filters(xd[:, :ends_d[1]], xw[:, :ends_w[1]])
        # sensor checks per second: for all chunks at once when chunks are
        # whole seconds (they are at the usual rates), else chunk by chunk
        sub = max(1, int(round(self.ff)))  # one second, filter samples
        if all(ln // D % sub == 0 for ln in lengths[:-1]):
            status = self._classify(xd, sub)
            rows = np.cumsum([0] + [-(-(ln // D) // sub) for ln in lengths])
            statuses = [status[rows[i]:rows[i + 1]] for i in range(len(lengths))]
        else:
            statuses = [self._classify(xd[:, ends_d[i]:ends_d[i + 1]], sub) for i in range(len(lengths))]
        yf, self._zi_band = sps.sosfilt(self._sos_band_full, xd, axis=1, zi=self._zi_band)
        y = _block_mean(yf, D2)
        lf, self._zi_lf = sps.sosfilt(self._sos_lf, xw, axis=1, zi=self._zi_lf)
        e2, self._zi_env = sps.sosfilt(self._sos_env, y * y, axis=1, zi=self._zi_env)
        e = np.sqrt(np.maximum(e2, 0))
        parts = []
        for i in range(len(lengths)):
            w0, w1 = ends_w[i], ends_w[i + 1]
            parts.append({"y": y[:, w0:w1], "e": e[:, w0:w1], "lf": lf[:, w0:w1], "clip": clip[:, w0:w1],
                          "status": statuses[i], "n_d": ends_d[i + 1] - ends_d[i]})
        return parts

    def _ingest(self, part: dict, out: Events) -> None:
        """The stateful steps on one chunk: faults, history, movement, beats."""
        C = self.cfg.channels
        y, e = part["y"], part["e"]
        self._clip = part["clip"]
        self._last_len = y.shape[1]
        abs0 = self._base + self._y.shape[1]
        bad = self._faults(part["status"], part["n_d"], abs0, out)
        self._y = np.concatenate([self._y, y], axis=1)
        self._e = np.concatenate([self._e, e], axis=1)
        self._model = np.concatenate([self._model, np.zeros_like(y)], axis=1)
        good = ~bad & np.array([not self._bad_during(c, abs0 - 1, abs0) for c in range(C)])
        self._movement(part["lf"], y, e, abs0, good, out)
        self._beat_evidence(e, abs0, good)
        self._heartbeat(abs0, good)
        self._chunk_index += 1

    def _init_filters(self, xd: np.ndarray, xw: np.ndarray) -> None:
        fw = self.ff  # mains and the band-pass work at the filter rate
        t = np.arange(xd.shape[1]) / fw
        xc = (xd - xd.mean(axis=1, keepdims=True)).T
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
        x0 = xd[:, 0]  # zi is (sections, channels, 2) for axis=1
        self._zi_band = sps.sosfilt_zi(self._sos_band_full)[:, None, :] * x0[None, :, None]
        self._zi_lf = sps.sosfilt_zi(self._sos_lf)[:, None, :] * xw[:, 0][None, :, None]
        self._zi_env = np.zeros((self._sos_env.shape[0], len(x0), 2))

    # -- faults --------------------------------------------------------------
    def _faults(self, status: np.ndarray, n_d: int, abs0: int, out: Events) -> np.ndarray:
        """Each channel's status per second of this chunk (``status``: rows
        from :meth:`_classify`, over ``n_d`` filter-rate samples) into fault
        events and excluded spans; return "bad in any".  Spans are kept in
        working samples."""
        C, D2 = self.cfg.channels, self.D2
        sub = max(1, int(round(self.ff)))  # one second, filter samples
        settle = int(round(3.0 * self.fw))
        bad_any = (status != 0).any(axis=0)
        prev = np.array([FAULT_KINDS.index(s) for s in self.status])
        changed = np.flatnonzero((np.diff(np.vstack([prev, status]), axis=0) != 0).any(axis=1) | (status != 0).any(axis=1))
        for k in changed:  # only seconds where something is, or becomes, wrong
            k0 = int(k) * sub // D2  # working samples from abs0
            n_k = min(sub, n_d - int(k) * sub) // D2
            for c in range(C):
                st = FAULT_KINDS[status[k, c]]
                if st != self.status[c]:
                    out.faults.append({"channel": c, "t": round(self._t(abs0 + k0), 3), "status": st})
                    self.status[c] = st
                if st != FAULT_OK:
                    start, end = abs0 + k0, abs0 + k0 + n_k + settle
                    spans = self._bad_spans[c]
                    if spans and spans[-1][1] >= start - settle:
                        spans[-1] = (spans[-1][0], end)
                    else:
                        spans.append((start - int(0.5 * self.fw), end))
                        del spans[:-20]
        return bad_any

    def _classify(self, xd, sub: int) -> np.ndarray:
        """Per second (rows; a last part-second is a row too) and channel:
        0 ok, 1 unplugged, 2 railed, 3 hum (indices into FAULT_KINDS)."""
        C, n = xd.shape
        whole = n // sub
        rows = []
        if whole:
            rows.append(self._classify_rows(xd[:, :whole * sub].reshape(C, whole, sub)))
        if n > whole * sub:
            rows.append(self._classify_rows(xd[:, None, whole * sub:]))
        return np.vstack(rows)

    def _classify_rows(self, xs: np.ndarray) -> np.ndarray:
        """xs (C, rows, w): filter-rate samples, a row a second; returns (rows, C)."""
        C, R, w = xs.shape
        # stuck at a rail for most of the second (lone glitches are gone after the median)
        if xs.min() > 1 and xs.max() < pins.ADC_MAX_CODE - 1:  # the usual case: nowhere near a rail
            railed = np.zeros((C, R), dtype=bool)
        else:
            railed = 2 * ((xs <= 1) | (xs >= pins.ADC_MAX_CODE - 1)).sum(axis=2) > w
        xc = xs - xs.mean(axis=2, keepdims=True)
        ss = np.einsum("crw,crw->cr", xc, xc)  # sum of squares, codes^2
        flat = (ss < w * 0.3 ** 2) & ~railed  # std below 0.3 codes
        hum = np.zeros_like(railed)
        # hum needs a mains amplitude over 5 codes, sqrt(2 ps) / w > 5, and ps is
        # at most the whole one-sided power w ss / 2: rows with ss <= 25 w
        # cannot be hum (a quiet sensor), and are not looked at
        cand = np.flatnonzero((ss > 25.0 * w).ravel())
        if w >= 32 and len(cand):
            # power in the DFT bins within 1.5 Hz of the mains harmonics, as a
            # share of all the (one-sided) power: Parseval gives the total
            cos_b, sin_b = self._hum_basis(w)
            xc2 = xc.reshape(C * R, w)[cand]
            pc, qs = xc2 @ cos_b, xc2 @ sin_b
            ps = np.zeros(C * R)
            ps[cand] = (pc * pc + qs * qs).sum(axis=1)
            ps = ps.reshape(C, R)
            total = w * ss / 2 + 1e-12
            hum = (ps / total > 0.8) & (np.sqrt(2 * ps) / w > 5.0) & ~railed & ~flat
        return np.where(railed, 2, np.where(flat, 1, np.where(hum, 3, 0))).T

    def _hum_basis(self, w: int) -> tuple[np.ndarray, np.ndarray]:
        """cos and sin (w, bins) for the rfft bins of a w-sample window that lie
        within 1.5 Hz of the mains frequency and its 2nd and 3rd harmonics."""
        cache = self.__dict__.setdefault("_hum_cache", {})
        if w not in cache:
            fs = self.ff
            f = np.fft.rfftfreq(w, 1 / fs)[1:]
            sel = np.zeros(len(f), dtype=bool)
            for h in (1, 2, 3):
                fh = self.mains_hz * h
                fh = abs(fh - fs * round(fh / fs))  # where a harmonic above fs/2 aliases to
                sel |= np.abs(f - fh) <= 1.5
            ph = 2 * np.pi * np.outer(np.arange(w), f[sel] / fs)
            cache[w] = (np.cos(ph), np.sin(ph))
        return cache[w]

    def _bad_during(self, c: int, a_abs: int, b_abs: int) -> bool:
        return any(s < b_abs and e > a_abs for s, e in self._bad_spans[c])

    # -- movement ------------------------------------------------------------
    def _movement(self, lf, y, e, abs0, good, out: Events) -> None:
        n = lf.shape[1]
        clip = self._clip  # two or more raw samples in a row at a rail (from _ingest)
        # until floors are learned at rest, the quietest second of this chunk
        # stands in: a night may open with a long movement, and its level must
        # not become the floor it is judged against
        lf_floor = self.sigma_lf
        if np.isnan(lf_floor).any():
            # (and at most 2 codes: the slow swing a sensor shows at rest,
            # breathing and drift, seldom comes near it, a leg moving the
            # whole chunk long would otherwise set its own bar)
            lf_floor = np.where(np.isnan(lf_floor), np.minimum(self._quietest_second(lf) + 0.5, 2.0), lf_floor)
        lf_thr = np.maximum(6 * lf_floor, 8.0)
        sig = self.sigma
        if np.isnan(sig).any():
            sig = np.where(np.isnan(sig), self._quietest_second(y) + 0.3, sig)
        e_thr = np.maximum(15 * sig, 3.0 * self.g)
        # a movement bends the piezo (large slow swings) or clips it; broadband
        # energy alone is a movement only if it lasts (a big twitch's envelope
        # can stay up for half a second; a leg moving rarely is that short)
        strong_c = ((np.abs(lf) > lf_thr[:, None]) | clip) & good[:, None]
        active_c = strong_c | ((e > e_thr[:, None]) & good[:, None])
        active = active_c.any(axis=0)
        strong = strong_c.any(axis=0)
        idx = np.flatnonzero(active)
        gap = int(0.3 * self.fw)
        if len(idx):
            # split into runs separated by gaps
            splits = np.flatnonzero(np.diff(idx) > gap)
            starts = np.concatenate([[idx[0]], idx[splits + 1]])
            ends = np.concatenate([idx[splits], [idx[-1]]])
            cs_strong = np.concatenate([[0], np.cumsum(strong)])
            cs_active = np.concatenate([[0], np.cumsum(active)])
            for s, en in zip(starts, ends):
                s_abs, e_abs = abs0 + int(s), abs0 + int(en)
                chans = set(np.flatnonzero(active_c[:, s:en + 1].any(axis=1)).tolist())
                st = int(cs_strong[en + 1] - cs_strong[s])  # samples of slow swing or clipping
                ac = int(cs_active[en + 1] - cs_active[s])  # samples of any activity
                if self._run_start is not None and s_abs - self._run_last <= gap:
                    self._run_last = e_abs
                    self._run_chans |= chans
                    self._run_strong += st
                    self._run_active += ac
                else:
                    self._close_movement(out)
                    self._run_start, self._run_last, self._run_chans = s_abs, e_abs, chans
                    self._run_strong, self._run_active = st, ac
                if self._run_is_movement():
                    self._confirm_run()
        end_abs = abs0 + n
        if self._run_start is not None and end_abs - self._run_last > gap:
            self._close_movement(out)
        # robust LF floor, learned from this chunk's rest samples (as the noise floor)
        rest = ~self._not_rest_mask(abs0, end_abs) & ~active
        if self._run_start is not None:
            rest[max(self._run_start - abs0, 0):] = False
        if rest.sum() >= 3 * self.fw:
            est = _median_rows(np.abs(lf[:, rest][:, ::2])) / 0.6745
            a = self._a_floor * rest.mean()
            self.sigma_lf = np.where(np.isnan(self.sigma_lf), est,
                                     np.exp(np.log(self.sigma_lf) + a * (np.log(est + 1e-9) - np.log(self.sigma_lf))))

    def _quietest_second(self, x: np.ndarray) -> np.ndarray:
        """Per channel, the robust sd (median |x| / 0.6745, codes) of the
        quietest whole second of ``x`` (channels, working samples)."""
        w = max(1, int(round(self.fw)))
        k = x.shape[1] // w
        if k < 2:
            return _median_rows(np.abs(x)) / 0.6745
        per_s = np.median(np.abs(x[:, :k * w]).reshape(len(x), k, w), axis=2) / 0.6745
        return per_s.min(axis=1)

    def _run_is_movement(self) -> bool:
        """A movement is sustained: 0.5 s of slow swing or clipping in all, or
        2 s of broadband activity that fills most of its span.  A train of
        twitches swings the signal slowly for a moment only, and is over
        within a second."""
        n = self._run_last - self._run_start
        if self._run_strong >= int(0.5 * self.fw):
            return True
        return n >= int(2.0 * self.fw) and self._run_active >= 0.6 * n

    def _confirm_run(self) -> None:
        win = (self._run_start, self._run_last)
        if self._mv_windows and self._mv_windows[-1][0] == self._run_start:
            self._mv_windows[-1] = win
        else:
            self._mv_windows.append(win)

    def _close_movement(self, out: Events) -> None:
        if self._run_start is None:
            return
        if self._run_is_movement():
            self._confirm_run()
            mv = Movement(self._t(self._run_start), self._t(self._run_last + 1), sorted(self._run_chans))
            self.movements.append(mv)
            out.movements.append(mv)
        self._run_start = self._run_last = None
        self._run_chans = set()

    def _not_rest_windows(self) -> list[tuple[int, int]]:
        """[start, end) working indices that are not rest: the last movements
        with their lead-in and settling time, an open run, the warm-up."""
        pre = int(self.cfg.pre_movement_s * self.fw)
        post = int(self.cfg.settle_s * self.fw)
        windows = list(self._mv_windows)
        if self._run_start is not None:  # open run: not rest from its start on
            windows.append((self._run_start, 10 ** 15))
        out = [(s - pre, e + post) for s, e in windows[-50:]]
        out.append((-10 ** 15, int(self.cfg.warmup_s * self.fw)))
        return out

    def _not_rest_mask(self, a_abs: int, b_abs: int) -> np.ndarray:
        """True where samples a_abs..b_abs are not rest (movement windows, warm-up)."""
        mask = np.zeros(b_abs - a_abs, dtype=bool)
        for s, e in self._not_rest_windows():
            lo, hi = max(s, a_abs), min(e, b_abs)
            if lo < hi:
                mask[lo - a_abs:hi - a_abs] = True
        return mask

    def _overlaps_not_rest(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """For spans [lo, hi) (working indices): does any sample fall outside rest?"""
        w = np.array(self._not_rest_windows())
        return ((w[:, 0][None, :] < hi[:, None]) & (w[:, 1][None, :] > lo[:, None])).any(axis=1)

    def _in_movement(self, a_abs: int, b_abs: int) -> bool:
        """Is any sample a_abs..b_abs not rest?"""
        return b_abs > a_abs and bool(self._overlaps_not_rest(np.array([a_abs]), np.array([b_abs]))[0])

    # -- heartbeat -----------------------------------------------------------
    conf_on, conf_off = 0.3, 0.15  #: autocorrelation heights that start and stop beat tracking

    def _beat_evidence(self, e: np.ndarray, abs0: int, good: np.ndarray) -> None:
        """Is the heartbeat there, and at what period?  The pulse envelope of
        this chunk's rest seconds, every good channel scaled to its median and
        summed, is autocorrelated over lags of 0.45-1.6 s (37-133 bpm): a
        heartbeat gives a clear peak at its period; noise gives none, so
        noise peaks are never taken for beats.  Movements are left out; a
        chunk with under 10 s of rest keeps what the last chunk said."""
        fw = self.fw
        n = e.shape[1]
        rest = ~self._not_rest_mask(abs0, abs0 + n) & ~self._clip.any(axis=0)
        lo, hi = int(0.45 * fw), int(1.6 * fw)
        if not good.any() or rest.sum() < max(10 * fw, 2 * hi):
            return
        ee = e[good]
        # each channel scaled to its median and clipped at 3x it, so a twitch or
        # a knock (large and rare) cannot make a period of its own
        z = np.minimum(ee / (np.median(ee[:, rest], axis=1)[:, None] + 1e-9), 3.0).sum(axis=0)
        z = np.where(rest, z - z[rest].mean(), 0.0)
        nfft = 1 << int(np.ceil(np.log2(2 * n)))
        ac = np.fft.irfft(np.abs(np.fft.rfft(z, nfft)) ** 2, nfft)[:hi + 2]
        if rest.all():  # the usual chunk: every lag has n - lag pairs
            cnt = n - np.arange(hi + 2, dtype=float)
        else:
            cnt = np.fft.irfft(np.abs(np.fft.rfft(rest.astype(float), nfft)) ** 2, nfft)[:hi + 2]
        ac = ac / np.maximum(cnt, 1.0)  # mean product per overlapping rest pair
        ac = ac / (ac[0] + 1e-12)
        seg = ac[lo:hi + 1]
        k = int(np.argmax(seg)) + lo
        # a peak at twice the period can be as high: take the shorter when it is nearly so
        half = int(round(k / 2))
        if half >= lo and ac[half - 1:half + 2].max() >= 0.7 * ac[k]:
            k = half - 1 + int(np.argmax(ac[half - 1:half + 2]))
        # a heartbeat's peak stands above the trough before it (half a period
        # on); a slow wander of the envelope falls from lag 0 with no peak at all
        trough = float(ac[int(0.2 * fw):k].min()) if k > int(0.2 * fw) else float(ac[k])
        conf = float(ac[k]) - trough if lo < k < hi else 0.0
        if 0 < k < len(ac) - 1:  # parabolic peak for a period finer than a sample
            a, b, c = ac[k - 1], ac[k], ac[k + 1]
            den = a - 2 * b + c
            period = k + (0.5 * (a - c) / den if den < 0 else 0.0)
        else:
            period = float(k)
        self.beat_conf = conf
        # on: two chunks in a row agree on a clear period (noise can give one
        # chunk a peak, rarely two at the same lag); stays on while the peak
        # stays and the period moves no more than a heart rate does in 30 s
        prev, self._cand = self._cand, (period if conf >= self.conf_on else None)
        if self._beat_on:
            self._beat_on = conf >= self.conf_off and abs(period - self.beat_period) < 0.15 * self.beat_period
        else:  # a clear peak in two chunks in a row, or a very clear one
            self._beat_on = self._cand is not None and (conf >= 2 * self.conf_on or (
                prev is not None and abs(period - prev) < 0.08 * prev))
            if self._beat_on:  # the chunk before had the same heartbeat: track it from there
                self._beat_searched = max(self._base, abs0 - self.chunk_w)
        if self._beat_on:
            self.beat_period = period
            self.periods.append(period)
        else:
            self.beat_period = None

    def _heartbeat(self, abs0: int, good: np.ndarray) -> None:
        e = self._e
        n_new = self._last_len
        if not good.any():
            return
        if not self._g_init:
            # the beat level from rest only: a night that opens with a
            # movement must not set it (nothing is learned outside rest)
            a0 = self._base + e.shape[1] - n_new
            rest = ~self._not_rest_mask(a0, a0 + n_new) & ~self._clip.any(axis=0)
            if rest.sum() < 6 * self.fw:
                return
            self.g = self._beat_level(e[:, -n_new:][:, rest])
            self._g_init = True
        # search beats in the region not searched before, confirmed 0.15 s before the end
        last_searched = getattr(self, "_beat_searched", self._base)
        lo = max(last_searched - self._base, 0)
        hi = e.shape[1] - int(0.15 * self.fw)
        if hi - lo < 3:
            return
        dist = int(0.33 * self.fw)
        s0 = max(lo - dist, 0)
        ratio = e[good, s0:hi] / self.g[good][:, None]
        if len(ratio) >= 3:  # the second smallest: one twitching channel cannot make a beat
            b = _second_smallest(ratio)
        else:
            b = ratio.min(axis=0)
        if not self._beat_on:  # no heartbeat to be seen: track none rather than noise
            self._beat_searched = self._base + hi
            return
        pk, props = sps.find_peaks(b, height=0.25, distance=int(0.12 * self.fw))
        P = self.beat_period  # the period the autocorrelation found, working samples
        peaks = [(self._base + int(p), float(h)) for p, h in zip((pk + s0).tolist(), props["peak_heights"].tolist())
                 if p >= lo or (self.beats and self._base + p > self.beats[-1])]
        end_abs = self._base + hi
        new = []
        last = self.beats[-1] if self.beats else None
        if last is not None and last < self._base + s0 - 2 * P:
            last = None  # the rhythm was lost (tracking was off, or a long gap): start again
        searched = end_abs
        while True:
            if last is None:  # the first clear peak starts the rhythm
                first = [(p, h) for p, h in peaks if h >= 0.5]
                if not first:
                    break
                p, h = first[0]
            else:
                # the next beat: the highest peak between 0.55 and 1.7 periods
                # on (an ectopic beat comes early), weighted to where the
                # rhythm expects it; until that window has all arrived, wait
                # (to 1.7 periods: the pause after an ectopic beat; from 0.3
                # after a beat that was only placed, its time being a guess)
                w0, w1 = last + (0.3 if self._n_placed else 0.55) * P, last + 1.7 * P
                if w1 > end_abs:
                    searched = int(last) + 1
                    break
                cands = [(p, h) for p, h in peaks if w0 <= p <= w1]
                if cands:
                    # a beat-sized peak off the expected time beats a small one on
                    # it: a run of noise peaks must not hold the rhythm on a wrong phase
                    p, h = max(cands, key=lambda c: min(c[1] / self._beat_h, 1.5)
                               * math.exp(-0.5 * ((c[0] - last - P) / (0.3 * P)) ** 2))
                    if h < 0.5 and abs(p - last - P) > 0.2 * P:
                        cands = []  # a weak peak counts only where the rhythm puts it
                if not cands:
                    if self._n_placed >= 3:
                        # three beats in a row with no peak: the rhythm was lost
                        # (or is on the wrong phase); the next clear peak starts it again
                        last, self._n_placed = None, 0
                        continue
                    # no peak: the beat is where the rhythm puts it (hidden by a
                    # twitch, or too weak); the fit aligns it, and subtracts
                    # nothing where the template does not fit
                    p, h = int(round(last + P)), 0.0
                    self._placed.add(p)
            self.beats.append(p)
            self._n_placed = 0 if h > 0 else self._n_placed + 1
            if h > 0:
                new.append(p)
                self._beat_h += 0.1 * (min(h, 3.0) - self._beat_h)  # a typical beat's peak height
            last = p
            peaks = [(q, g) for q, g in peaks if q > p]
        self._beat_searched = searched
        if new:
            self.g = self.g + self._a_beat * (np.clip(_median_rows(e[:, np.array(new) - self._base]), 0.5 * self.g,
                                             2 * self.g) - self.g) * good
        if (not self.beats or end_abs - self.beats[-1] > 6 * self.fw) and hi - lo > 6 * self.fw and \
                not self._in_movement(self._base + lo, end_abs):
            # no beat for 6 s at rest: the level was learned too high (a
            # movement at the start, a sensor moved); learn it again
            self.g = np.where(good, np.minimum(self.g, self._beat_level(e[:, lo:hi])), self.g)
        self._fit_beats(good)
        if len(self.beats) > 400:
            self.beats = self.beats[-200:]

    def _beat_level(self, e: np.ndarray) -> np.ndarray:
        """Pulse-envelope level at beats, per channel: the median over 2-s
        windows of each window's maximum (every window holds a beat; a
        movement or twitch spoils only the windows it is in)."""
        w = int(2 * self.fw)
        k = e.shape[1] // w
        lvl = np.median(e[:, :k * w].reshape(len(e), k, w).max(axis=2), axis=1) if k >= 1 else e.max(axis=1)
        return np.maximum(lvl, 1e-3)

    def _fit_beats(self, good: np.ndarray) -> None:
        """Align, scale and remember every beat whose window is in the buffer."""
        K = self._K
        y, base = self._y, self._base
        # beats come in order and are fitted in order: the ones to do are those
        # after the last fitted whose window (with slack) is in the buffer
        todo = []
        for f in reversed(self.beats):
            if f <= self._last_fitted:
                break
            if f - self.pre - K - base >= 0 and f + self.post + K - base <= y.shape[1]:
                todo.append(f)
        if not todo:
            return
        todo.reverse()
        self._last_fitted = todo[-1]
        if self.templates is None:
            # the first template from beats at rest only (never a movement's)
            f_abs = np.array(todo)
            at_rest = ~self._overlaps_not_rest(f_abs - self.pre, f_abs + self.post)
            for f in f_abs[at_rest].tolist():
                s = f - base
                self._boot.append(y[:, s - self.pre:s + self.post].copy())
                self._boot_f.append(f)
            if len(self._boot) < 6:
                return
            self.templates = np.median(np.stack(self._boot), axis=0)
            # the beats it was learned from are fitted too, so the night's first
            # seconds are as clean as the rest
            inbuf = [f for f in self._boot_f if f - self.pre - K - base >= 0]
            todo = sorted(set(inbuf) | set(todo))
            self._boot, self._boot_f = [], []
        T = self.templates  # (C, L)
        Td = _gradient(T)
        fids = np.array(todo) - base
        L, nl = self.L, 2 * K + 1
        B, C = len(todo), len(T)
        # each beat's window with K samples of slack either side: (B, C, L + 2K),
        # and its L-sample windows at every lag: (B, C, lags, L), a view
        W = y[np.arange(C)[None, :, None], (fids[:, None] + self._slack_idx)[:, None, :]]  # contiguous
        windows = np.lib.stride_tricks.as_strided(W, (B, C, nl, L), W.strides + W.strides[2:], writeable=False)
        # normalised cross-correlation with the template at every lag
        dot = np.einsum("bcxl,cl->bcx", windows, T)  # (B, C, lags)
        cs = np.zeros((B, C, L + 2 * K + 1))
        np.cumsum(W * W, axis=2, out=cs[:, :, 1:])
        sn = np.sqrt(np.maximum(cs[:, :, L:L + nl] - cs[:, :, :nl], 0.0)) + 1e-9
        tn2 = (T * T).sum(axis=1)
        tn = np.sqrt(tn2) + 1e-9  # (C,)
        Td_n = (Td * Td).sum(axis=1) + 1e-9
        rho = dot / (sn * tn[:, None])  # (B, C, lags)
        bi, ci = np.arange(B)[:, None], np.arange(C)[None, :]
        noise = np.where(np.isnan(self.sigma), 1.0, self.sigma)
        err_scale = noise + 0.05 * tn / np.sqrt(L)
        use = np.repeat(good[None, :], B, axis=0)  # channels a beat's fit listens to
        tn_2 = tn ** 2
        for _ in range(2):  # fit, then refit without channels a twitch disturbed
            score = np.einsum("bcx,bc->bx", rho, use.astype(float))  # (B, lags)
            best = score.argmax(axis=1)
            Sb = windows[bi, ci, best[:, None]]  # (B, C, L)
            a = dot[bi, ci, best[:, None]] / tn_2  # the template's share in each window
            scale = np.clip(_masked_median(a, use), 0.4, 1.8)
            d = Sb - scale[:, None, None] * T[None]
            err = np.sqrt(np.einsum("bcl,bcl->bc", d, d) / L) / err_scale
            worst = np.where(use, err, -np.inf).argmax(axis=1)
            out_i = (err[np.arange(B), worst] > 4.0) & (use.sum(axis=1) >= 3)
            if not out_i.any():
                break
            use[out_i, worst[out_i]] = False
        # the template's slope: how far each beat is from the template's timing
        bcoef = (np.einsum("bcl,cl->bc", Sb, Td) - a * np.einsum("cl,cl->c", T, Td)) / Td_n
        sc = np.where(use.any(axis=1), scale, 0.0)
        ok = use & (a > 0.3)
        delta = np.clip(_masked_median(bcoef / np.where(ok, a, 1.0), ok), -1, 1)
        shift = best - K
        m = sc[:, None, None] * (T[None] + delta[:, None, None] * Td[None])  # each beat's model
        # a beat's shape changes a little from beat to beat and channel to
        # channel: each channel's own size, timing and width (least squares on the template, its slope and its
        # slope times time) within bounds a heartbeat keeps to
        Bas = np.stack([T, Td, (np.arange(L) - self.pre)[None, :] * Td], axis=1)  # (C, 3, L)
        G_inv = np.linalg.inv(np.einsum("cil,cjl->cij", Bas, Bas) + 1e-9 * np.eye(3)[None])  # (C, 3, 3)
        coef = np.einsum("cij,bcj->bci", G_inv, np.einsum("bcl,cil->bci", Sb, Bas))  # (B, C, 3)
        amp = coef[..., 0]
        own = good[None, :] & (amp > 0.5 * sc[:, None]) & (amp < 2.0 * sc[:, None])
        own &= (np.abs(coef[..., 1]) < 0.5 * K * np.abs(amp)) & (np.abs(coef[..., 2]) < 0.1 * np.abs(amp))
        m = np.where(own[..., None], np.einsum("bci,cil->bcl", coef, Bas), m)
        # a beat the template does not fit at any lag was not a beat (or not
        # one this template knows): subtract nothing rather than a misfit
        rho_b = _masked_median(rho[bi, ci, best[:, None]], use)
        kept = (sc > 0) & (rho_b >= 0.3)
        if kept.any():
            f_al = np.array(todo, dtype=np.int64)[kept] + shift[kept]
            self._fit_f.append(f_al)
            idx = (f_al - self.pre - base)[:, None] + np.arange(L)[None, :]  # (k, L)
            mk = m[kept].transpose(1, 0, 2)  # (C, k, L)
            # every other beat at a time: a beat window (0.5 s) is shorter than
            # two refractory periods (2 x 0.33 s less the alignment shifts), so
            # within one parity no two windows overlap and a fancy-index update
            # adds each model exactly once
            for par in (0, 1):
                self._model[:, idx[par::2]] += mk[:, par::2]
        # robust template update from channels that fit well: the running
        # mean (weight 0.1 per beat, in beat order) of each beat's aligned shape
        e = np.abs(Sb - m).max(axis=2)  # (B, C)
        lim = 6 * noise + 0.3 * np.abs(T).max(axis=1)
        # only beats seen as peaks teach the template (not those the rhythm placed)
        seen = np.array([f not in self._placed for f in todo])
        upd = use & (e < lim) & kept[:, None] & seen[:, None]
        if upd.any():
            later = np.cumsum(upd[::-1], axis=0)[::-1] - upd  # updates after this beat, per channel
            w = np.where(upd, 0.1 * 0.9 ** later, 0.0)  # (B, C)
            target = Sb / np.where(kept, sc, 1.0)[:, None, None] - delta[:, None, None] * Td[None]
            T *= (0.9 ** upd.sum(axis=0))[:, None]
            T += np.einsum("bc,bcl->cl", w, target)
        # a channel whose beats have stopped fitting its template (the sensor
        # moved, the strap was tightened) learns it again from its last beats
        at_rest = ~self._overlaps_not_rest(fids + base - self.pre, fids + base + self.post) & seen
        self._placed.difference_update(todo)
        if at_rest.any():
            u = upd[at_rest]
            self._recent_windows = np.concatenate([self._recent_windows, Sb[at_rest]])[-8:]
            trailing = np.argmax(u[::-1], axis=0)  # beats since the last update, per channel
            self._stale = np.where(u.any(axis=0), trailing, self._stale + len(u)) * good
        relearn = (self._stale >= 8) & good
        if relearn.any() and len(self._recent_windows) >= 8:
            T[relearn] = np.median(self._recent_windows[:, relearn, :], axis=0)
            self._stale[relearn] = 0
            self.relearned += int(relearn.sum())
        # fits whose windows ended before the buffer's start can matter no more
        while self._fit_f and self._fit_f[0][-1] + 2 * self.L < base:
            del self._fit_f[0]

    # -- analysis of one chunk ------------------------------------------------
    def _analyse(self, a0: int, a1: int, out: Events, final: bool) -> None:
        """Residual, rest and noise floor of working samples a0..a1 of the
        history; twitch regions on it; crosstalk/coincidence on what is due."""
        a_abs, b_abs = self._base + a0, self._base + a1
        r = self._y[:, a0:a1] - self._model[:, a0:a1]  # less the heartbeat
        self._learn_floor(r, a_abs, b_abs)
        self._pending += self._regions(r, a_abs, final)
        self._finalise_pending(out, self._t(a_abs) - self.cfg.crosstalk_ms / 1000)
        if final:
            self._finalise_pending(out, float("inf"))

    def _learn_floor(self, r: np.ndarray, a_abs: int, b_abs: int) -> None:
        """Count rest and update each channel's robust noise floor (codes) from
        the residual at rest only."""
        C = self.cfg.channels
        not_rest = self._not_rest_mask(a_abs, b_abs)
        bad_now = np.array([self._bad_during(c, a_abs, b_abs) for c in range(C)])
        rest = ~not_rest & (not bad_now.all())
        self.rest_samples += int(rest.sum())
        self.analysed_samples += b_abs - a_abs
        if rest.sum() >= 3 * self.fw:  # learn from the rest samples alone, as much as there was rest
            est = _median_rows(np.abs((r if rest.all() else r[:, rest])[:, ::3])) / 0.6745 + 1e-3  # every 3rd sample is plenty
            learn = ~bad_now
            if np.isnan(self.sigma).any():
                self.sigma = np.where(np.isnan(self.sigma) & learn, est, self.sigma)
            upd = learn & ~np.isnan(self.sigma)
            a = self._a_floor * rest.mean()
            self.sigma[upd] = np.exp(np.log(self.sigma[upd]) + a * (np.log(est[upd]) - np.log(self.sigma[upd])))
        elif np.isnan(self.sigma).all():  # no rest yet: the quietest second, never a movement's level
            self.sigma = self._quietest_second(r) + 1e-3

    def _beat_remnant(self, act: np.ndarray, span0: int, nh: int, not_rest: np.ndarray):
        """Fiducials of the beats subtracted in or near the span (working
        samples from ``span0``), and per channel the 75th percentile over this
        chunk's beats at rest of the largest 40 ms mean |residual| in a beat's
        window (codes)."""
        C, n = act.shape
        a, b = self._burst
        if not self._fit_f:
            return np.zeros(0, dtype=np.int64), np.zeros(C)
        f = np.concatenate(self._fit_f) - span0
        f = f[(f + b > 0) & (f - a < n)]
        whole = f[(f - a >= nh) & (f + b <= n)]  # this chunk's beats, whole windows
        if len(whole):
            win = whole[:, None] + np.arange(-a, b)[None, :]  # (k, a+b)
            whole = whole[~not_rest[win].any(axis=1)]
        if len(whole) < 5:
            return f, np.zeros(C)
        # the largest value in each window [fid - a, fid + b): reduceat over
        # (start, end) pairs, keeping the starts' results; a last window that
        # ends with the span runs to its end without an end index
        bounds = np.stack([whole - a, whole + b], axis=1).ravel()
        if bounds[-1] == n:
            bounds = bounds[:-1]
        peaks = np.maximum.reduceat(act, bounds, axis=1)[:, ::2]  # (C, k)
        return f, _percentile_rows(peaks, 0.75)

    def _near_beat(self, f: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Is each position (working samples from the span's start) in the
        burst window of one of the beats ``f`` (from :meth:`_beat_remnant`)?"""
        a, b = self._burst
        return ((f[None, :] - a <= pos[:, None]) & (pos[:, None] < f[None, :] + b)).any(axis=1)

    def _regions(self, r: np.ndarray, a_abs: int, final: bool) -> list[Twitch]:
        """Twitch candidates on [last chunk's residual + this one].

        A region is where the 40 ms mean |x| stays above 0.4 x the threshold
        (gaps up to ``merge_ms`` bridged, so doublets are one region) and it
        peaks above the threshold.  A region is decided once it began in the
        older chunk and has closed (at the end of the stream, all are).

        All channels are worked on at once, as one flat array of (channel,
        sample) in channel order: a region or run never crosses a channel.
        """
        cfg, C, fw = self.cfg, self.cfg.channels, self.fw
        hist = self._r_hist
        span = np.concatenate([hist, r], axis=1)
        nh, n = hist.shape[1], span.shape[1]
        span0 = a_abs - nh
        act = _moving_mean(np.abs(span), max(1, int(round(0.04 * fw))))
        k_hi = cfg.threshold_factor()
        # each chunk keeps the noise floor it was analysed with, so a region
        # decided one chunk later is judged as it would be at the end of a
        # recording: events do not depend on whether the stream went on
        # (an unknown floor is infinite: nothing is above it)
        sig = np.where(np.isnan(self.sigma), np.inf, self.sigma)
        sig_hist = getattr(self, "_sig_hist", sig)
        self._r_hist, self._sig_hist = r, sig
        merge = int(cfg.merge_ms / 1000 * fw)
        not_rest = self._not_rest_mask(span0, span0 + n)
        beat_f, lvl = self._beat_remnant(act, span0, nh, not_rest)
        lvl_hist = getattr(self, "_lvl_hist", lvl)
        self._lvl_hist = lvl
        above = act > (0.4 * k_hi) * sig[:, None]
        above[:, :nh] = act[:, :nh] > (0.4 * k_hi) * sig_hist[:, None]
        # for the next call, whose span starts where this one's newest chunk
        # does: was the sample before it quiet?
        quiet_before = ~above[:, nh - 1] if nh else np.ones(C, dtype=bool)
        self._quiet_before, self._quiet_next = getattr(self, "_quiet_next", np.ones(C, dtype=bool)), quiet_before
        flat = np.flatnonzero(above)
        if not len(flat):
            return []
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
        rs = rs[rpk >= k_hi * np.where(rs_pos < nh, sig_hist[rs_ch], sig[rs_ch])]
        c_r, s_pos, e_pos = ch[s], pos[s], pos[e]
        keep = np.ones(len(s), dtype=bool)
        if not final:
            keep &= s_pos < nh  # began in this chunk: decide next time
            keep &= e_pos < n - merge  # still open at the end of what we have
        if nh:
            # began before the span: decided earlier; one that begins on the
            # span's first sample began there only if the sample before it was
            # quiet (it waited a chunk for its end: a twitch on a chunk's edge)
            keep &= (s_pos > 0) | self._quiet_before[c_r]
        # regions of one channel are more than `merge` apart, so only the first
        # kept one can be too close to the last one decided before
        k_idx = np.flatnonzero(keep)
        first_of_ch = np.ones(len(k_idx), dtype=bool)
        first_of_ch[1:] = c_r[k_idx[1:]] != c_r[k_idx[:-1]]
        too_close = first_of_ch & (span0 + s_pos[k_idx] - self._last_end[c_r[k_idx]] < merge)
        keep[k_idx[too_close]] = False
        c_r, s_pos, e_pos, peak_act, s_flat, e_flat = (v[keep] for v in (c_r, s_pos, e_pos, peak_act, flat[s], flat[e]))
        began_hist = s_pos < nh
        sig_c = np.where(began_hist, sig_hist[c_r], sig[c_r])  # the floor where each began
        # where a beat was subtracted, a region must also stand well above
        # what this channel's beats usually leave behind
        need = np.where(self._near_beat(beat_f, s_pos), 2.0 * np.where(began_hist, lvl_hist[c_r], lvl[c_r]), 0.0)
        strong = (peak_act >= k_hi * sig_c) & (peak_act >= need)
        c_r, s_pos, e_pos, peak_act, s_flat, e_flat, sig_c = (
            v[strong] for v in (c_r, s_pos, e_pos, peak_act, s_flat, e_flat, sig_c))
        if not len(c_r):
            return []
        last = np.ones(len(c_r), dtype=bool)
        last[:-1] = c_r[1:] != c_r[:-1]
        self._last_end[c_r[last]] = span0 + e_pos[last]
        # onset: the first strong stretch of the region, not a weak heartbeat
        # remnant the bridging joined to its front
        if len(rs):
            first = rs[np.minimum(np.searchsorted(rs, s_flat), len(rs) - 1)]
            moved = (first >= s_flat) & (first <= e_flat)
            s_pos = np.where(moved, s_pos + (first - s_flat), s_pos)
            s_flat = np.where(moved, first, s_flat)
        dur_ms = (e_pos - s_pos + 1) / fw * 1000
        long_i = np.flatnonzero(dur_ms > cfg.max_twitch_ms)
        if len(long_i):
            # a region too long for one twitch is several close together (a
            # bad spell), or one big twitch's long tail: cut it where its
            # activity falls below 15% of its peak, and judge each part
            parts = [self._split_long(act[c_r[i]], int(s_pos[i]), int(e_pos[i]), float(peak_act[i]),
                                      k_hi * float(sig_c[i]), merge) for i in long_i]
            rep = np.ones(len(c_r), dtype=np.int64)
            rep[long_i] = [len(p) for p in parts]
            c_r, peak_act, sig_c = (np.repeat(v, rep) for v in (c_r, peak_act, sig_c))
            s_pos, e_pos = np.repeat(s_pos, rep), np.repeat(e_pos, rep)
            first = np.concatenate([[0], np.cumsum(rep)[:-1]])
            for i, p in zip(long_i, parts):
                for j, (a, b, pk) in enumerate(p):
                    s_pos[first[i] + j], e_pos[first[i] + j], peak_act[first[i] + j] = a, b, pk
            dur_ms = (e_pos - s_pos + 1) / fw * 1000
            for i in np.flatnonzero(dur_ms > cfg.max_twitch_ms):
                # still long: a big twitch's tail; how long it stays above a tenth of its peak
                hi_i = np.flatnonzero(act[c_r[i], s_pos[i]:e_pos[i] + 1] > 0.1 * peak_act[i])
                dur_ms[i] = (hi_i[-1] - hi_i[0] + 1) / fw * 1000
        ok = (dur_ms >= cfg.min_twitch_ms) & (dur_ms <= cfg.max_twitch_ms)
        nr_cs = np.concatenate([[0], np.cumsum(not_rest)])
        ok &= nr_cs[e_pos + 1] == nr_cs[s_pos]  # at rest throughout
        if final:
            ok &= span0 + e_pos <= self._end_guard  # the last beats' windows are not whole
        out = []
        found = [[] for _ in range(C)]
        at_beat = self._near_beat(beat_f, s_pos[ok]).tolist()
        for c, a, b, d, pa, sc, ab in zip(c_r[ok].tolist(), s_pos[ok].tolist(), e_pos[ok].tolist(),
                                          dur_ms[ok].tolist(), peak_act[ok].tolist(), sig_c[ok].tolist(), at_beat):
            if self._bad_during(c, span0 + a, span0 + b + 1):
                continue
            if self._is_beat_remnant(span[c, a:b + 1], span0 + a - self._base, c):
                self.rejected_remnants += 1
                continue
            found[c].append(Twitch(self._t(span0 + a), c, d, float(np.abs(span[c, a:b + 1]).max()), pa / sc,
                                   at_beat=ab))
        for c in np.unique(c_r).tolist():
            out += self._mark_rhythmic(c, found[c])
        return out

    @staticmethod
    def _split_long(act: np.ndarray, s: int, e: int, peak: float, thr: float, merge: int) -> list:
        """Parts (start, end, peak) of the region [s, e] of one channel's
        activity: runs above 15% of the region's peak, gaps up to ``merge``
        bridged, each peaking above ``thr``; the region itself if none."""
        seg = act[s:e + 1]
        idx = np.flatnonzero(seg > 0.15 * peak)
        cut = np.flatnonzero(np.diff(idx) > merge) + 1
        out = []
        for run in np.split(idx, cut):
            pk = float(seg[run[0]:run[-1] + 1].max())
            if pk >= thr:
                out.append((s + int(run[0]), s + int(run[-1]), pk))
        return out or [(s, e, peak)]

    def _is_beat_remnant(self, seg: np.ndarray, m0: int, c: int) -> bool:
        """Evidence that a candidate is what a beat left behind: it lies on a
        beat subtracted on this channel, is smaller than that beat, and has
        its shape (the beat's own, or its slope: a size or timing misfit).
        ``seg``: the candidate's residual (codes), from working index ``m0``
        of the history."""
        mdl = self._model[c, m0:m0 + len(seg)]
        if len(seg) < 4 or len(mdl) < len(seg) or not mdl.any():
            return False
        if np.abs(seg).max() > np.abs(mdl).max():
            return False
        s = seg - seg.mean()
        best = 0.0
        for ref in (mdl, _gradient(mdl)):
            r = ref - ref.mean()
            den = np.sqrt((s * s).sum() * (r * r).sum())
            if den > 0:
                best = max(best, abs(float((s * r).sum())) / den)
        return best >= 0.75

    def _mark_rhythmic(self, c: int, found: list[Twitch]) -> list[Twitch]:
        """Mark candidates that come in step with the heart: three or more on
        one channel, each one or two beat periods (+-12%) after the last, are
        a heartbeat the subtraction missed (a sensor shifted by a movement, a
        template still being learned).  Twitches come at random times."""
        hist = self._cand_times[c]
        if not self._beat_on or not found:
            self._cand_times[c] = (hist + [tw.t for tw in found])[-3:]
            return found
        rr_s = self.beat_period / self.fw
        times = hist + [tw.t for tw in found]
        link = []
        for t0, t1 in zip(times[:-1], times[1:]):
            k = round((t1 - t0) / rr_s)
            link.append(k in (1, 2) and abs((t1 - t0) - k * rr_s) < 0.12 * rr_s)
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
        self._cand_times[c] = times[-3:]
        for tw, b in zip(found, beat[len(hist):]):
            tw.rhythmic = b and tw.at_beat  # in step with the heart, and on a beat
        return found

    #: a candidate this much smaller than a simultaneous one elsewhere is its
    #: echo (crosstalk): up to half on the same leg, far less through the body
    crosstalk_same_leg, crosstalk_other_leg = 0.6, 0.3

    def _finalise_pending(self, out: Events, horizon: float) -> None:
        """Decide the candidates older than ``horizon`` (s), in groups of those
        within ``crosstalk_ms`` of each other.  Sites twitch independently, so
        simultaneous candidates are each a twitch unless the evidence says
        otherwise: an echo much smaller than its source (crosstalk), or, at a
        tracked heartbeat, the same instant on (almost) every good channel
        (what a beat left behind)."""
        pend = sorted(self._pending, key=lambda tw: tw.t)
        xt = self.cfg.crosstalk_ms / 1000
        n_good = sum(st == FAULT_OK for st in self.status)
        i = 0
        while i < len(pend) and pend[i].t < horizon:
            j = i + 1
            while j < len(pend) and pend[j].t - pend[i].t <= xt:
                j += 1
            group = pend[i:j]
            i = j
            chans = {p.channel for p in group}
            # three channels or more at once: three independent sites within
            # 80 ms is rare by chance (well under 1% at 20 twitches a minute
            # each), a beat or a jolt is not; with two channels only, both at
            # once must also sit on a beat
            if len(chans) >= 3 or (len(chans) == 2 == n_good and any(p.at_beat for p in group)):
                # ... save a twitch that stands far above the rest of the group
                peaks = sorted((p.peak for p in group), reverse=True)
                group = [p for p in group if p.peak >= 3.0 * peaks[1]]
                if not group:
                    self.rejected_coincident += 1
                    continue
            keep = []
            for p in sorted(group, key=lambda q: -q.peak):
                echo = any((self.crosstalk_same_leg if self.legs[k.channel] == self.legs[p.channel]
                            else self.crosstalk_other_leg) * k.peak > p.peak for k in keep)
                if echo or any(k.channel == p.channel for k in keep):
                    continue
                keep.append(p)
            for win in sorted(keep, key=lambda q: q.t):
                prev = self._last_on_chan.get(win.channel)
                if prev is not None and win.t - (prev.t + prev.duration_ms / 1000) < 0.25 \
                        and win.peak * 3.0 < prev.peak:
                    # the tail or rebound of a big twitch just ended on this channel
                    self.rejected_tails += 1
                    continue
                src_ = self._last_on_leg.get(self.legs[win.channel])
                if src_ is not None and src_.channel != win.channel and src_.t <= win.t <= src_.t + src_.duration_ms / 1000 \
                        and win.peak < self.crosstalk_same_leg * src_.peak:
                    # inside a bigger twitch on a sensor of the same leg, while it lasts: its echo
                    self.rejected_coincident += 1
                    continue
                if win.rhythmic:
                    self.rejected_rhythmic += 1
                    continue
                self._last_on_chan[win.channel] = win
                self._last_on_leg[self.legs[win.channel]] = win
                out.twitches.append(win)
                self.twitch_count += 1
        self._pending = pend[i:]

    def _t(self, abs_idx: float) -> float:
        """Seconds from the first sample for a working-rate index (the median's
        one-sample delay and the decimation's half-block are put back)."""
        return (abs_idx * self.Dt + (self.Dt - 1) / 2) / self.cfg.rate_hz


def run_detector(blocks, rate_hz: float, channels: int, **kw) -> tuple[Events, Detector]:
    """Whole-stream convenience: every block through one detector."""
    det = Detector(DetectorConfig(rate_hz=rate_hz, channels=channels, **kw))
    ev = Events()
    for b in blocks:
        ev.extend(det.process(b))
    ev.extend(det.finish())
    return ev, det
