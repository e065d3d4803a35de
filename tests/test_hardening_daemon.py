"""Issue 15, the daemon and storage half: each fault as it was found on
7b505e1, reproduced, and what must hold now.  Trace input (15), site names
(13), one-line errors at start (14), a full disk (3), a busy database (7), a
damaged or missing database (8) and a read-only data dir (11)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from firmware_host.traces import TraceError, open_trace


def _replay(path, *extra):
    return subprocess.run([sys.executable, "-m", "firmware_host.cli", "replay", str(path), *extra],
                          capture_output=True, text=True, timeout=120)


def _csv(path, body_rows, tail=""):
    rows = "".join(f"{i / 1000:.3f},{v},512\n" for i, v in enumerate(body_rows))
    path.write_text("t,left,right\n" + rows + tail)
    return path


# -- 15: trace input ---------------------------------------------------------------------

@pytest.mark.parametrize("value", ["1e308", "1e26", "nan", "-inf"])
def test_csv_of_absurd_numbers_is_one_line_and_exit_2(tmp_path, value):
    """Not a sensor's output: refused before the detector overflows on it."""
    p = _csv(tmp_path / "x.csv", [512] * 10 + [value] + [512] * 3000)
    r = _replay(p)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.strip() == f"twitchmon replay: {p}: line 12: {value!r} is not a sample " \
                               "(a finite number within +-1e+06)"
    p2 = _csv(tmp_path / "y.csv", [value] * 3000)  # in the rows the rate is read from
    r = _replay(p2)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "line 2:" in r.stderr


def test_csv_whose_last_line_is_letters_is_a_bad_row_not_a_power_cut(tmp_path):
    p = _csv(tmp_path / "x.csv", [512] * 2000, tail="hello,world,again\n")
    with pytest.raises(TraceError, match=r"line 2002: could not convert string to float: 'world'"):
        with open_trace(p) as r:
            list(r.blocks())
    # a last line cut without its newline is still a power cut: read up to it
    p = _csv(tmp_path / "cut.csv", [512] * 2000, tail="2.000,51")
    with open_trace(p) as r:
        assert sum(len(b) for b in r.blocks()) == 2000 and r.info.truncated


@pytest.mark.parametrize("bad_line", [3, 4, 12])
def test_a_bad_csv_row_is_reported_at_its_own_line(tmp_path, bad_line):
    """Line 1 is the header; the first data row is line 2."""
    vals = [512] * 20
    vals[bad_line - 2] = "abc"
    p = _csv(tmp_path / "x.csv", vals)
    r = _replay(p)
    assert r.returncode == 2
    assert r.stderr.strip() == f"twitchmon replay: {p}: line {bad_line}: could not convert string to float: 'abc'"


# -- 13: site names ------------------------------------------------------------------------

def test_names_equal_in_their_first_16_characters_stay_distinct_edf_labels(tmp_path):
    """Names the EDF header cuts to the same 16 characters (or to the same
    ASCII) still label distinct signals; MNE keeps them as written."""
    import datetime as dt

    import mne
    import numpy as np

    from firmware_host.traces import EdfWriter
    names = ["Left calf upper part", "Left calf upper part 2", "Mollet gauché", "Mollet gauche"]
    w = EdfWriter(tmp_path / "n.edf", 1000, names, dt.datetime(2026, 1, 1, 23))
    w.write(np.full((2000, 4), 512.0))
    w.close()
    with open_trace(tmp_path / "n.edf") as r:
        labels = r.info.channel_names
    assert len(set(labels)) == 4 and all(len(lab) <= 16 and lab.isascii() for lab in labels)
    assert labels[0] == "Left calf upper" and labels[2] == "Mollet gauche"
    raw = mne.io.read_raw_edf(tmp_path / "n.edf", verbose="error")
    assert raw.ch_names == labels


def _settings_form(client):
    import re
    tok = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/settings").get_data(as_text=True)).group(1)
    return {"csrf_token": tok, "name0": "Left calf", "name1": "Left thigh", "name2": "Right calf",
            "name3": "Right thigh", "night_start": "22:00", "night_end": "07:30", "sensitivity": "5",
            "raw_retention_days": "30"}


