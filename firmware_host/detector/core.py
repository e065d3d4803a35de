"""The detector's face: ``Detector.process(codes)`` / ``finish()``.

``process`` is the same code for ``twitchmon run`` (100 ms blocks from the
sampler) and ``twitchmon replay`` (big blocks from a file).  It cuts the
stream into fixed chunks (``chunk_s``) and works only on whole chunks, so
the events do not depend on how the stream was split: 1-sample, 37-sample
and whole-night blocks give the same events.  Each chunk goes through the
stages in order, each a function of (input, state) -> (output, state):
:mod:`.front` (glitches, filters, sensor states), :mod:`.faults`,
:mod:`.movement`, :mod:`.heartbeat` (evidence, tracking, fit), then one
chunk later :mod:`.regions` (noise floor, candidates) and :mod:`.rules`.
Events are final about two chunks after they happen.
"""
from __future__ import annotations

import numpy as np

from .. import pins
from . import faults, front, heartbeat, movement, regions, rules
from .events import Events
from .params import SHORT_MOVE_FLOORS, DetectorConfig, rates


class Detector:
    """Streaming twitch detector.  Feed :meth:`process`, end with :meth:`finish`.

    ``legs``: each channel's leg, in the config (None: from the pin table)."""

    batch_chunks = 4  #: whole chunks the front end takes at once, at most

    def __init__(self, config: DetectorConfig | None = None, **kw):
        cfg = config or DetectorConfig(**kw)
        self.cfg = cfg
        C = cfg.channels
        self.legs = list(cfg.legs) if cfg.legs else pins.legs(C)
        if len(self.legs) != C:
            raise ValueError(f"detector has {C} channels but {len(self.legs)} legs")
        self.rt = rt = rates(cfg)
        self.chunk_raw = rt.chunk_raw
        # codes (exact in float32), channel-major; columns 0-1 carry the last
        # two samples of the chunk before, for the 3-point median.  It holds
        # up to ``batch_chunks`` chunks: whole chunks that arrive in one block
        # (a replay) go through the front end together, which saves per-call
        # overhead; live blocks (100 ms) make one chunk at a time.  Either way
        # each chunk then goes through the later stages on its own, so the
        # events are the same.
        self._cap = self.batch_chunks * rt.chunk_raw
        self._buf = np.empty((C, 2 + self._cap), dtype=np.float32)
        self._fill = 0
        self._started = False
        self._scratch = (np.empty((C, self._cap), np.float32), np.empty((C, self._cap), np.float32))
        self._analysed_upto = 0  # absolute working index analysed so far
        self._last_len = 0
        self._end_guard = 0
        # the stages' states
        self.front_state: front.FrontState | None = None
        self.fault_state = faults.FaultState.new(C)
        self.move_state = movement.MoveState.new(C, cfg.board_slow_share())
        self.hist = heartbeat.History.new(C)
        self.beat_state = heartbeat.BeatState.new(C, rt.L)
        self.region_state = regions.RegionState.new(C)
        self.rule_state = rules.RuleState.new(C)

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
        usable = (self._fill // self.rt.Dt) * self.rt.Dt
        if usable:
            out.extend(self._run(self._buf[:, :2 + usable], [usable]))
        self._fill = 0
        out.extend(self._step(None, final=True))
        return out

    @property
    def mains_hz(self) -> float | None:
        """50 or 60 (Hz), once the first chunk is in."""
        return self.front_state.mains_hz if self.front_state else None

    @property
    def status(self) -> list[str]:
        """Each channel's sensor state now (see :mod:`.faults`)."""
        return self.fault_state.status

    @property
    def sigma(self):
        """Each channel's noise floor at rest, codes (NaN until learned)."""
        return self.region_state.sigma

    @property
    def movements(self) -> list:
        """Every movement closed so far, in time order: the movement stage's
        and the short ones the region stage found."""
        return sorted(self.move_state.movements, key=lambda m: m.t)

    @property
    def twitch_count(self) -> int:
        return self.rule_state.twitch_count

    @property
    def rest_s(self) -> float:
        return self.region_state.rest_samples / self.rt.fw

    @property
    def analysed_s(self) -> float:
        """How much of the stream the counts and ``rest_s`` cover so far, s
        from its first sample: they trail the input by one to two chunks."""
        return self._analysed_upto / self.rt.fw

    @property
    def periods(self) -> list[float]:
        """The beat period of each chunk in which the heartbeat was tracked
        with confidence, working samples (see :attr:`fw`), in order."""
        return self.beat_state.periods

    @property
    def fw(self) -> float:
        """The working rate the detector's periods and indices count in, Hz."""
        return self.rt.fw

    @property
    def heart_rate_bpm(self) -> float | None:
        """The night's median heart rate (bpm) over the chunks where the
        heartbeat was tracked with confidence; None when it never was (the
        heartbeat below what the sensors can show, or no rest)."""
        return self.beat_state.heart_rate_bpm(self.rt.fw, self.region_state.analysed_samples // self.rt.chunk_w)

    # -- one chunk -----------------------------------------------------------
    def _run(self, ext: np.ndarray, lengths: list[int]) -> Events:
        """Chunks of ``lengths`` raw samples: ``ext`` is (channels, 2 + their
        sum) codes, the first two columns the two samples before them."""
        out = Events()
        parts, self.front_state = front.front(ext, lengths, self.rt, self.front_state, self._scratch,
                                                faults.HUM_AMP_CODES * self.cfg.gain)
        for part in parts:
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
        hist, rt = self.hist, self.rt
        # Analyse what is one chunk behind the newest (all of it at the end).
        ny = hist.y.shape[1]
        analysis_end = ny - (0 if final else newest_len)
        self._end_guard = hist.base + ny - rt.post - int(0.1 * rt.fw)
        bs = self.beat_state
        if final and bs.on and bs.beats:
            # the beats after the last one tracked are not in the model (the
            # search waits for 1.7 periods that never come): what is left
            # of them must not count as twitches at the end of a recording
            self._end_guard = min(self._end_guard, bs.beats[-1] + rt.post)
        a0 = self._analysed_upto - hist.base
        if analysis_end > a0 >= 0 or (final and analysis_end >= a0 >= 0):
            self._analyse(a0, analysis_end, out, final=final)
            self._analysed_upto = hist.base + analysis_end
        if final:
            out.movements += movement.close(self.move_state, rt)
            self._decide(out, float("inf"))
        hist.keep(3 * rt.chunk_w + rt.L)  # history kept for beat windows
        return out

    def _ingest(self, part: dict, out: Events) -> None:
        """The stateful steps on one chunk: faults, history, movement, beats."""
        C, rt, hist = self.cfg.channels, self.rt, self.hist
        y, e, clip = part["y"], part["e"], part["clip"]
        self._last_len = y.shape[1]
        abs0 = hist.base + hist.y.shape[1]
        fev, bad, self.fault_state = faults.update(part["status"], part["n_d"], abs0, rt, self.fault_state)
        out.faults += fev
        hist.append(y, e, part["lf"])
        good = ~bad & np.array([not faults.bad_during(self.fault_state, c, abs0 - 1, abs0) for c in range(C)])
        # per sample: a fault may begin or end inside a chunk
        fine = ~faults.span_mask(self.fault_state, abs0, abs0 + y.shape[1])
        slow_fine = ~faults.span_mask(self.fault_state, abs0, abs0 + y.shape[1],
                                      int(round(faults.SLOW_SETTLE_S * rt.fw)))
        mv, self.move_state = movement.movement(part["lf"], y, e, clip, abs0, slow_fine, self.region_state.sigma,
                                                self.beat_state.g, rt, self.cfg, self.move_state)
        out.movements += mv
        windows = movement.not_rest_windows(self.move_state, rt, self.cfg)
        rest = heartbeat.chunk_rest(windows, abs0, clip & fine)
        self.beat_state = heartbeat.evidence(e, rest, abs0, good, hist.base, rt, self.beat_state)
        # beats are tracked on every channel that was fine for any second of
        # the chunk, leaving out its bad seconds (a fault must not stop the
        # heartbeat's subtraction for the whole chunk around it)
        usable = (part["status"] == 0).any(axis=0)
        self.beat_state = heartbeat.track(hist, self._last_len, rest, usable, windows, self.region_state.sigma, rt,
                                          self.beat_state,
                                          lambda a, b: faults.span_mask(self.fault_state, a, b))

    def _analyse(self, a0: int, a1: int, out: Events, final: bool) -> None:
        """Residual, rest and noise floor of working samples a0..a1 of the
        history; twitch regions on it; the rules on what is due."""
        hist, rt = self.hist, self.rt
        a_abs, b_abs = hist.base + a0, hist.base + a1
        r = hist.y[:, a0:a1] - hist.model[:, a0:a1]  # less the heartbeat
        windows = movement.not_rest_windows(self.move_state, rt, self.cfg)
        self.region_state = regions.learn_floor(r, a_abs, b_abs, windows, self.fault_state, rt, self.region_state)
        found, self.region_state = regions.regions(r, a_abs, final, self._end_guard, hist, self.beat_state, windows,
                                                   self.fault_state, self.cfg, rt, self.region_state,
                                                   movement.slow_threshold(self.move_state, self.cfg,
                                                                           SHORT_MOVE_FLOORS))
        if self.region_state.short_moves:
            short = movement.short_movements(self.region_state.short_moves, rt)
            self.region_state.short_moves = []
            self.move_state.movements += short
            out.movements += short
        period_s = self.beat_state.period / rt.fw if self.beat_state.on else None
        for c, cands in found.items():
            self.rule_state.pending += rules.mark_rhythmic(c, cands, period_s, self.rule_state)
        self._decide(out, rt.t(a_abs) - self.cfg.crosstalk_ms / 1000)
        if final:
            self._decide(out, float("inf"))

    def _decide(self, out: Events, horizon_s: float) -> None:
        tw, self.rule_state = rules.decide(horizon_s, self.legs, self.cfg, self.rule_state)
        out.twitches += tw


def run_detector(blocks, rate_hz: float, channels: int, **kw) -> tuple[Events, Detector]:
    """Whole-stream convenience: every block through one detector."""
    det = Detector(DetectorConfig(rate_hz=rate_hz, channels=channels, **kw))
    ev = Events()
    for b in blocks:
        ev.extend(det.process(b))
    ev.extend(det.finish())
    return ev, det
