"""The sampler's timing with and without the web page under load.

    python benchmarks/bench_load.py [SECONDS]      (default 60)

Runs `twitchmon run --source emulator --always` (the real driver over the
bit-level MCP3008 emulator, 4 x 1 kHz, sampler in its own process) for
SECONDS alone, then again while `twitchmon serve` on 127.0.0.1 answers 4
live viewers and 6 request loops (pages, API, CSV, waveform gallery) for
the whole run.  Prints the sampler's late fraction, worst lateness and
missed periods for both, and the page's request count and latency.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from twitchmon_testkit import loadlib


def run(seconds: float, with_load: bool) -> None:
    d = Path(tempfile.mkdtemp(prefix="twitchmon-load-"))
    loadlib.fill(d)
    srv = load = None
    if with_load:
        srv, port = loadlib.server(d)
    p = loadlib.daemon(d)
    loadlib.wait_recording(p, d)  # sampler up, live ring made
    if with_load:
        load = loadlib.Load(port, viewers=4, workers=6, requests=10 ** 9).start()
    time.sleep(seconds)
    if load:
        load.stop()
    st = loadlib.stop_daemon(p)
    label = "with load   " if with_load else "without load"
    print(f"{label}: sampler late (> 0.5 ms) fraction {st['late_fraction']:.5f}, worst lateness "
          f"{st['worst_late_ms']:.2f} ms, missed periods {st['missed']} of {st['frames']}, "
          f"dropped blocks {st['dropped_blocks']}, SPI errors {st['read_errors']}", flush=True)
    if load:
        lat = np.array(load.latencies_ms)
        print(f"             page: {len(lat)} requests in {seconds:g} s ({len(lat) / seconds:.0f}/s), "
              f"status {dict(sorted(load.status.items()))}, latency median {np.median(lat):.0f} ms, "
              f"p95 {np.percentile(lat, 95):.0f} ms; {load.events} live events to 4 viewers; "
              f"errors {len(load.errors)}", flush=True)
        srv.terminate()
        srv.wait(10)


if __name__ == "__main__":
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    run(secs, with_load=False)
    run(secs, with_load=True)
