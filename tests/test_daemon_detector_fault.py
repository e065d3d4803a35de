"""A fault of the detector's own mid-night (the tenth session found a region
that stopped it on one simulated night): the recorder catches it, says it in
one line, restarts the detector on the signal it had not yet decided, and
the night goes on and completes with no twitch counted twice and (when
the fault does not recur) none lost.  The real detector runs; only its
region stage is made to raise."""
import logging

import numpy as np
import pytest

from firmware_host.daemon import NightRecorder
from firmware_host.daemon.guarded import TAIL_CHUNKS, GuardedDetector
from firmware_host.detector import Detector, DetectorConfig, regions, run_detector
from firmware_host.simulator import Night
from firmware_host.simulator.parts import Fault, Movement
from firmware_host.store import open_store

FAULT_S = 240.0  #: the fault strikes the first analysis of a span past this, s into the night


def _night():
    """10 minutes, movements at 128 and 263 s (before the fault, the second
    in the signal a restart replays) and two added at 200 and 230 s (in it
    too, reported before the fault), one added at 450 s and a sensor
    unplugged at 500-520 s (after it)."""
    n = Night(10.0, seed=5)
    for t0 in (200.0, 230.0):
        n.movements.append(Movement(t0, t0 + 2.5, [0, 1], 150.0, np.array([[1.0, 0.0, 1.0], [2.0, 1.0, 0.5]])))
    n.movements.append(Movement(450.0, 453.0, [0, 1], 150.0, np.array([[1.0, 0.0, 1.0], [2.0, 1.0, 0.5]])))
    n.faults.append(Fault(2, 500.0, 520.0, "unplugged"))
    return n


@pytest.fixture(scope="module")
def night():
    n = _night()
    blocks = list(n.blocks(130))  # 130-ms blocks: a restart's times are not whole seconds
    ev, det = run_detector(blocks, n.rate_hz, n.channels)
    return n, blocks, [(t.t, t.channel) for t in ev.twitches], ev, det


def _faulty_regions(monkeypatch, times: int):
    """``regions.regions`` raising on ``times`` calls in a row, from its first
    call on a span past FAULT_S (the second call is the fresh detector's
    first, on the same kept signal)."""
    real = regions.regions
    left = {"n": times, "armed": False}

    def regions_that_fail(r, a_abs, *a, **kw):
        rt = a[7]  # (final, end_guard, hist, beats, windows, faults, cfg, rt, ...)
        if left["n"] and (left["armed"] or (a_abs + r.shape[1]) / rt.fw > FAULT_S):
            left["n"] -= 1
            left["armed"] = True
            raise IndexError("index 0 is out of bounds for axis 0 with size 0")
        return real(r, a_abs, *a, **kw)
    monkeypatch.setattr(regions, "regions", regions_that_fail)
    return left


def _record(tmp_path, n, blocks):
    store = open_store(tmp_path)
    rec = NightRecorder(store, tmp_path, n.rate_hz, n.channels, "sim")
    for b in blocks:
        rec.feed(b)
    rec.close()
    return store, rec


def _stored(store, rec):
    return [(t["t"], t["channel"]) for t in store.twitches(rec.night_id)]


def _same_spans(got, want, tol_s=0.5):
    """The same movements, in order, each within ``tol_s`` (a fresh detector finds one a few samples apart)."""
    return len(got) == len(want) and all(abs(a - c) <= tol_s and abs(b - d) <= tol_s
                                         for (a, b), (c, d) in zip(got, want))


def _same_faults(got, want, tol_s=1.0):
    """The same sensor changes (the unplugged sensor at 500 s and back at 520 s), each within ``tol_s``."""
    assert [(f["channel"], f["status"]) for f in want] == [(2, "unplugged"), (2, "ok")]
    assert [round(f["t"]) for f in want] == [500, 520]
    return len(got) == len(want) and all(g["channel"] == w["channel"] and g["status"] == w["status"]
                                         and abs(g["t"] - w["t"]) <= tol_s for g, w in zip(got, want))


