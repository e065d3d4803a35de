"""``twitchmon replay --jobs N`` over a folder of nights: wall time for
--jobs 1 and --jobs 2, the speed-up, whether the reports are the same byte
for byte, and the peak RSS of a worker after 1 file and after 4 (flat
memory per worker).

    python benchmarks/bench_replay_jobs.py [--runs 3] [--nights 8] [--minutes 480]

The nights are simulated once into benchmarks/out/nights-MINUTES/
(gitignored, seeds 1..N; eight 8-h nights are 1.9 GB).  Each replay pays
about 0.6 s of interpreter start and imports (scipy.signal) before any
night, in every worker at once: with 2-h nights that alone caps the
speed-up at about 1.8x, with 8-h nights at about 1.95x.  Also printed: the
CPU seconds of the whole replay (parent and workers), which show whether
the wall time is the work or the machine's other load.  Runs alternate between --jobs 1 and --jobs 2 so that the
shared machine's drift hits both alike; best and median wall are printed.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def replay(files, jobs: int) -> tuple[float, bytes, float, float]:
    """(wall s, stdout, peak RSS MB of the biggest process, CPU s) for one replay run in a child."""
    code = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
            "r = subprocess.run(sys.argv[1:], capture_output=True); w = time.perf_counter() - t; "
            "sys.stdout.buffer.write(r.stdout); u = resource.getrusage(resource.RUSAGE_CHILDREN); "
            "sys.stderr.write(f'{w} {u.ru_maxrss} {u.ru_utime + u.ru_stime}\\n'); "
            "sys.exit(r.returncode)")
    r = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "firmware_host.cli", "replay",
                        "--json", "--jobs", str(jobs), *map(str, files)], capture_output=True, check=True)
    wall, rss_kb, cpu = r.stderr.decode().split()[-3:]
    return float(wall), r.stdout, int(rss_kb) / 1024, float(cpu)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--nights", type=int, default=8)
    ap.add_argument("--minutes", type=float, default=480.0)
    a = ap.parse_args()
    out = OUT / f"nights-{a.minutes:g}"
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for seed in range(1, a.nights + 1):
        f = out / f"night-{seed}.edf"
        if not f.exists():
            subprocess.run([sys.executable, "-m", "firmware_host.cli", "simulate", "--minutes", str(a.minutes),
                            "--seed", str(seed), "--out", str(f)], check=True, stdout=subprocess.DEVNULL)
        files.append(f)
    walls = {1: [], 2: []}
    cpus = {1: [], 2: []}
    outs = {}
    for _ in range(a.runs):
        for jobs in (1, 2):
            w, text, _, cpu = replay(files, jobs)
            walls[jobs].append(w)
            cpus[jobs].append(cpu)
            outs.setdefault(jobs, text)
            if text != outs[jobs]:
                print(f"--jobs {jobs}: output differs between runs!")
    same = outs[1] == outs[2]
    print(f"{len(files)} nights x {a.minutes:g} min, {a.runs} runs each, alternating")
    for jobs in (1, 2):
        print(f"--jobs {jobs}: best {min(walls[jobs]):.2f} s, median {statistics.median(walls[jobs]):.2f} s "
              f"({', '.join(f'{w:.2f}' for w in walls[jobs])}); CPU s {', '.join(f'{c:.2f}' for c in cpus[jobs])}")
    print(f"speed-up --jobs 2 over --jobs 1: best {min(walls[1]) / min(walls[2]):.2f}x, median "
          f"{statistics.median(walls[1]) / statistics.median(walls[2]):.2f}x; "
          f"reports byte for byte the same: {same} ({len(outs[1].splitlines())} lines)")
    _, _, rss1, _ = replay(files[:2], 2)  # one file per worker
    _, _, rss4, _ = replay(files, 2)  # four files per worker
    print(f"peak RSS of the biggest worker: {rss1:.0f} MB after 1 file, {rss4:.0f} MB after {len(files) // 2} files")


if __name__ == "__main__":
    main()
