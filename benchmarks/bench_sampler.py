"""The sampler at 4 x 1 kHz in its own process: CPU per second of signal,
lateness percentiles and missed periods.

    python benchmarks/bench_sampler.py [SECONDS] [--runs N] [--source table|emulator] [--rt yes|no|refused]

Sources: ``table`` is the real driver over a zero-cost SPI stand-in (the
kernel side of SPI_IOC_MESSAGE answered from a table: what is measured is
the loop and the driver); ``emulator`` is the real driver over the
bit-level MCP3008 emulator (its Python bit-banging costs far more than a
real bus would).  Priority: ``yes`` asks for SCHED_FIFO (granted as root),
``no`` does not ask, ``refused`` asks without the right to it (the
sampler's capabilities dropped with setpriv, so the kernel says no).
Without arguments every combination is run.  CPU is the sampler process's
user + system time per second of signal; lateness is from each frame's
deadline to its read.  Pin it to a core (``taskset -c 1``) on a busy
machine: figures move with the other load.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

from firmware_host.sampler_process import SamplerProcess


def one(source: str, seconds: float, rt: bool) -> dict:
    sp = SamplerProcess(source, 4, 1000.0, block_samples=100, rt_priority=50 if rt else 0).start()
    n, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < seconds:
        b = sp.get(2.0)
        if b is None:
            break
        n += len(b.codes)
    st = sp.stop()
    st["received"] = n
    st["seconds"] = st["frames"] / 1000.0
    return st


def show(label: str, st: dict) -> None:
    print(f"{label:<32} CPU {100 * st['cpu_s'] / st['seconds']:5.2f} % of a core | lateness p50 "
          f"{st['late_p50_ms']:.3f} ms, p99 {st['late_p99_ms']:.3f} ms, max {st['worst_late_ms']:.3f} ms | "
          f"missed periods {st['missed']} of {st['frames'] + st['missed']} | dropped blocks {st['dropped_blocks']} "
          f"| {st['priority']}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("seconds", nargs="?", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--source", choices=["table", "emulator"])
    ap.add_argument("--rt", choices=["yes", "no", "refused"])
    ap.add_argument("--json", action="store_true", help="one run, its stats as JSON (used for --rt refused)")
    a = ap.parse_args()
    if a.json:
        print(json.dumps(one(a.source, a.seconds, a.rt == "yes")))
        return
    for source in [a.source] if a.source else ["table", "emulator"]:
        for rt in [a.rt] if a.rt else ["yes", "no", "refused"]:
            for _ in range(a.runs):
                label = f"{source}, rt {rt}"
                if rt == "refused":
                    if os.geteuid() != 0 or not shutil.which("setpriv"):
                        print(f"{label}: skipped (needs root and setpriv to drop the right)")
                        continue
                    # no CAP_SYS_NICE and RLIMIT_RTPRIO 0: sched_setscheduler(SCHED_FIFO) gets EPERM
                    out = subprocess.run(["setpriv", "--inh-caps=-sys_nice", "--bounding-set=-sys_nice",
                                          "prlimit", "--rtprio=0", sys.executable, __file__, str(a.seconds),
                                          "--source", source, "--rt", "yes", "--json"],
                                         capture_output=True, text=True, check=True)
                    st = json.loads(out.stdout.splitlines()[-1])
                else:
                    st = one(source, a.seconds, rt == "yes")
                show(label, st)


if __name__ == "__main__":
    main()
