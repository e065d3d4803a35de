"""Bytes written to disk per hour of a night (SD-card wear).

    python benchmarks/bench_disk.py [SECONDS]      (default 120)

Runs `twitchmon run --source sim --always` (4 x 1 kHz, simulated sensors,
real recorder and store) for SECONDS in a fresh data dir and reads the
daemon's /proc/PID/io just before stopping it: write_bytes is what the
kernel sent to the block layer for it (what wears the card), wchar what it
asked to write.  Also prints the data dir's size.  Scaled to one hour.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def io_of(pid: int) -> dict:
    out = {}
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        k, v = line.split(":")
        out[k] = int(v)
    return out


def main(seconds: float = 120.0) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.Popen([sys.executable, "-m", "firmware_host.cli", "run", "--source", "sim", "--always",
                              "--data-dir", d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(5)  # imports and start-up are not part of a night
        a = io_of(p.pid)
        t0 = time.monotonic()
        time.sleep(seconds)
        os.sync()
        b = io_of(p.pid)
        el = time.monotonic() - t0
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
        size = sum(f.stat().st_size for f in Path(d).rglob("*") if f.is_file())
    per_h = 3600 / el
    print(f"{el:.0f} s of a 4 x 1 kHz night: write_bytes {(b['write_bytes'] - a['write_bytes']) * per_h / 1e6:.1f} MB/h, "
          f"wchar {(b['wchar'] - a['wchar']) * per_h / 1e6:.1f} MB/h; data dir {size / 1e6:.1f} MB after "
          f"{el + 5:.0f} s (EDF alone is 4 ch x 2 B x 1000/s = {8000 * 3600 / 1e6:.1f} MB/h)")


if __name__ == "__main__":
    main(*map(float, sys.argv[1:]))
