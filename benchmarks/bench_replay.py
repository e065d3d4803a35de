"""``twitchmon replay`` over long simulated nights: wall and CPU time, peak
memory, and the detector's CPU per second of 4-channel 1 kHz signal (what
the live path costs the Pi).

    python benchmarks/bench_replay.py [--runs 3] [HOURS ...]     (default: 1 8)

Everything runs on one core (the bench pins itself and its children to the
last CPU).  Each night is simulated once into benchmarks/out/ (gitignored;
the 8-h EDF is 234 MB and takes about a minute to write).  The CLI is
timed ``--runs`` times (best and median wall printed: this machine is
shared, and its speed drifts by 20-40% over minutes); then one more replay
in a child that reports its own peak RSS and the split between imports
(numpy, scipy.signal: 0.6-1 s here, the same whatever the night's length)
and analysis ("replay ms CPU/s": the detector's CPU per second of 4-channel
signal as replay feeds it, whole chunks batched).  The same child then feeds
the night's first 30 minutes as ``twitchmon run`` does, 100-ms blocks of
uint16 codes, one 30-s chunk analysed at a time ("live ms CPU/s": the load
the detector puts on the Pi's core while it records).
"""
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "out"
LIVE_MIN = 30  # minutes of the night fed as the live path feeds it


def child(path: str) -> None:
    t0 = time.perf_counter()  # the imports are part of what a replay costs: timed, in this child
    analyse = importlib.import_module("firmware_host.analysis").analyse
    t1 = time.perf_counter()
    c1 = time.process_time()
    report = analyse(path)
    c2 = time.process_time()
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the live pass
    # the live path: what `twitchmon run` does, 100-ms blocks of uint16 codes
    # (as the sampler hands them over) into a fresh detector, one 30-s chunk at
    # a time; the first LIVE_MIN minutes of the same night
    detector = importlib.import_module("firmware_host.detector")
    with importlib.import_module("firmware_host.traces").open_trace(path) as r:
        block = int(round(r.info.rate_hz / 10))
        det = detector.Detector(detector.DetectorConfig(rate_hz=r.info.rate_hz, channels=r.info.channels))
        fed = 0
        live_cpu = 0.0
        for codes in r.code_blocks(block * 600):
            codes = codes.astype(np.uint16)
            c3 = time.process_time()
            for i in range(0, len(codes), block):
                det.process(codes[i:i + block])
            live_cpu += time.process_time() - c3
            fed += len(codes)
            if fed >= LIVE_MIN * 60 * r.info.rate_hz:
                break
        live_s = fed / r.info.rate_hz
    json.dump({"import_s": t1 - t0, "analyse_cpu_s": c2 - c1, "live_cpu_s": live_cpu, "live_s": live_s,
               "maxrss_mb": maxrss_mb,
               "duration_s": report["duration_s"], "total": report["counts"]["total"]}, sys.stdout)


def main(hours_list, runs: int = 3):
    OUT.mkdir(exist_ok=True)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})  # one core; children inherit it
    print(f"{'night':>6} {'best wall s':>11} {'median wall s':>13} {'CPU s':>6} {'imports s':>9} {'peak RSS MB':>11} "
          f"{'replay ms CPU/s':>15} {'live ms CPU/s':>13} {'twitches':>8}")
    for hours in hours_list:
        f = OUT / f"night-{hours:g}h.edf"
        if not f.exists():
            subprocess.run([sys.executable, "-m", "firmware_host.cli", "simulate", "--minutes", str(hours * 60),
                            "--out", str(f), "--seed", "8"], check=True, stdout=subprocess.DEVNULL)
        walls, cpus = [], []
        for _ in range(runs):  # the CLI as a user runs it, for the wall time
            t0 = time.perf_counter()
            r0 = os.times()
            subprocess.run([sys.executable, "-m", "firmware_host.cli", "replay", str(f), "--json"], check=True,
                           stdout=subprocess.DEVNULL)
            walls.append(time.perf_counter() - t0)
            r1 = os.times()
            cpus.append((r1.children_user - r0.children_user) + (r1.children_system - r0.children_system))
        # the same analysis in a child that reports its own memory and split
        out = subprocess.run([sys.executable, __file__, "--child", str(f)], check=True, capture_output=True,
                             text=True).stdout
        c = json.loads(out)
        per_s_ms = c["analyse_cpu_s"] / c["duration_s"] * 1000
        live_ms = c["live_cpu_s"] / c["live_s"] * 1000
        print(f"{hours:>5g}h {min(walls):11.1f} {statistics.median(walls):13.1f} {min(cpus):6.1f} "
              f"{c['import_s']:9.2f} {c['maxrss_mb']:11.0f} {per_s_ms:15.3f} {live_ms:13.3f} {c['total']:8d}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2])
    else:
        args = sys.argv[1:]
        runs = 3
        if args[:1] == ["--runs"]:
            runs, args = int(args[1]), args[2:]
        main([float(h) for h in args] or [1.0, 8.0], runs)
