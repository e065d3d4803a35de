"""kill -9 of a recording daemon, measured: shared by tests/test_crash.py
(a short run in CI, the 20-kill soak marked slow) and
benchmarks/soak_kill9.py (which prints the figures in the README)."""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from firmware_host.daemon import recover
from firmware_host.store import open_store


def start(data_dir, source: str = "sim", text: bool = False, speed: float | None = None) -> subprocess.Popen:
    """``twitchmon run --always`` on ``data_dir``, output piped; ``speed``: a
    simulated or recorded source played that many times faster than real
    time ($TWITCHMON_SIM_SPEED; the daemon's own timers keep the wall clock)."""
    return subprocess.Popen([sys.executable, "-m", "firmware_host.cli", "run", "--source", source, "--always",
                             "--data-dir", str(data_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=text, env={**os.environ, **({"TWITCHMON_SIM_SPEED": str(speed)} if speed else {})})


def wait_for_recording(p, data_dir, seconds, timeout=60, old=frozenset()) -> Path:
    """The newest EDF (not one of ``old``) once it holds about ``seconds`` of signal."""
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        files = sorted((f for f in Path(data_dir).glob("recordings/*/*.edf") if f not in old),
                       key=lambda f: f.stat().st_mtime)
        if files and files[-1].stat().st_size > 800 + seconds * 8100:
            return files[-1]
        if p.poll() is not None:
            raise AssertionError(f"daemon exited {p.returncode}: {p.stderr.read().decode()[-2000:]}")
        time.sleep(0.2)
    raise AssertionError("daemon did not record")


def gone(marker: str, timeout=5.0) -> bool:
    """True once no live process has ``marker`` on its command line."""
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


def kill_once(data_dir: Path, after_s: float) -> dict:
    """Start the daemon, let it record ~2 s plus ``after_s``, kill -9 it,
    recover as the next start would, and measure what survived."""
    import mne  # noqa: PLC0415

    store = open_store(data_dir)
    before = {n["id"]: (n["total"], n["movements"], n["status"]) for n in store.nights(100000)}
    store.close()
    old = frozenset(Path(data_dir).glob("recordings/*/*.edf"))
    p = start(data_dir)
    try:
        wait_for_recording(p, data_dir, 2, old=old)
        time.sleep(after_s)
    finally:
        killed_at = dt.datetime.now(dt.timezone.utc)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    out = {"orphan": not gone(str(data_dir))}
    store = open_store(data_dir)
    night = store.nights(1)[0]
    committed = len(store.twitches(night["id"])) + len(store.movements(night["id"]))
    out["was_recording"] = night["status"] == "recording"
    recover(store, data_dir)
    out["integrity_ok"] = store.integrity_ok()
    night = store.night(night["id"])
    out["status"] = night["status"]
    out["events_lost"] = committed - (len(store.twitches(night["id"])) + len(store.movements(night["id"])))
    after = {n["id"]: (n["total"], n["movements"], n["status"]) for n in store.nights(100000)}
    out["earlier_nights_changed"] = sum(1 for k, v in before.items() if after.get(k) != v)
    start_t = dt.datetime.fromisoformat(night["start_utc"])
    expected_s = (killed_at - start_t).total_seconds()
    recorded_s = 0.0
    out["edf_open"] = True
    for rec in store.recordings(night["id"]):
        try:
            raw = mne.io.read_raw_edf(data_dir / rec["path"], verbose="error")
            assert raw.info["sfreq"] == 1000 and len(raw.ch_names) == 4
            recorded_s = max(recorded_s, rec["start_t"] + raw.n_times / raw.info["sfreq"])
        except Exception:  # noqa: BLE001 - counted as a failure, reported
            out["edf_open"] = False
    # the start stamp is rounded to the second: up to 1 s of the gap is that
    out["lost_s"] = max(0.0, expected_s - recorded_s - 1.0)
    out["duration_matches"] = abs(night["duration_s"] - recorded_s) <= 1.0
    store.close()
    return out
