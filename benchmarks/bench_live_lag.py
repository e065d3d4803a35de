"""Lag of the live signal view: from the daemon writing a frame into the
ring to the frame arriving at a browser's EventSource, through waitress.

    python benchmarks/bench_live_lag.py [STEPS]

Writes 100-ms blocks at 4 x 1 kHz like the daemon; every half second one
block carries a marker value; an SSE client on 127.0.0.1 notes when each
marker arrives.  Prints median, 95th percentile and worst lag, in ms.
(The browser adds a frame or two of drawing, ~16-33 ms, not counted here.)
"""
from __future__ import annotations

import http.client
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from twitchmon_testkit import browser

from firmware_host.live import LiveWriter
from firmware_host.store import open_store
from web import create_app


def main(steps: int = 40) -> None:

    d = Path(tempfile.mkdtemp(prefix="twitchmon-lag-"))
    ring = LiveWriter(d / "live.ring", 4, 1000.0)
    st = open_store(d)
    st.set_setting("live_path", str(ring.path))
    st.close()
    app = create_app({"DATA_DIR": str(d), "HOST": "127.0.0.1"})
    sent: dict[int, float] = {}
    lags: list[float] = []
    stop = threading.Event()

    def writer():
        rng = np.random.default_rng(0)
        k, nxt = 0, time.monotonic()
        while not stop.is_set():
            block = 512 + 3 * rng.standard_normal((100, 4))
            if k % 5 == 0:
                marker = 800 + (k // 5) % 200
                block[:, 0] = marker
                sent[marker] = time.monotonic()
            ring.write(block)
            k += 1
            nxt += 0.1
            time.sleep(max(0.0, nxt - time.monotonic()))

    with browser.served(app) as url:
        threading.Thread(target=writer, daemon=True).start()
        host, port = url.split("//")[1].split(":")
        conn = http.client.HTTPConnection(host, int(port))
        conn.request("GET", "/api/live")
        resp = conn.getresponse()
        seen = set()
        buf = b""
        while len(lags) < steps:
            buf += resp.read1(65536)
            while b"\n\n" in buf:
                ev, buf = buf.split(b"\n\n", 1)
                if not ev.startswith(b"data: "):
                    continue
                now = time.monotonic()
                msg = json.loads(ev[6:])
                for v in set(msg["y"][0]):
                    m = int(round(v))
                    if m in sent and m not in seen and abs(v - m) < 1e-6:
                        seen.add(m)
                        lags.append((now - sent[m]) * 1000)
        stop.set()
        conn.close()
    ring.close()
    a = np.array(lags[1:])  # the first marker may sit in the 5-s backlog sent on connect
    print(f"live view lag over {len(a)} markers (ring write -> SSE client, ms): "
          f"median {np.median(a):.0f}, p95 {np.percentile(a, 95):.0f}, worst {a.max():.0f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
