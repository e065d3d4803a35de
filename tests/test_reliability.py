"""Faults injected one at a time, each asserting what survives: disk full
mid-night, SPI errors and a sensor unplugged mid-night, the clock jumping
during a night, damaged trace files (hypothesis), and what the daemon
listens on.  kill -9 is in test_crash.py."""
import datetime as dt
import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from firmware_host.daemon import NightRecorder
from firmware_host.detector import run_detector
from firmware_host.simulator import Night
from firmware_host.store import open_store
from firmware_host.traces import TraceError, open_trace

UTC = dt.timezone.utc


def _night_events(blocks, night):
    ev, _ = run_detector(blocks, night.rate_hz, night.channels)
    return [(round(t.t, 3), t.channel) for t in ev.twitches]


# -- disk full -----------------------------------------------------------------------

def test_disk_full_mid_night_stops_raw_keeps_counting_and_flags_it(tmp_path, monkeypatch):
    """ENOSPC from the EDF writer half-way: no exception escapes, raw stops
    and is flagged on the night, and the count is the count without the fault."""
    from firmware_host import traces
    night = Night(2.0, seed=11)
    blocks = list(night.blocks(1000))
    want = _night_events(blocks, night)
    store = open_store(tmp_path)
    rec = NightRecorder(store, tmp_path, night.rate_hz, night.channels, "sim")
    real_write = traces.EdfWriter.write
    calls = {"n": 0}

    def full_disk(self, codes):
        calls["n"] += 1
        if calls["n"] > 50:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(self, codes)

    monkeypatch.setattr(traces.EdfWriter, "write", full_disk)
    for b in blocks:
        rec.feed(b)
    rec.close()
    n = store.night(rec.night_id)
    assert n["status"] == "complete" and n["duration_s"] == pytest.approx(120.0)
    assert not rec.raw_enabled
    assert "No space left on device" in store.get_setting(f"night.{rec.night_id}.raw_stopped")
    got = [(round(t["t"], 3), t["channel"]) for t in store.twitches(rec.night_id)]
    assert got == want and len(want) > 0
    # what was written before the disk filled is a readable EDF+
    with open_trace(tmp_path / store.recordings(rec.night_id)[0]["path"]) as r:
        assert r.info.n_samples >= 40 * 1000
    assert store.integrity_ok()


# -- SPI errors and a sensor pulled out ------------------------------------------------

def test_spi_errors_and_an_unplugged_sensor_mid_night_make_no_phantom_twitches():
    """10 s of a dead bus (the sampler repeats the last frame after its
    retries) and 60 s of one sensor unplugged (flat at mid-rail): flagged,
    and not one twitch more than the same night without the faults."""
    night = Night(5.0, seed=12)
    x = np.vstack(list(night.blocks(50_000))).astype(float)
    clean = _night_events([x], night)
    y = x.copy()
    a = 90_000
    y[a:a + 10_000] = y[a - 1]  # bus dead: last good frame repeated
    b = 180_000
    y[b:b + 60_000, 1] = 511  # left thigh unplugged: flat
    ev, det = run_detector([y], night.rate_hz, night.channels)
    got = [(round(t.t, 3), t.channel) for t in ev.twitches]
    # nothing new (onsets may move by a few ms when the filters restart after
    # a fault), unless it is a real twitch the clean run missed
    real = [(tw.t, tw.channel) for tw in night.twitches]
    assert all(any(c == c2 and abs(t - t2) <= 0.05 for t2, c2 in clean + real) for t, c in got)
    assert not any(a / 1000 <= t <= (a + 10_000) / 1000 for t, _ in got)
    assert not any(c == 1 and b / 1000 <= t <= (b + 60_000) / 1000 for t, c in got)
    flagged = {(f["channel"], f["status"]) for f in ev.faults}
    assert (1, "unplugged") in flagged and {(c, "unplugged") for c in range(4)} <= flagged
    # and the channel is back once plugged in again
    assert det.status[1] == "ok"