def _matched(got, want, tol_s=0.02):
    return sum(any(c == wc and abs(t - wt) <= tol_s for t, c in got) for wt, wc in want)


def test_a_detector_fault_mid_night_restarts_it_and_loses_no_twitch(tmp_path, night, monkeypatch, caplog):
    n, blocks, want, ev, det = night
    left = _faulty_regions(monkeypatch, 1)
    caplog.set_level(logging.INFO, logger="twitchmon")
    store, rec = _record(tmp_path, n, blocks)
    assert left["n"] == 0  # the fault did strike
    said = [r.getMessage() for r in caplog.records if "the detector failed" in r.getMessage()]
    assert len(said) == 1 and "IndexError" in said[0] and "\n" not in said[0]
    assert said[0].startswith("the detector failed 300 s into the night")
    assert "a fresh detector from the last 120 s" in said[0]  # TAIL_CHUNKS of 30-s chunks
    assert rec.det.restarts == 1
    night_row = store.night(rec.night_id)
    assert night_row["status"] == "complete" and night_row["duration_s"] == pytest.approx(600.0)
    got = _stored(store, rec)
    assert len(want) >= 30
    # none twice: no two stored twitches on one channel within 50 ms
    for c in range(n.channels):
        ts = np.sort([t for t, ch in got if ch == c])
        assert not (np.diff(ts) < 0.05).any()
    # none lost: the night without the fault, twitch by twitch (the fresh detector learns
    # its floor and beat again on the kept signal, so a twitch near the threshold may differ)
    assert _matched(got, want) >= len(want) - 2 and len(got) <= len(want) + 2
    after = [w for w in want if w[0] > FAULT_S - 60]
    assert len(after) >= 10 and _matched(got, after) >= len(after) - 2
    # the night's rest is the night's, not the fresh detector's alone
    # (the fresh detector's first seconds of the shared span are no rest to it: 7.5 s under, of 569)
    assert night_row["rest_s"] == pytest.approx(rec.det.rest_s) and det.rest_s - 10 < rec.det.rest_s <= det.rest_s
    assert rec.det.analysed_s == pytest.approx(det.analysed_s, abs=0.01)
    # movements and sensor faults: each once, at the night's times (the one at 263 s was in the replayed signal)
    moves = [(m["t"], m["end"]) for m in store.movements(rec.night_id)]
    assert _same_spans(moves, [(m.t, m.end) for m in ev.movements])
    assert _same_spans([(m.t, m.end) for m in rec.det.movements], [(m.t, m.end) for m in det.movements])
    assert _same_faults(store.health(rec.night_id), ev.faults)
    assert rec.det.heart_rate_bpm == pytest.approx(det.heart_rate_bpm, abs=1.0)


def test_a_fault_that_recurs_on_the_same_signal_costs_those_seconds_not_the_night(tmp_path, night, monkeypatch,
                                                                                   caplog):
    n, blocks, want, ev, det = night
    left = _faulty_regions(monkeypatch, 2)  # the fresh detector fails on the kept signal too
    caplog.set_level(logging.INFO, logger="twitchmon")
    store, rec = _record(tmp_path, n, blocks)
    assert left["n"] == 0
    said = [r.getMessage() for r in caplog.records if "the detector failed" in r.getMessage()]
    assert len(said) == 2 and "again on the same signal" in said[1]
    night_row = store.night(rec.night_id)
    assert night_row["status"] == "complete"
    got = _stored(store, rec)
    assert len(rec.det.faults_s) == 1
    fault_at = rec.det.faults_s[0]  # s into the night: the block whose analysis raised
    assert fault_at > FAULT_S
    before = [w for w in want if w[0] < fault_at - 120]
    late = [w for w in want if w[0] > fault_at]
    assert len(before) >= 5 and len(late) >= 5
    # counted before the fault and again after it; nothing stored twice
    assert _matched(got, before) == len(before)
    assert _matched(got, late) >= len(late) - 2
    assert len(set(got)) == len(got) and len(got) <= len(want)
    # the fresh detector's times are the night's; what it keeps for the next restart is what it holds
    assert all(0 <= t <= 600.0 for t, _ in got)
    assert _same_faults(store.health(rec.night_id), ev.faults)
    assert _same_spans([(m["t"], m["end"]) for m in store.movements(rec.night_id)],
                       [(m.t, m.end) for m in ev.movements])
    assert rec.det._tail_n == sum(len(x) for x in rec.det._tail) > 0
    # nothing shared between the two detectors' spans: the night's rest is theirs added
    assert rec.det.rest_s == pytest.approx(rec.det._base_rest_s + rec.det.det.rest_s)


