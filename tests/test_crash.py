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


def _wait_for_recording(p, data_dir, seconds, timeout=60):
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        files = sorted(Path(data_dir).glob("recordings/*/*.edf"), key=lambda f: f.stat().st_mtime)
        if files and files[-1].stat().st_size > 800 + seconds * 8100:
            return files[-1]
        if p.poll() is not None:
            raise AssertionError(f"daemon exited {p.returncode}: {p.stderr.read().decode()[-2000:]}")
        time.sleep(0.2)
    raise AssertionError("daemon did not record")


def _gone(marker, timeout=5.0):
    """True once no process has ``marker`` on its command line."""
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        alive = []
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    cmd = (d / "cmdline").read_bytes()
                    stat = (d / "stat").read_text()
                except OSError:
                    continue
                if marker.encode() in cmd and stat.split(") ")[-1][:1] != "Z":
                    alive.append(d.name)
        if not alive:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("kills", [2])
def test_kill_9_loses_at_most_a_few_seconds_and_no_night(tmp_path, kills):
    mne = pytest.importorskip("mne")
    for k in range(kills):
        p = _run(tmp_path)
        try:
            _wait_for_recording(p, tmp_path, 4 + 2 * k)
            time.sleep(1.5 + k)
        finally:
            killed_at = dt.datetime.now(dt.timezone.utc)
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
        # the sampler (a child at real-time priority) must not outlive its daemon
        assert _gone(str(tmp_path)), "sampler process outlived the killed daemon"
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
    try:
        _wait_for_recording(p, tmp_path, 25, timeout=90)
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
