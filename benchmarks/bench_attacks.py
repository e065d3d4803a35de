"""The page and the sampler while a LAN visitor attacks the page.

    python benchmarks/bench_attacks.py [SECONDS]      (default 20)

For each attack, a fresh `twitchmon serve` on 127.0.0.1 and a fresh
`twitchmon run --source emulator --always` (4 x 1 kHz through the bit-level
MCP3008 emulator) share one data dir; the attack runs for SECONDS while the
owner asks for /api/nights once a second from 127.0.0.1.  Prints, per
attack: the page's peak RSS (VmHWM) and its RSS afterwards, the owner's
requests answered and the slowest, and the sampler's late fraction, worst
lateness and dropped blocks.  Everything is sent to 127.0.0.1 only (the
attackers' sources are other loopback addresses), bounded in bytes,
sockets and seconds.  Run with PYTHONPATH pointing at an older checkout to
measure that code under the same attacks (its page and daemon are started
from it).

Attacks:
  big-body     2 clients, each over and over: POST /login declaring 300 MB of
               form and sending as much of it as the page takes
  slowloris-1  300 half-sent requests from one address, a header line a second
  slowloris-20 24 half-sent requests from each of 20 addresses (480)
  login-1      40 wrong passwords at once from one address (not the owner's), every 5 s
  login-40     40 wrong passwords at once from 40 addresses, every 5 s
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from twitchmon_testkit import attacklib, loadlib
from werkzeug.security import generate_password_hash

from firmware_host.store import open_store

MB = 2 ** 20


def big_body(port, stop):
    got: dict = {}

    def client():
        while not stop.is_set():
            r = attacklib.big_body(port, 300 * MB, 300 * MB, timeout_s=30)
            got[r["status"]] = got.get(r["status"], 0) + 1

    ts = [threading.Thread(target=client, daemon=True) for _ in range(2)]
    for t in ts:
        t.start()
    stop.wait()
    for t in ts:
        t.join(60)
    return f"bodies sent {sum(got.values())}, answers {got}"


def slowloris(addresses, per_address):
    def run(port, stop):
        attacks = [attacklib.Slowloris(port, per_address, source=f"127.0.0.{2 + i}", interval_s=1.0).start()
                   for i in range(addresses)]
        stop.wait()
        refused = sum(a.refused for a in attacks)
        for a in attacks:
            a.stop()
        return f"{addresses * per_address} half-sent requests kept up; the page refused or closed {refused}"
    return run


def logins(addresses):
    def run(port, stop):
        total: dict[int, int] = {}
        sources = [f"127.0.0.{2 + i}" for i in range(addresses)]  # the owner is 127.0.0.1
        while not stop.is_set():
            for k, v in attacklib.login_storm(port, 40, sources=sources).items():
                total[k] = total.get(k, 0) + v
            stop.wait(5.0)
        return f"answers {dict(sorted(total.items()))} (401: checked and wrong)"
    return run


ATTACKS = {"none": None, "big-body": big_body, "slowloris-1": slowloris(1, 300),
           "slowloris-20": slowloris(20, 24), "login-1": logins(1), "login-40": logins(40)}


def owner_probe(port, stop, out):
    while not stop.is_set():
        status, secs = attacklib.timed_get(port, timeout_s=20.0)
        out.append((status, secs))
        stop.wait(1.0)


def run(name, attack, seconds):
    d = Path(tempfile.mkdtemp(prefix="twitchmon-attack-"))
    loadlib.fill(d)
    st = open_store(d)
    st.set_setting("password_hash", generate_password_hash("correct horse"))
    st.close()
    page, port = attacklib.start_page(d)
    p = loadlib.daemon(d)
    try:
        loadlib.wait_recording(p, d)
        stop, probes, note = threading.Event(), [], [""]
        prober = threading.Thread(target=owner_probe, args=(port, stop, probes), daemon=True)
        prober.start()
        if attack:
            t = threading.Thread(target=lambda: note.__setitem__(0, attack(port, stop)), daemon=True)
            t.start()
        time.sleep(seconds)
        peak = attacklib.peak_rss_mb(page.pid)
        stop.set()
        if attack:
            t.join(120)
        prober.join(30)
        time.sleep(2.0)
        after = attacklib.rss_mb(page.pid)
        st = loadlib.stop_daemon(p)
    finally:
        if p.poll() is None:
            p.kill()
        attacklib.stop_page(page)
        shutil.rmtree(d, ignore_errors=True)
    ok = [s for s, _ in probes if s == 200]
    worst = max((secs for _, secs in probes), default=0.0)
    print(f"{name:13s} page peak RSS {peak:6.0f} MB, {after:4.0f} MB after; owner's requests {len(ok)}/{len(probes)} "
          f"answered 200, slowest {worst:5.2f} s; sampler late (> 0.5 ms) fraction {st['late_fraction']:.5f}, "
          f"worst {st['worst_late_ms']:.2f} ms, dropped blocks {st['dropped_blocks']}", flush=True)
    if note[0]:
        print(f"{'':13s} {note[0]}", flush=True)


if __name__ == "__main__":
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    names = sys.argv[2:] or list(ATTACKS)
    print(f"code under test: {os.environ.get('PYTHONPATH') or 'this checkout'}; {secs:g} s per attack", flush=True)
    for n in names:
        run(n, ATTACKS[n], secs)
