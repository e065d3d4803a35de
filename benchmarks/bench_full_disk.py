"""A night on a disk that fills: what is kept, measured.

    sudo python benchmarks/bench_full_disk.py [MINUTES]      (default 3; root: it mounts a tmpfs)

Mounts a 24 MB tmpfs, opens a night on it with the real recorder, fills
the filesystem with another file to its last 200 KB, and feeds a simulated
night (20 twitches a minute) through.  Prints the twitches found with the
disk full against the same night's twitches with room, how much raw signal
the EDF kept, and what the recorder said.  tests/test_hardening_daemon.py
asserts the same on a 3-minute night.
"""
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from firmware_host.daemon import NightRecorder
from firmware_host.detector import run_detector
from firmware_host.simulator import Night
from firmware_host.store import open_store
from firmware_host.traces import open_trace


def main(minutes: float = 3.0) -> None:
    night = Night(minutes, seed=31, twitches_per_min=20)
    blocks = list(night.blocks(1000))
    ev, _ = run_detector(blocks, night.rate_hz, night.channels)
    want = [(round(t.t, 3), t.channel) for t in ev.twitches]
    fs = Path(tempfile.mkdtemp(prefix="twitchmon-fulldisk-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24576k", "tmpfs", str(fs)], check=True)
    try:
        store = open_store(fs)
        said = io.StringIO()
        with contextlib.redirect_stderr(said):
            rec = NightRecorder(store, fs, night.rate_hz, night.channels, "sim")
            free = shutil.disk_usage(fs).free
            fd = os.open(fs / "filler.bin", os.O_WRONLY | os.O_CREAT, 0o600)
            os.posix_fallocate(fd, 0, free - 200_000)
            os.close(fd)
            for b in blocks:
                rec.feed(b)
            rec.close()
        n = store.night(rec.night_id)
        got = [(round(t["t"], 3), t["channel"]) for t in store.twitches(rec.night_id)]
        with open_trace(fs / store.recordings(rec.night_id)[0]["path"]) as r:
            raw_s = r.info.duration_s
        print(f"night {n['duration_s']:.0f} s, status {n['status']}; twitches with room {len(want)}, "
              f"with the disk full {n['total']} (same list: {got == want}); raw EDF kept {raw_s:.0f} s; "
              f"night says: {store.get_setting(f'night.{rec.night_id}.raw_stopped')!r}")
        print("recorder said:\n  " + "\n  ".join(said.getvalue().strip().splitlines()))
        store.close()
    finally:
        subprocess.run(["umount", "-l", str(fs)], check=False)
        shutil.rmtree(fs, ignore_errors=True)


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0)
