"""kill -9 of the daemon while recording: what survives."""
import random
import signal

import pytest
from twitchmon_testkit import needs

from twitchmon_testkit import crashlib
from firmware_host.store import open_store


def _soak(tmp_path, kills: int, seed: int):
    """kill -9 at random moments; after each: integrity, no committed event
    or earlier night lost, every EDF+ opens and agrees with its night.  How
    many seconds of signal a kill costs depends on the machine's load, so
    benchmarks/soak_kill9.py measures and prints it (no wall-clock bound here)."""
    needs.module("mne")
    rng = random.Random(seed)
    for k in range(kills):
        r = crashlib.kill_once(tmp_path, rng.uniform(0.0, 4.0))
        assert not r["orphan"], "sampler process outlived the killed daemon"
        assert r["was_recording"] and r["status"] == "recovered", r
        assert r["integrity_ok"] and r["events_lost"] == 0 and r["earlier_nights_changed"] == 0, r
        assert r["edf_open"] and r["duration_matches"], r
    assert len(open_store(tmp_path).nights()) == kills


def test_kill_9_at_random_moments_loses_no_event_and_no_night(tmp_path):
    _soak(tmp_path, kills=3, seed=1)


@pytest.mark.slow
def test_kill_9_soak_twenty_times(tmp_path):
    """The long variant (``pytest -m slow``; benchmarks/soak_kill9.py prints its figures)."""
    _soak(tmp_path, kills=20, seed=2)


def test_sigterm_stops_cleanly_and_edf_opens_in_mne_with_annotations(tmp_path):
    mne = needs.module("mne")
    # 25 s of signal, so the night holds events to annotate (rest comes ~15 s in), played 4 times
    # faster than real time: the signal, the night and its file are the same, the wait is not
    p = crashlib.start(tmp_path, speed=4.0)
    try:
        crashlib.wait_for_recording(p, tmp_path, 25, timeout=90)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    store = open_store(tmp_path)
    night = store.nights(1)[0]
    assert night["status"] == "complete"
    rec = store.recordings(night["id"])[0]
    raw = mne.io.read_raw_edf(tmp_path / rec["path"], verbose="error")
    assert raw.info["sfreq"] == 1000 and len(raw.ch_names) == 4
    assert raw.n_times / 1000 == pytest.approx(night["duration_s"], abs=1.0)
    n_events = night["total"] + night["movements"]
    assert len(raw.annotations) == n_events