@pytest.mark.parametrize("names, says", [
    ({"name0": "Left calf upper part", "name1": "Left calf upper part 2"}, "first 16 characters"),
    ({"name0": "Left\x00calf"}, "control or invisible"),
    ({"name1": "Left \u202eflow"}, "control or invisible"),   # right-to-left override
    ({"name2": "Right \u2067calf"}, "control or invisible"),  # first-strong isolate
    ({"name3": "Left calf"}, "own name"),
])
def test_settings_refuse_names_that_would_collide_or_hide_characters(client, names, says):
    form = _settings_form(client)
    r = client.post("/settings", data={**form, **names}, headers={"Accept": "application/json"})
    assert r.status_code == 400 and says in r.get_json()["error"], r.get_data(as_text=True)
    assert client.get("/api/settings").get_json()["channel_names"][0] == "Left calf"
    ok = client.post("/settings", data={**form, "name0": "Mollet gauche", "name1": "Cuisse gauche"})
    assert ok.status_code == 302


def test_settings_refuse_an_unknown_button_press_and_keep_the_choice(client):
    form = _settings_form(client)
    assert client.post("/settings", data={**form, "button_press": "mark"}).status_code == 302
    r = client.post("/settings", data={**form, "button_press": "explode"}, headers={"Accept": "application/json"})
    assert r.status_code == 400 and "cramp or mark" in r.get_json()["error"]  # was saved as "cramp"
    assert client.get("/api/settings").get_json()["button_press"] == "mark"


def test_the_daemon_ignores_bad_names_a_hand_edited_store_holds(tmp_path):
    from firmware_host.daemon import site_names
    from firmware_host.store import open_store
    st = open_store(tmp_path)
    st.set_setting("channel_names", ["a\u202eb", "x", "y", "z"])
    assert site_names(st, 4) == ["Left calf", "Left thigh", "Right calf", "Right thigh"]
    st.set_setting("channel_names", ["a", "x", "y", "z"])
    assert site_names(st, 4) == ["a", "x", "y", "z"]


# -- 14: one line at start, for every command --------------------------------------------------

