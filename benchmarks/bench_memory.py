"""Proportional set size (PSS, /proc/PID/smaps_rollup) of the daemon, its
sampler and the page, after a simulated hour with a live viewer open.

    python benchmarks/bench_memory.py [--hours 1] [--speed 10]

Starts ``twitchmon run --source sim --always`` with the simulated night
played ``--speed`` times faster than real time (``TWITCHMON_SIM_SPEED``;
the sampler keeps absolute deadlines at the faster rate) and ``twitchmon
serve`` on 127.0.0.1, keeps one client on the live stream (``/api/live``)
and a page load every few seconds, and prints PSS, RSS and anonymous PSS of
each process soon after the start and once the recording holds ``--hours``
of signal (the daemon opens a new EDF+ file each hour of signal).
PSS shares each shared page among the processes that map it, so the three
add up to what the appliance costs the board.
"""
from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def rollup(pid: int) -> dict:
    t = Path(f"/proc/{pid}/smaps_rollup").read_text()
    return {k: int(re.search(rf"^{k}:\s+(\d+)", t, re.M).group(1)) / 1024 for k in ("Rss", "Pss", "Pss_Anon")}


def once_among(pids) -> float:
    """MB the processes cost together with each shared file page counted once
    among them and not split with processes outside (other Pythons on this
    machine share libpython and libc, which lowers their PSS): private pages
    of each, plus, per mapped file, the most any one of them has resident
    shared.  On a board running only these three it is an upper bound."""
    private, shared = 0, {}
    for pid in pids:
        name = None
        for ln in Path(f"/proc/{pid}/smaps").read_text().splitlines():
            head = ln.split()
            if not head:
                continue
            if not head[0].endswith(":") or len(head) > 3:  # a mapping's header line
                name = head[5] if len(head) > 5 else f"[anon {pid} {head[0]}]"
            elif head[0] in ("Private_Clean:", "Private_Dirty:"):
                private += int(head[1])
            elif head[0] in ("Shared_Clean:", "Shared_Dirty:"):
                key = (name, head[0])
                shared[key] = max(shared.get(key, 0), int(head[1]))
    return (private + sum(shared.values())) / 1024


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def unit_env() -> dict:
    """Environment= settings of the daemon's systemd unit, applied as on the Pi."""
    unit = Path(__file__).resolve().parent.parent / "systemd" / "twitchmon.service"
    return dict(ln.split("=", 2)[1:] for ln in unit.read_text().splitlines() if ln.startswith("Environment="))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def viewer(port: int, stop: threading.Event, got: list) -> None:
    while not stop.is_set():
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/api/live")
            r = c.getresponse()
            while not stop.is_set():
                chunk = r.read1(65536)
                if not chunk:
                    break
                got[0] += len(chunk)
        except OSError:
            time.sleep(0.5)


def pages(port: int, stop: threading.Event, got: list) -> None:
    while not stop.wait(3.0):
        for path in ("/tonight", "/", "/api/tonight"):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                c.request("GET", path)
                c.getresponse().read()
                got[1] += 1
            except OSError:
                pass


def show(label: str, procs: dict) -> None:
    figs = {name: rollup(pid) for name, pid in procs.items()}
    total = sum(f["Pss"] for f in figs.values())
    print(f"{label}: " + "; ".join(f"{n} PSS {f['Pss']:.1f} MB (RSS {f['Rss']:.1f}, anon {f['Pss_Anon']:.1f})"
                                   for n, f in figs.items()) + f"; together PSS {total:.1f} MB, "
          f"{once_among(procs.values()):.1f} MB with shared pages counted once among the three", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--speed", type=float, default=10.0)
    a = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="twitchmon-mem-"))
    env = dict(os.environ, **unit_env(), TWITCHMON_SIM_SPEED=str(a.speed))
    print(f"environment from the systemd units: {unit_env()}")
    daemon = subprocess.Popen([sys.executable, "-m", "firmware_host.cli", "run", "--source", "sim", "--always",
                               "--data-dir", str(d)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    port = free_port()
    page = subprocess.Popen([sys.executable, "-m", "firmware_host.cli", "serve", "--data-dir", str(d), "--port",
                             str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stop = threading.Event()
    got = [0, 0]
    try:
        while not list(d.glob("recordings/*/*.edf")):
            if daemon.poll() is not None:
                raise SystemExit(f"daemon exited: {daemon.stderr.read()[-2000:]}")
            time.sleep(0.2)
        threading.Thread(target=viewer, args=(port, stop, got), daemon=True).start()
        threading.Thread(target=pages, args=(port, stop, got), daemon=True).start()
        sampler = children(daemon.pid)[0]
        procs = {"daemon": daemon.pid, "sampler": sampler, "page": page.pid}
        time.sleep(30)
        show(f"after 30 s ({30 * a.speed / 60:.0f} simulated min)", procs)
        t0 = time.monotonic()
        files_needed = int(a.hours) + 1  # a file per hour of signal: the (h+1)-th opens at h hours
        every = 900 / a.speed  # a line per 15 simulated minutes: is anything growing?
        next_show = time.monotonic() + every
        while len(list(d.glob("recordings/*/*.edf"))) < files_needed:
            if daemon.poll() is not None:
                raise SystemExit(f"daemon exited: {daemon.stderr.read()[-2000:]}")
            time.sleep(1.0)
            if time.monotonic() >= next_show:
                show(f"  {(time.monotonic() - t0 + 30) * a.speed / 60:.0f} simulated min", procs)
                next_show += every
        time.sleep(5)
        show(f"after {a.hours:g} simulated h ({(time.monotonic() - t0 + 30) / 60:.1f} min at {a.speed:g}x), "
             f"live stream {got[0] / 1e6:.1f} MB read, {got[1]} page loads", procs)
    finally:
        stop.set()
        page.terminate()
        daemon.send_signal(signal.SIGTERM)
        try:
            out, err = daemon.communicate(timeout=60)
            print(next((ln for ln in out.splitlines() if ln.startswith("twitchmon: sampler ")), err[-500:]))
        except subprocess.TimeoutExpired:
            daemon.kill()
        page.wait()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
