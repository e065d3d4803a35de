"""twitchmon replay over a long simulated night: time, peak memory, and the
live path's CPU per second of signal.

    python benchmarks/bench_replay.py [hours]   (default 8; writes benchmarks/out/night-<h>h.edf once)
"""
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def main(hours=8.0):
    OUT.mkdir(exist_ok=True)
    f = OUT / f"night-{hours:g}h.edf"
    if not f.exists():
        subprocess.run([sys.executable, "-m", "firmware_host.cli", "simulate", "--minutes", str(hours * 60),
                        "--out", str(f), "--seed", "8"], check=True)
    t0 = time.perf_counter()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "firmware_host.cli", "replay", str(f), "--json"], check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    print(f"replay of a {hours:g} h 4-channel 1 kHz night: {wall:.1f} s wall, {cpu:.1f} s CPU, "
          f"peak RSS {r1.ru_maxrss / 1024:.0f} MB (largest child so far)")
    print(f"detector CPU per second of 4-channel signal: {cpu / (hours * 3600) * 1000:.2f} ms")


if __name__ == "__main__":
    main(*map(float, sys.argv[1:]))