def test_sampler_backs_off_on_a_dead_bus_and_carries_on():
    from firmware_host.clock import FakeClock
    from firmware_host.sampler_process import EmulatedAdcSource, sample_loop

    def run(work, frames, source):
        blocks = []
        clock = FakeClock(work=work)
        stats = sample_loop(source, blocks.append, block_samples=100, clock=clock, max_frames=frames)
        return stats, blocks, clock

    src = EmulatedAdcSource(prerender_s=2)
    src.emulator.fail_transfers = 10 ** 6
    stats, blocks, clock = run(lambda k: 0.0, frames=5, source=src)
    assert stats.frames == 5 and stats.read_errors == 5 * 5  # each frame: a try and 4 retries
    assert stats.missed > 0  # the back-off (up to 1 s) cost periods, counted, not re-timed
    src.emulator.fail_transfers = 0
    stats, blocks, _ = run(lambda k: 0.0, frames=50, source=src)
    assert stats.read_errors == 0 and stats.frames == 50


# -- the clock jumps ---------------------------------------------------------------------

def test_clock_jumping_forward_and_back_mid_night_changes_nothing_counted(tmp_path):
    """NTP steps the clock 3 h forward, then 2 h back, during a night: the
    night's times come from sample counts, its date stays, files roll by
    samples, and the events are the same as with a steady clock."""
    night = Night(2.0, seed=13)
    blocks = list(night.blocks(1000))
    want = _night_events(blocks, night)
    store = open_store(tmp_path)
    wall = {"now": dt.datetime(2026, 5, 4, 23, 0, tzinfo=UTC)}
    rec = NightRecorder(store, tmp_path, night.rate_hz, night.channels, "sim", clock=lambda: wall["now"])
    for i, b in enumerate(blocks):
        wall["now"] += dt.timedelta(seconds=1)
        if i == 40:
            wall["now"] += dt.timedelta(hours=3)
        if i == 80:
            wall["now"] -= dt.timedelta(hours=2)
        rec.feed(b)
        assert not rec.fix_clock()  # the clock was set: nothing to re-date
    rec.close()
    n = store.night(rec.night_id)
    assert n["start_utc"] == "2026-05-04T23:00:00+00:00" and n["date"] == "2026-05-04"
    assert n["duration_s"] == pytest.approx(120.0)
    assert n["end_utc"] == "2026-05-04T23:02:00+00:00"
    assert [(round(t["t"], 3), t["channel"]) for t in store.twitches(rec.night_id)] == want
    assert len(store.recordings(rec.night_id)) == 1


def test_sampler_deadlines_ignore_the_wall_clock():
    """The sampler's deadlines are on CLOCK_MONOTONIC, which NTP steps do
    not move: check the clock it uses by default is the monotonic one."""
    from firmware_host.sampler import MonotonicClock
    c = MonotonicClock()
    # read between two readings of CLOCK_MONOTONIC: only the same clock lands
    # there (the wall clock is ~1.7e9 s ahead of it); no duration is asserted
    before = time.monotonic()
    t = c.monotonic()
    after = time.monotonic()
    assert before <= t <= after


# -- damaged files -------------------------------------------------------------------------

def _files():
    """Small valid traces in every format, made once."""
    from firmware_host.simulator.files import write_simulated
    import tempfile
    d = Path(tempfile.mkdtemp(prefix="twitchmon-fuzz-"))
    night = Night(0.25, seed=3)
    out = {}
    for ext in ("edf", "wav", "npz", "csv"):
        p = d / f"n.{ext}"
        write_simulated(night, p, dt.datetime(2026, 1, 1, 23, tzinfo=UTC))
        out[ext] = p.read_bytes()
    return out


FILES = _files()


def _read_all(path) -> int:
    """Samples read; every block is (samples, the header's channels) of finite codes."""
    with open_trace(path) as r:
        n = 0
        for b in r.blocks(7000):
            assert b.ndim == 2 and b.shape[1] == r.info.channels >= 1, b.shape
            assert np.isfinite(b).all()
            n += len(b)
        if hasattr(r, "annotations"):
            r.annotations()
        return n


@settings(max_examples=int(os.environ.get("TWITCHMON_FUZZ_EXAMPLES", "60")), deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ext=st.sampled_from(sorted(FILES)), cut=st.floats(0, 1), flips=st.lists(
    st.tuples(st.floats(0, 1), st.integers(1, 255)), max_size=6))