def test_a_fault_at_the_night_s_end_keeps_the_night_and_its_counts(tmp_path, night, monkeypatch, caplog):
    n, blocks, want, ev, det = night
    store = open_store(tmp_path)
    rec = NightRecorder(store, tmp_path, n.rate_hz, n.channels, "sim")
    for b in blocks:
        rec.feed(b)
    stored_before = len(store.twitches(rec.night_id))
    monkeypatch.setattr(type(rec.det.det), "finish", lambda self: (_ for _ in ()).throw(ValueError("boom")))
    caplog.set_level(logging.INFO, logger="twitchmon")
    rec.close()
    said = [r.getMessage() for r in caplog.records if "the detector failed" in r.getMessage()]
    assert len(said) == 1 and "night's end" in said[0]
    night_row = store.night(rec.night_id)
    assert night_row["status"] == "complete" and night_row["total"] == stored_before > 0


def test_without_a_fault_the_guard_is_the_detector_itself(night):
    """No fault: the same events and the same figures, to the last digit
    (fed in 100-ms blocks, the night's events are those of 130-ms ones);
    and it keeps TAIL_CHUNKS chunks of signal for a restart, no more."""
    from firmware_host.detector.events import Events
    n, _, want, ev, det = night
    blocks = list(n.blocks(100))  # 4 chunks are a whole number of these: the tail's edge is met exactly
    g = GuardedDetector(Detector(DetectorConfig(rate_hz=n.rate_hz, channels=n.channels)))
    keep = TAIL_CHUNKS * g.det.chunk_raw
    got = Events()
    for i, b in enumerate(blocks):
        got.extend(g.process(b))
        # at least ``keep`` samples, and not one block more than that takes
        assert g._tail_n == g.fed if g.fed < keep else g._tail_n - len(g._tail[0]) < keep <= g._tail_n
        if i % 97 == 0:
            assert g._tail_n == sum(len(x) for x in g._tail)
    got.extend(g.finish())
    assert [(t.t, t.channel) for t in got.twitches] == want and got.movements == ev.movements
    assert got.faults == ev.faults
    assert (g.rest_s, g.analysed_s) == (det.rest_s, det.analysed_s)
    assert (g.periods, g.heart_rate_bpm, g.mains_hz) == (det.periods, det.heart_rate_bpm, det.mains_hz)
    assert g.movements == det.movements and g.twitch_count == det.twitch_count == len(want)
    assert g.restarts == 0 and g.faults_s == []


def test_the_kept_signal_is_the_fewest_newest_blocks_that_hold_four_chunks():
    """Blocks of any size (a sampler catching up hands a longer one): the
    guard keeps the newest blocks, as few as hold TAIL_CHUNKS chunks."""
    from firmware_host.detector.events import Events

    class Still:  # finds nothing: only the guard's bookkeeping is under test here
        chunk_raw = 100

        def __init__(self, cfg):
            self.cfg = cfg

        def process(self, codes):
            return Events()
    g = GuardedDetector(Still(DetectorConfig(rate_hz=1000.0, channels=2)))
    keep = TAIL_CHUNKS * Still.chunk_raw
    for size in np.random.default_rng(3).integers(1, 150, 300):
        g.process(np.full((size, 2), g.fed))
        assert g._tail_n == sum(len(x) for x in g._tail)
        assert g._tail_n == g.fed if g.fed < keep else g._tail_n - len(g._tail[0]) < keep <= g._tail_n
        assert g._tail[-1][0, 0] == g.fed - size  # the newest block is the last one fed
