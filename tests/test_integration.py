"""Where two branches' work meets: behaviour each side promised that only
holds once both are in (issue 15's hardening with issue 14's MQTT and
issue 17's sampler process)."""
import re
import shutil
import subprocess
from pathlib import Path

from test_hardening_daemon import recorded, small_fs  # noqa: F401 - fixtures: a real tmpfs, two nights


def test_an_mqtt_password_saved_on_a_read_only_data_dir_is_a_503_line_not_a_500(recorded, small_fs):  # noqa: F811
    """The MQTT section writes the typed password to its own file in the
    data dir before the store; on a read-only data dir that write is the
    first to fail, and the page must say so as it does for every other save
    (one line, 503), not answer 500."""
    from web import create_app
    fs = small_fs(16)
    shutil.copytree(recorded, fs, dirs_exist_ok=True)
    subprocess.run(["mount", "-o", "remount,ro", str(fs)], check=True)
    c = create_app({"DATA_DIR": str(fs), "TESTING": True}).test_client()
    tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/settings").get_data(as_text=True)).group(1)
    form = {"csrf_token": tok, "name0": "a", "name1": "b", "name2": "c", "name3": "d", "night_start": "22:00",
            "night_end": "07:30", "sensitivity": "5", "raw_retention_days": "30", "mqtt_enabled": "on",
            "mqtt_host": "broker.lan", "mqtt_password": "s3cret pw"}
    r = c.post("/settings", data=form, headers={"Accept": "application/json"})
    assert r.status_code == 503 and r.get_json()["error"] == (
        "the data dir is read-only: stored nights can be read, nothing can be saved")
    r = c.post("/settings", data=form)
    assert r.status_code == 503 and "the data dir is read-only" in r.get_data(as_text=True)
    assert sorted(p.name for p in fs.iterdir()) == ["recordings", "twitchmon.db"]  # nothing written


def test_a_sampler_killed_mid_night_stops_the_daemon_in_one_line_and_keeps_the_night(tmp_path):
    """harden-daemon: a sampler that dies without a word stops the daemon
    (exit 1, one line, so systemd restarts it) instead of a wait for ever;
    lean: the sampler is now a subprocess whose end shows as its pipes
    closing.  Both pipes close at once, and the daemon must see it."""
    import os
    import signal

    from twitchmon_testkit.crashlib import gone, start, wait_for_recording
    from firmware_host.store import open_store
    data = tmp_path / "data"
    p = start(data, text=True)
    try:
        wait_for_recording(p, data, 2)
        pids = [d.name for d in Path("/proc").iterdir() if d.name.isdigit()
                and b"firmware_host.sampler" in (d / "cmdline").read_bytes() and str(data).encode() in
                (d / "cmdline").read_bytes()]
        assert len(pids) == 1
        os.kill(int(pids[0]), signal.SIGKILL)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 1, (p.returncode, err[-2000:])
    assert err.strip().splitlines()[-1:] == ["twitchmon run: sim: the sampler process ended with exit code -9"]
    assert gone(str(data))
    st = open_store(data)
    night = st.nights(1)[0]
    assert night["status"] != "recording" and night["duration_s"] >= 2  # closed in order, its signal kept
    st.close()
