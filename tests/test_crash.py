"""kill -9 of the daemon while recording: what survives."""
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware_host.daemon import recover
from firmware_host.store import open_store


def _run(data_dir):
    return subprocess.Popen([sys.executable, "-m", "firmware_host.cli", "run", "--source", "sim", "--always",
                             "--data-dir", str(data_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_recording(data_dir, seconds, timeout=60):
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        files = list(Path(data_dir).glob("recordings/*/*.edf"))
        if files and files[0].stat().st_size > 800 + seconds * 8100:
            return files[0]
        time.sleep(0.2)
    raise AssertionError("daemon did not record")


@pytest.mark.parametrize("kills", [2])
def test_kill_9_loses_at_most_a_few_seconds_and_no_night(tmp_path, kills):
    mne = pytest.importorskip("mne")
    for k in range(kills):
        p = _run(tmp_path)
        try:
            _wait_for_recording(tmp_path if k == 0 else tmp_path, 4 + 2 * k)
            time.sleep(1.5 + k)
        finally:
            killed_at = dt.datetime.now(dt.timezone.utc)
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
        store = open_store(tmp_path)
        night = store.nights(1)[0]
        assert night["status"] == "recording"
        recover(store, tmp_path)
        assert store.integrity_ok()
        night = store.night(night["id"])
        assert night["status"] == "recovered"
        start = dt.datetime.fromisoformat(night["start_utc"])
        expected_s = (killed_at - start).total_seconds()
        rec = store.recordings(night["id"])[-1]
        raw = mne.io.read_raw_edf(tmp_path / rec["path"], verbose="error")
        assert raw.info["sfreq"] == 1000 and len(raw.ch_names) == 4
        recorded_s = raw.n_times / raw.info["sfreq"]
        assert expected_s - recorded_s <= 5.0 + 1.0  # ~5 s, with 1 s for the start stamp's rounding
        assert night["duration_s"] == pytest.approx(recorded_s, abs=1.0)
        store.close()
    # every night is still there
    assert len(open_store(tmp_path).nights()) == kills


def test_sigterm_stops_cleanly_and_edf_opens_in_mne_with_annotations(tmp_path):
    mne = pytest.importorskip("mne")
    p = _run(tmp_path)
    _wait_for_recording(tmp_path, 25, timeout=90)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
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