def _cli(*args, env=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "firmware_host.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture
def busy_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    yield s.getsockname()[1]
    s.close()


def _tmp_env(tmp_path):
    import os
    env = dict(os.environ, TMPDIR=str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    return env


@pytest.mark.skipif(__import__("os").path.exists("/dev/spidev0.0"), reason="this machine has an SPI device")
def test_run_from_an_adc_that_is_not_there_is_one_line_exit_1_and_no_sampler_left(tmp_path):
    from twitchmon_testkit.crashlib import gone
    r = _cli("run", "--source", "adc", "--always", "--data-dir", str(tmp_path), timeout=60)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        "twitchmon run: adc: cannot open /dev/spidev0.0: [Errno 2] No such file or directory "
        "(is SPI enabled? raspi-config nonint do_spi 0)"]
    assert gone(str(tmp_path))  # no sampler (nor zombie) with our data dir on its command line


def test_serve_on_a_busy_port_is_one_line_and_says_nothing_of_serving(tmp_path, busy_port):
    r = _cli("serve", "--data-dir", str(tmp_path), "--port", str(busy_port))
    assert r.returncode == 1 and "serving" not in r.stdout
    assert r.stderr.strip().splitlines() == [f"twitchmon serve: cannot listen on 127.0.0.1:{busy_port}: "
                                             "the port is in use (another twitchmon? try --port)"]


def test_serve_on_port_0_says_the_port_it_got(tmp_path):
    import re
    import subprocess
    import sys
    import urllib.request
    p = subprocess.Popen([sys.executable, "-m", "firmware_host.cli", "serve", "--data-dir", str(tmp_path),
                          "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        m = re.fullmatch(r"twitchmon: serving http://127\.0\.0\.1:(\d+)/\n", line)
        assert m and int(m.group(1)) > 0, line  # it said ":0"
        with urllib.request.urlopen(f"http://127.0.0.1:{m.group(1)}/", timeout=10) as r:
            assert r.status == 200
    finally:
        p.terminate()
        p.communicate(timeout=30)


@pytest.mark.parametrize("host", ["999.1.1.1", "no-such-host.invalid", "192.0.2.1"])
def test_serve_on_a_bad_host_is_one_line_and_exit_2(tmp_path, host):
    r = _cli("serve", "--data-dir", str(tmp_path), "--host", host, "--port", "0")
    assert r.returncode == 2 and "serving" not in r.stdout
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"twitchmon serve: cannot listen on {host}:0: --host {host!r} "
                                               "is not an address of this machine")


def test_demo_on_a_busy_port_is_one_line_and_leaves_no_temp_dir(tmp_path, busy_port):
    env = _tmp_env(tmp_path)
    r = _cli("demo", "--port", str(busy_port), "--nights", "1", "--minutes", "1", env=env)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [f"twitchmon demo: cannot listen on 127.0.0.1:{busy_port}: "
                                             "the port is in use (another twitchmon? try --port)"]
    assert list((tmp_path / "tmp").iterdir()) == []


def test_sigterm_to_the_installed_demo_removes_its_temp_dir(tmp_path):
    """The console script (not ``python -m``): its SIGTERM handler is set in main()."""
    import os
    import signal
    import socket
    import time
    from pathlib import Path
    script = Path(sys.executable).parent / "twitchmon"
    if not script.exists():
        pytest.skip("twitchmon is not installed in this environment (pip install -e .)")
    env = _tmp_env(tmp_path)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    p = subprocess.Popen([str(script), "demo", "--port", str(port), "--nights", "2", "--minutes", "2"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        t_end = time.monotonic() + 60
        while time.monotonic() < t_end and not list((tmp_path / "tmp").glob("twitchmon-demo-*/recordings/*/*")):
            assert p.poll() is None, p.stderr.read()
            time.sleep(0.1)
        assert list((tmp_path / "tmp").glob("twitchmon-demo-*")), "the demo made no temp dir"
        os.kill(p.pid, signal.SIGTERM)
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, p.stderr.read()
    assert list((tmp_path / "tmp").iterdir()) == []


# -- 7: a busy database ----------------------------------------------------------------------

class LockHolder:
    """Another process (a backup, a DB browser) holding the database's write
    lock until released: a real SQLite lock, not a mock."""

    CODE = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
            "c.execute('BEGIN IMMEDIATE'); c.execute(\"INSERT INTO settings VALUES ('held', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = '1'\"); print('held', flush=True); sys.stdin.read(); "
            "c.execute('ROLLBACK')")

    def __init__(self, db_path):
        self.p = subprocess.Popen([sys.executable, "-c", self.CODE, str(db_path)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        assert self.p.stdout.readline().strip() == "held"

    def release(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            self.p.wait(10)


def _twitches(store, night_id):
    return [(round(t["t"], 3), t["channel"]) for t in store.twitches(night_id)]


def test_a_busy_database_mid_night_holds_the_events_and_loses_none(tmp_path):
    """Another process holds the write lock over most of a night: the
    recorder neither raises nor stops; what it could not write waits in
    memory and is in the store when the lock goes, the count the same as
    without the lock."""
    from firmware_host.daemon import NightRecorder
    from firmware_host.detector import run_detector
    from firmware_host.simulator import Night
    from firmware_host.store import open_store
    night = Night(3.0, seed=21, profile="hard")
    blocks = list(night.blocks(1000))
    ev, _ = run_detector(blocks, night.rate_hz, night.channels)
    want = [(round(t.t, 3), t.channel) for t in ev.twitches]
    store = open_store(tmp_path, busy_timeout_s=0.05)
    rec = NightRecorder(store, tmp_path, night.rate_hz, night.channels, "sim")
    holder = None
    try:
        for i, b in enumerate(blocks):
            if i == 20:
                holder = LockHolder(tmp_path / "twitchmon.db")
            if i == 150:
                assert rec.held_events > 0 and "locked" in rec.db_problem
                holder.release()
            rec.feed(b)
    finally:
        if holder:
            holder.release()
    rec.close()
    assert rec.db_problem is None and rec.held_events == 0
    n = store.night(rec.night_id)
    assert n["status"] == "complete" and n["total"] == len(want) > 0
    assert _twitches(store, rec.night_id) == want


def test_a_busy_database_at_the_night_s_start_and_end_still_gives_the_night(tmp_path):
    """Locked when the night opens (no id yet) and when it closes: the night,
    its recording and its events all arrive once the lock is gone."""
    from firmware_host.daemon import NightRecorder
    from firmware_host.simulator import Night
    from firmware_host.store import open_store
    night = Night(1.0, seed=22, profile="hard")
    store = open_store(tmp_path, busy_timeout_s=0.05)
    holder = LockHolder(tmp_path / "twitchmon.db")
    try:
        rec = NightRecorder(store, tmp_path, night.rate_hz, night.channels, "sim")
        for b in night.blocks(1000):
            rec.feed(b)
        assert rec.night_id is None and rec.held_events > 0
        rec.close(wait_s=0.2)  # gives up while it is still locked: says so, does not raise
    finally:
        holder.release()
    assert store.nights() == []
    assert rec.flush(force=True) and rec.night_id is not None
    n = store.night(rec.night_id)
    assert n["status"] == "complete" and n["total"] == len(store.twitches(rec.night_id)) > 0
    assert len(store.recordings(rec.night_id)) == 1 and store.recordings(rec.night_id)[0]["finished"]


def test_events_held_for_a_busy_database_are_bounded_and_the_drop_is_said(tmp_path, monkeypatch, capsys):
    from firmware_host import daemon
    from firmware_host.detector import run_detector
    from firmware_host.simulator import Night
    from firmware_host.store import open_store
    monkeypatch.setattr(daemon.held, "HELD_MAX_EVENTS", 5)
    night = Night(2.0, seed=23, twitches_per_min=40)
    store = open_store(tmp_path, busy_timeout_s=0.05)
    holder = LockHolder(tmp_path / "twitchmon.db")
    try:
        rec = daemon.NightRecorder(store, tmp_path, night.rate_hz, night.channels, "sim")
        for b in night.blocks(1000):
            rec.feed(b)
            assert rec.held_events <= 5
        assert rec.lost_events > 0
    finally:
        holder.release()
    rec.close()
    err = capsys.readouterr().err
    assert "more than 5 events wait for the database; dropping the newest" in err
    assert f"{rec.lost_events} event(s) of this night were dropped" in err
    ev, _ = run_detector(list(night.blocks(1000)), night.rate_hz, night.channels)
    stored = len(store.twitches(rec.night_id)) + len(store.movements(rec.night_id))
    assert 0 < stored <= 5 and stored + rec.lost_events == len(ev.twitches) + len(ev.movements)


def test_a_diary_save_on_a_busy_database_is_a_clear_503_not_a_500(tmp_path):
    import re

    from web import create_app
    app = create_app({"DATA_DIR": str(tmp_path), "TESTING": True, "DB_BUSY_S": 0.2})
    client = app.test_client()
    page = client.get("/diary").get_data(as_text=True)
    tok = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"csrf_token": tok, "factor": "caffeine"}
    holder = LockHolder(tmp_path / "twitchmon.db")
    try:
        r = client.post("/diary/2026-05-04", data=form, headers={"Accept": "application/json"})
        h = client.post("/diary/2026-05-04", data=form)
    finally:
        holder.release()
    assert r.status_code == 503 and r.get_json() == {
        "error": "the database is busy (another program holds its write lock); try again in a minute"}
    assert h.status_code == 503 and "the database is busy" in h.get_data(as_text=True)
    ok = client.post("/diary/2026-05-04", data=form, headers={"Accept": "application/json"})
    assert ok.status_code == 200 and client.get("/api/diary").get_json()["entries"][0]["factors"] == ["caffeine"]


def test_the_daemon_outlives_another_process_holding_the_write_lock_for_22_s(tmp_path):
    """The real daemon (playing a twitchy night in real time) starts while
    a second process holds the write lock, for longer than any busy
    timeout: it records raw, keeps running, says so in one line, and the
    night arrives complete with its twitches once the lock is gone."""
    import datetime as dt
    import signal
    import time

    from twitchmon_testkit.crashlib import wait_for_recording
    from firmware_host.simulator.files import write_simulated
    from firmware_host.simulator import Night
    from firmware_host.store import open_store
    src = tmp_path / "twitchy.edf"
    write_simulated(Night(1.0, seed=5, twitches_per_min=40), src, dt.datetime(2026, 1, 1, 23, tzinfo=dt.timezone.utc))
    data = tmp_path / "data"
    open_store(data).close()
    holder = LockHolder(data / "twitchmon.db")
    t_lock = time.monotonic()
    p = subprocess.Popen([sys.executable, "-m", "firmware_host.cli", "run", "--source", str(src), "--always",
                          "--data-dir", str(data)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_recording(p, data, 1)  # raw recording does not wait for the database
        while time.monotonic() - t_lock < 22:
            assert p.poll() is None, p.stderr.read()
            time.sleep(0.5)
        holder.release()
        time.sleep(4)
        assert p.poll() is None, p.stderr.read()
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    finally:
        holder.release()
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert "Traceback" not in err
    assert "the database takes no writes (database is locked)" in err
    st = open_store(data)
    n = st.nights()[0]
    assert n["status"] == "complete" and n["total"] == len(st.twitches(n["id"])) > 0
    assert n["duration_s"] > 20 and len(st.recordings(n["id"])) == 1


# -- 3: a real full disk -----------------------------------------------------------------------

@pytest.fixture
def small_fs(tmp_path):
    """A real small filesystem: tmpfs of ``mb`` MB mounted on a fresh dir.
    Needs root (CI runs as root and must not skip: set CI to make this fail
    instead of skip where mount is refused)."""
    import os
    mounts = []

    def make(mb: float, inodes: int | None = None) -> Path:
        d = tmp_path / f"fs{len(mounts)}"
        d.mkdir()
        opts = f"size={int(mb * 1024)}k,mode=0755" + (f",nr_inodes={inodes}" if inodes else "")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(d)],
                           capture_output=True, text=True) if os.geteuid() == 0 else None
        if r is None or r.returncode != 0:
            why = "not root" if r is None else r.stderr.strip()
            if os.environ.get("CI"):
                pytest.fail(f"cannot mount a small tmpfs here ({why}); CI must run this test")
            pytest.skip(f"a real small filesystem needs mount (root): {why}")
        mounts.append(d)
        return d

    yield make
    for d in mounts:
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


def _fill(fs: Path, leave_bytes: int) -> None:
    """Fill ``fs`` with a file until ``leave_bytes`` are free (real blocks)."""
    import os
    import shutil
    free = shutil.disk_usage(fs).free
    fd = os.open(fs / "filler.bin", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.posix_fallocate(fd, 0, max(0, free - leave_bytes))
    finally:
        os.close(fd)



def test_a_real_full_disk_mid_night_stops_raw_and_keeps_every_twitch(small_fs, capsys):
    """A 24 MB tmpfs filled to its last 200 KB by something else: the EDF
    fills it about 25 s into a 3-minute night.  pyedflib returns -1 and the
    recorder sees it: raw stops and says why, the 8 MB reserve is released,
    and the night's events and counts are those of the same night on a disk
    with room."""
    from firmware_host.daemon import NightRecorder
    from firmware_host.detector import run_detector
    from firmware_host.simulator import Night
    from firmware_host.store import open_store
    night = Night(3.0, seed=31, twitches_per_min=20)
    blocks = list(night.blocks(1000))
    ev, _ = run_detector(blocks, night.rate_hz, night.channels)
    want = [(round(t.t, 3), t.channel) for t in ev.twitches]
    fs = small_fs(24)
    store = open_store(fs)
    rec = NightRecorder(store, fs, night.rate_hz, night.channels, "sim")
    _fill(fs, 200_000)
    for b in blocks:
        rec.feed(b)
    rec.close()
    err = capsys.readouterr().err
    print(err, file=sys.stderr)
    assert not rec.raw_enabled and not (fs / ".twitchmon-reserve").exists()
    reason = store.get_setting(f"night.{rec.night_id}.raw_stopped")
    assert reason == "raw recording stopped: No space left on device"
    assert f"twitchmon: {reason}; counting goes on" in err and "released the 8 MB reserve" in err
    n = store.night(rec.night_id)
    assert n["status"] == "complete" and n["duration_s"] == pytest.approx(180.0)
    assert _twitches(store, rec.night_id) == want and n["total"] == len(want) > 0
    # the signal written before the disk filled is a readable EDF+, up to its last whole record
    with open_trace(fs / store.recordings(rec.night_id)[0]["path"]) as r:
        assert 10_000 <= r.info.n_samples <= 40_000
        assert sum(len(b) for b in r.blocks()) == r.info.n_samples
    assert store.integrity_ok()


def test_the_daemon_on_a_disk_that_fills_mid_night_never_exits_and_counts_on(small_fs, tmp_path):
    """The real daemon on a 24 MB tmpfs that something else fills to its
    last 100 KB mid-night: it never exits, says why raw stopped (on stderr
    and on the night), and counts twitches after the raw file ends."""
    import datetime as dt
    import signal
    import time

    from twitchmon_testkit.crashlib import wait_for_recording
    from firmware_host.simulator.files import write_simulated
    from firmware_host.simulator import Night
    from firmware_host.store import open_store
    src = tmp_path / "twitchy.edf"
    write_simulated(Night(1.0, seed=5, twitches_per_min=40), src, dt.datetime(2026, 1, 1, 23, tzinfo=dt.timezone.utc))
    data = small_fs(24)
    # the night played 3 times faster than real time: 36 s of it after the fill take 12 s
    speed = 3.0
    p = subprocess.Popen([sys.executable, "-m", "firmware_host.cli", "run", "--source", str(src), "--always",
                          "--data-dir", str(data)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "TWITCHMON_SIM_SPEED": str(speed)})
    try:
        wait_for_recording(p, data, 2)
        assert (data / ".twitchmon-reserve").exists()
        _fill(data, 100_000)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 36 / speed:
            assert p.poll() is None, p.stderr.read()
            time.sleep(0.5)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert "Traceback" not in err
    assert "twitchmon: raw recording stopped: No space left on device; counting goes on" in err
    st = open_store(data)
    n = st.nights()[0]
    assert st.get_setting(f"night.{n['id']}.raw_stopped") == "raw recording stopped: No space left on device"
    assert n["status"] == "complete" and n["duration_s"] > 30
    with open_trace(data / st.recordings(n["id"])[0]["path"]) as r:
        raw_s = r.info.duration_s
    assert raw_s < 25  # ~8 KB/s into the last 100 KB
    tws = st.twitches(n["id"])
    assert n["total"] == len(tws) and any(t["t"] > raw_s + 5 for t in tws)


# -- 8: a damaged or missing database ------------------------------------------------------

@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A data dir with two nights, their raw files and a diary entry."""
    from firmware_host.demo import fill_nights
    from firmware_host.store import open_store
    d = tmp_path_factory.mktemp("recorded") / "data"
    fill_nights(str(d), 2, 1.0, log=lambda *_: None)
    st = open_store(d)
    st.set_diary("2026-05-04", ["caffeine"], "", "2026-05-05T08:00:00+00:00")
    st.close()
    return d


def _copy(src, dst):
    import shutil
    shutil.copytree(src, dst)
    return dst


def _truncate(db):
    import os
    os.truncate(db, db.stat().st_size // 2)


def _header(db):
    with open(db, "r+b") as f:
        f.write(b"\0" * 100)


def _flip(db, n=200, seed=1):
    import random
    b = bytearray(db.read_bytes())
    r = random.Random(seed)
    for _ in range(n):
        b[r.randrange(100, len(b))] ^= r.randrange(1, 256)
    db.write_bytes(bytes(b))


def _zero(db):
    import os
    os.truncate(db, 0)


def _delete(db):
    db.unlink()


DAMAGE = {"truncated": (_truncate, "damaged, database disk image is malformed"),
          "header overwritten": (_header, "damaged, file is not a database"),
          "200 bytes flipped": (_flip, "damaged, "),
          "zero length": (_zero, "is empty (0 bytes) but"),
          "deleted": (_delete, "is missing but")}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("cmd", ["run", "serve"])
def test_a_damaged_or_missing_database_is_refused_in_one_line_exit_2(recorded, tmp_path, damage, cmd):
    """Both commands refuse at start with one line and exit 2 (which the
    units' RestartPreventExitStatus=2 does not restart on), and neither
    makes a new empty database over nights that exist."""
    d = _copy(recorded, tmp_path / "data")
    db = d / "twitchmon.db"
    hurt, says = DAMAGE[damage]
    hurt(db)
    before = db.read_bytes() if db.exists() else None
    extra = ["--source", "sim", "--always"] if cmd == "run" else ["--port", "0"]
    r = _cli(cmd, "--data-dir", str(d), *extra, timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"twitchmon {cmd}: {db}") and says in lines[0], lines
    assert (db.read_bytes() if db.exists() else None) == before  # nothing made or changed
    assert list(d.glob("recordings/*/*.edf"))


def test_a_database_destroyed_mid_night_leaves_raw_recording_and_counting_running(tmp_path, capsys):
    """The database file overwritten with noise mid-night (a dying SD card):
    no exception, raw recording goes on to the end, and the twitches the
    store could not take are said in one line and kept as the EDF's
    annotations (``replay --save`` brings them back once it is restored)."""
    import os

    from firmware_host.daemon import NightRecorder
    from firmware_host.detector import run_detector
    from firmware_host.simulator import Night
    from firmware_host.store import open_store
    night = Night(2.0, seed=24, twitches_per_min=40)
    blocks = list(night.blocks(1000))
    ev, _ = run_detector(blocks, night.rate_hz, night.channels)
    store = open_store(tmp_path)
    rec = NightRecorder(store, tmp_path, night.rate_hz, night.channels, "sim")
    for i, b in enumerate(blocks):
        if i == 40:
            for name in ("twitchmon.db", "twitchmon.db-wal", "twitchmon.db-shm"):
                f = tmp_path / name
                if f.exists():
                    f.write_bytes(os.urandom(f.stat().st_size))
        rec.feed(b)
    rec.close(wait_s=0.5)
    assert rec.raw_enabled and rec.held_events > 0
    err = capsys.readouterr().err
    assert "the database takes no writes (file is not a database)" in err
    assert f"{rec.held_events} event(s) of this night not stored" in err
    with open_trace(next(tmp_path.glob("recordings/*/*.edf"))) as r:
        assert r.info.n_samples == len(blocks) * 1000
        twitch_notes = [a for a in r.annotations() if a[2].startswith("twitch ")]
    assert len(twitch_notes) == len(ev.twitches) > 0


def test_the_units_do_not_restart_on_exit_2():
    import configparser
    root = Path(__file__).resolve().parent.parent / "systemd"
    for unit in ("twitchmon.service", "twitchmon-web.service"):
        cp = configparser.ConfigParser(strict=False, interpolation=None)
        cp.read(root / unit)
        assert cp["Service"]["Restart"] == "always" and cp["Service"]["RestartPreventExitStatus"] == "2"


def test_a_fresh_data_dir_still_gets_a_new_database(tmp_path):
    from firmware_host.store import open_store
    st = open_store(tmp_path / "new", check=True)
    assert st.nights() == [] and (tmp_path / "new" / "twitchmon.db").stat().st_size > 0


@pytest.mark.parametrize("seed", range(12))
def test_api_nights_is_never_a_500_when_bytes_flip_under_a_running_page(recorded, tmp_path, seed):
    """The page started on a good database; then 200 bytes flip.  Every API
    read and page is a 200 (what is readable) or a 503 with one line."""
    from web import create_app
    d = _copy(recorded, tmp_path / "data")
    app = create_app({"DATA_DIR": str(d), "TESTING": True})
    client = app.test_client()
    assert client.get("/api/nights").status_code == 200
    _flip(d / "twitchmon.db", 200, seed)
    for url in ("/api/nights", "/api/nights?limit=1", "/api/diary", "/api/trends", "/api/settings", "/export.csv",
                "/", "/diary"):
        r = client.get(url)
        assert r.status_code in (200, 503), (url, r.status_code, r.get_data(as_text=True)[:300])
        if r.status_code == 503 and url.startswith("/api/"):
            assert "damaged" in r.get_json()["error"] or "malformed" in r.get_json()["error"]


# -- 11: a read-only data dir --------------------------------------------------------------

def test_a_read_only_data_dir_shows_the_nights_and_refuses_writes_in_one_line(recorded, small_fs):
    """A real read-only mount (an SD card the kernel remounted read-only
    after errors): the recorder and passwd say so in one line, the page
    shows every stored night and says why a save cannot be done."""
    import re
    import shutil

    from web import create_app
    fs = small_fs(16)
    shutil.copytree(recorded, fs, dirs_exist_ok=True)
    subprocess.run(["mount", "-o", "remount,ro", str(fs)], check=True)
    r = _cli("run", "--source", "sim", "--always", "--data-dir", str(fs))
    assert r.returncode == 1 and r.stderr.strip().splitlines() == [
        f"twitchmon run: {fs} is read-only: nothing can be recorded there (remount it read-write, or give "
        "--data-dir); the page can still show the stored nights"]
    r = subprocess.run([sys.executable, "-m", "firmware_host.cli", "passwd", "--data-dir", str(fs)],
                       input="a good password\n", capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stderr.strip().splitlines() == [
        "twitchmon passwd: the data dir is read-only: stored nights can be read, nothing can be saved"]
    app = create_app({"DATA_DIR": str(fs), "TESTING": True})
    c = app.test_client()
    nights = c.get("/api/nights").get_json()["nights"]
    assert len(nights) == 2
    for n in nights:
        assert c.get(f"/api/nights/{n['id']}/events").status_code == 200
        assert c.get(f"/nights/{n['id']}").status_code == 200
    assert c.get("/").status_code == 200 and c.get("/api/diary").get_json()["entries"][0]["factors"] == ["caffeine"]
    tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/diary").get_data(as_text=True)).group(1)
    r = c.post("/diary/2026-05-04", data={"csrf_token": tok, "factor": "alcohol"},
               headers={"Accept": "application/json"})
    assert r.status_code == 503 and r.get_json()["error"].startswith("the data dir is read-only")
    assert sorted(p.name for p in fs.iterdir()) == ["recordings", "twitchmon.db"]  # nothing written


def test_the_live_ring_on_a_full_filesystem_is_an_error_at_start_not_a_sigbus_later(small_fs):
    """The ring is an mmap; made sparse, its first write on a full
    filesystem is SIGBUS, which kills the recorder.  Its pages are allocated
    up front, so a full filesystem is an OSError when it is made (the daemon
    then runs without the live view)."""
    import signal
    fs = small_fs(1)
    _fill(fs, 0)
    code = ("import sys, numpy as np; from firmware_host.live import LiveWriter\n"
            "try:\n    w = LiveWriter(sys.argv[1], 4, 1000.0)\nexcept OSError as e:\n    print(e.strerror); sys.exit(3)\n"
            "w.write(np.full((20000, 4), 512, dtype=np.uint16)); print('wrote')")
    r = subprocess.run([sys.executable, "-c", code, str(fs / "live.ring")], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode != -signal.SIGBUS
    assert r.returncode == 3 and r.stdout.strip() == "No space left on device", (r.returncode, r.stdout, r.stderr)
    assert sorted(p.name for p in fs.iterdir()) == ["filler.bin"]


def test_no_room_for_the_night_s_raw_file_is_said_as_such_and_counting_goes_on(small_fs):
    """No free inode left when the night's EDF is made: pyedflib says "can
    not open file, no such file or directory" whatever the cause; the
    recorder says the real one and counts the night."""
    import datetime as dt
    import itertools

    from firmware_host.daemon import NightRecorder
    from firmware_host.detector import run_detector
    from firmware_host.simulator import Night
    from firmware_host.store import open_store
    night = Night(1.0, seed=25, twitches_per_min=40)
    blocks = list(night.blocks(1000))
    ev, _ = run_detector(blocks, night.rate_hz, night.channels)
    fs = small_fs(16, inodes=64)
    store = open_store(fs)
    start = dt.datetime(2026, 5, 4, 23, 0, tzinfo=dt.timezone.utc)
    rec = NightRecorder(store, fs, night.rate_hz, night.channels, "sim", clock=lambda: start)
    (fs / "recordings" / "2026-05-04").mkdir(parents=True)
    junk = fs / "junk"
    junk.mkdir()
    for i in itertools.count():  # use up every inode
        try:
            (junk / str(i)).touch()
        except OSError:
            break
    for b in blocks:
        rec.feed(b)
    rec.close()
    assert store.get_setting(f"night.{rec.night_id}.raw_stopped") == "raw recording stopped: No space left on device"
    assert _twitches(store, rec.night_id) == [(round(t.t, 3), t.channel) for t in ev.twitches]
