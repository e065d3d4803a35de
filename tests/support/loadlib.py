"""The web page under load while the daemon samples: shared by
tests/test_load.py (short, asserts nothing fails) and
benchmarks/bench_load.py (prints the sampler's timing with and without)."""
from __future__ import annotations

import ast
import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from firmware_host.demo import fill_nights

from . import crashlib

PAGES = ["/", "/tonight", "/trends", "/diary", "/hardware", "/api/nights", "/api/tonight", "/nights/1",
         "/api/nights/1/waveforms", "/export.csv"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def daemon(data_dir, source="emulator") -> subprocess.Popen:
    return crashlib.start(data_dir, source, text=True)


def wait_recording(p, data_dir, timeout=60) -> None:
    """Until the daemon has started a recording of its own (it is sampling);
    the simulated nights ``fill`` stored are not it."""
    old = frozenset(Path(data_dir).glob("recordings/*/*.edf"))
    crashlib.wait_for_recording(p, data_dir, 0, timeout, old=old)


def stop_daemon(p) -> dict:
    """SIGTERM; the sampler's stats from the daemon's last line."""
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    line = next((ln for ln in out.splitlines() if ln.startswith("twitchmon: sampler ")), None)
    if line is None:
        raise AssertionError(f"no sampler stats (exit {p.returncode}): {out[-800:]} {err[-1500:]}")
    return ast.literal_eval(line[len("twitchmon: sampler "):])


def server(data_dir, env: dict | None = None, log=None) -> tuple[subprocess.Popen, int]:
    """``twitchmon serve`` on 127.0.0.1 and a free port, once it accepts
    (``log``: where its stderr goes, else nowhere; ``env``: added to ours)."""
    port = free_port()
    p = subprocess.Popen([sys.executable, "-m", "firmware_host.cli", "serve", "--data-dir", str(data_dir),
                          "--port", str(port)], stdout=subprocess.DEVNULL,
                         stderr=log if log is not None else subprocess.DEVNULL,
                         env={**os.environ, **(env or {})})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return p, port
        except OSError:
            if p.poll() is not None:
                break
            time.sleep(0.1)
    p.kill()
    raise AssertionError("the page did not come up")


class Load:
    """``viewers`` live streams and ``workers`` request loops, ``requests`` each."""

    def __init__(self, port: int, viewers: int = 4, workers: int = 6, requests: int = 200):
        self.port, self.viewers, self.workers, self.requests = port, viewers, workers, requests
        self.status: dict[int, int] = {}
        self.latencies_ms: list[float] = []
        self.events = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def _viewer(self):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            c.request("GET", "/api/live")
            r = c.getresponse()
            while not self._stop.is_set():
                chunk = r.read1(65536)
                if not chunk:
                    break
                with self._lock:
                    self.events += chunk.count(b"\n\n")
            c.close()
        except OSError as exc:
            self.errors.append(f"viewer: {exc}")

    def _worker(self, k):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        for i in range(self.requests):
            if self._stop.is_set():
                break
            path = PAGES[(k + i) % len(PAGES)]
            t = time.perf_counter()
            try:
                c.request("GET", path)
                r = c.getresponse()
                r.read()
            except OSError as exc:
                self.errors.append(f"{path}: {exc}")
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                continue
            with self._lock:
                self.latencies_ms.append((time.perf_counter() - t) * 1000)
                self.status[r.status] = self.status.get(r.status, 0) + 1
        c.close()

    def start(self):
        self._threads = [threading.Thread(target=self._viewer, daemon=True) for _ in range(self.viewers)]
        self._threads += [threading.Thread(target=self._worker, args=(k,), daemon=True)
                          for k in range(self.workers)]
        for t in self._threads:
            t.start()
        return self

    def wait_workers(self, timeout: float):
        for t in self._threads[self.viewers:]:
            t.join(timeout)

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(15)


def fill(data_dir: Path) -> None:
    fill_nights(str(data_dir), 3, 2.0, log=lambda *_: None)
