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
from firmware_host.detector import regions, run_detector
from firmware_host.simulator import Night
from firmware_host.store import open_store

FAULT_S = 240.0  #: the fault strikes the first analysis of a span past this, s into the night


@pytest.fixture(scope="module")
def night():
    n = Night(10.0, seed=5)
    blocks = list(n.blocks(100))  # 100-ms blocks, as the sampler hands them over
    ev, _ = run_detector(blocks, n.rate_hz, n.channels)
    return n, blocks, [(t.t, t.channel) for t in ev.twitches]


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


def _matched(got, want, tol_s=0.02):
    return sum(any(c == wc and abs(t - wt) <= tol_s for t, c in got) for wt, wc in want)


def test_a_detector_fault_mid_night_restarts_it_and_loses_no_twitch(tmp_path, night, monkeypatch, caplog):
    n, blocks, want = night
    left = _faulty_regions(monkeypatch, 1)
    caplog.set_level(logging.INFO, logger="twitchmon")
    store, rec = _record(tmp_path, n, blocks)
    assert left["n"] == 0  # the fault did strike
    said = [r.getMessage() for r in caplog.records if "the detector failed" in r.getMessage()]
    assert len(said) == 1 and "IndexError" in said[0] and "fresh detector" in said[0] and "\n" not in said[0]
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
    assert night_row["rest_s"] == pytest.approx(rec.det.rest_s) and rec.det.rest_s > 450
    assert rec.det.analysed_s == pytest.approx(600.0, abs=1.0)


def test_a_fault_that_recurs_on_the_same_signal_costs_those_seconds_not_the_night(tmp_path, night, monkeypatch,
                                                                                   caplog):
    n, blocks, want = night
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
    # the fresh detector's times are the night's
    assert all(0 <= t <= 600.0 for t, _ in got)


def test_a_fault_at_the_night_s_end_keeps_the_night_and_its_counts(tmp_path, night, monkeypatch, caplog):
    n, blocks, want = night
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