def test_damaged_files_read_what_is_whole_or_fail_in_one_line(tmp_path_factory, ext, cut, flips):
    data = bytearray(FILES[ext])
    data = data[:int(len(data) * cut)]
    for pos, x in flips:
        if data:
            data[min(len(data) - 1, int(len(data) * pos))] ^= x
    p = tmp_path_factory.mktemp("fz") / f"damaged.{ext}"
    p.write_bytes(bytes(data))
    try:
        n = _read_all(p)
    except TraceError as exc:
        msg = str(exc)
        assert "\n" not in msg and str(p) in msg
        return
    if not flips:  # only cut: what is read is a prefix of the whole file's samples
        full = tmp_path_factory.mktemp("fz") / f"whole.{ext}"
        full.write_bytes(FILES[ext])
        assert n <= _read_all(full)


def test_cli_replay_of_a_damaged_file_is_one_line_and_exit_2(tmp_path):
    p = tmp_path / "bad.edf"
    p.write_bytes(FILES["edf"][:300])
    r = subprocess.run([sys.executable, "-m", "firmware_host.cli", "replay", str(p)], capture_output=True,
                       text=True, timeout=60)
    # 300 bytes end inside the header: not a trace at all
    assert r.returncode == 2 and r.stdout == ""
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and str(p) in err[0] and "Traceback" not in r.stderr


# -- what listens ------------------------------------------------------------------------------

def _listening_inodes() -> set[str]:
    out = set()
    for f in ("/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(f).read_text().splitlines()[1:]
        except OSError:
            continue
        for ln in lines:
            parts = ln.split()
            if f.endswith(("tcp", "tcp6")) and parts[3] != "0A":  # LISTEN
                continue
            out.add(parts[9])
    return out


def test_the_daemon_opens_no_network_socket(tmp_path):
    """Only the page listens, and only where it is told; the recorder
    (which holds the sensors) opens no socket at all (its unit also has
    PrivateNetwork=yes and AF_UNIX only)."""
    p = subprocess.Popen([sys.executable, "-m", "firmware_host.cli", "run", "--source", "sim", "--always",
                          "--data-dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list(tmp_path.glob("recordings/*/*.edf")):
            time.sleep(0.2)
        assert list(tmp_path.glob("recordings/*/*.edf")), "daemon did not start recording"
        pids = [p.pid] + [int(c) for c in Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split()]
        socks = set()
        for pid in pids:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:["):
                    socks.add(target[8:-1])
        assert not socks & _listening_inodes()
        inet = set()
        for f in ("/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6"):
            try:
                inet |= {ln.split()[9] for ln in Path(f).read_text().splitlines()[1:]}
            except OSError:
                pass
        assert not socks & inet, "the daemon holds an internet socket"
    finally:
        p.terminate()
        p.wait(20)


def test_missed_periods_become_repeated_frames_so_time_stays_true():
    """The sampler skips periods it missed; the daemon makes them up from the
    last frame so sample n stays n/rate seconds into the night, and it counts
    the SPI read errors between health checks."""
    from firmware_host.daemon import GapFiller
    from firmware_host.sampler import Block
    g = GapFiller()
    a = np.array([[1, 2], [3, 4]], dtype=np.uint16)
    b = np.array([[5, 6]], dtype=np.uint16)
    assert np.array_equal(g.fill(Block(0, 0.0, a, 0)), a)
    out = g.fill(Block(5, 0.005, b, 7))  # indices 2, 3 and 4 were missed
    assert out.tolist() == [[3, 4], [3, 4], [3, 4], [5, 6]] and g.filled == 3
    assert np.array_equal(g.fill(Block(6, 0.006, b, 7)), b)
    assert g.take_errors() == 7 and g.take_errors() == 0


def test_spi_errors_reach_the_page_banner(tmp_path):
    import json as _json

    from web import sensor_banner
    st = open_store(tmp_path)
    now = dt.datetime(2026, 5, 4, 23, 0, tzinfo=UTC)
    st.set_setting("health", _json.dumps({"t": now.isoformat(), "status": ["ok"] * 4, "spi_errors": 12}))
    lines = sensor_banner(st, now=now)
    assert len(lines) == 1 and "12" in lines[0] and "SPI" in lines[0]
