"""Attacks a LAN visitor can make on the page, each bounded in bytes, sockets
and seconds and sent only to 127.0.0.1: shared by tests/test_web_attacks.py
(short, asserts the page holds) and benchmarks/bench_attacks.py (prints the
page's peak RSS and the sampler's timing during them)."""
from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from . import loadlib

SECOND_LOOPBACK = "127.0.0.2"  #: an attacker's source address that is not the owner's 127.0.0.1


def second_loopback_works() -> bool:
    try:
        with socket.socket() as s:
            s.bind((SECOND_LOOPBACK, 0))
        return True
    except OSError:
        return False


#: ``twitchmon serve`` on 127.0.0.1 and a free port, once it accepts
start_page = loadlib.server


def stop_page(p: subprocess.Popen) -> None:
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), MB."""
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", text).group(1)) / 1024


def rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", text).group(1)) / 1024


def open_files_under(pid: int, directory) -> list[str]:
    """Paths of the files ``pid`` holds open under ``directory`` (deleted temp files included)."""
    d = str(Path(directory).resolve())
    out = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(d + "/"):
            out.append(target)
    return out


def status_of(sock: socket.socket) -> int | None:
    """The status code of the first response line on ``sock``; None if it closed silently."""
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return int(m.group(1)) if m else None


def big_body(port: int, declared_bytes: int, send_bytes: int, path: str = "/login",
             chunk: int = 64 * 1024, timeout_s: float = 10.0, hold_s: float = 0.0) -> dict:
    """POST ``path`` declaring ``declared_bytes`` of urlencoded form and send
    up to ``send_bytes`` of it (less if the server answers or closes first);
    then hold the connection ``hold_s`` before reading the answer.
    {"status": code or None, "sent": bytes sent before the server stopped us}."""
    s = socket.create_connection(("127.0.0.1", port), timeout_s)
    s.sendall((f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               "Content-Type: application/x-www-form-urlencoded\r\n"
               f"Content-Length: {declared_bytes}\r\n\r\n").encode())
    sent = 0
    block = b"csrf_token=" + b"a" * (chunk - 11)
    try:
        while sent < send_bytes:
            n = min(chunk, send_bytes - sent)
            s.sendall(block[:n])
            sent += n
            block = b"a" * chunk
        if hold_s:
            time.sleep(hold_s)
        s.settimeout(timeout_s)
        code = status_of(s)
    except OSError:  # the server closed on us mid-body: it stopped reading
        code = None
        try:
            s.settimeout(1.0)
            code = status_of(s)
        except OSError:
            pass
    finally:
        s.close()
    return {"status": code, "sent": sent}


class Slowloris:
    """``n`` sockets from ``source`` each sending one more header line every
    ``interval_s`` and never finishing the request (the 2009 slowloris)."""

    def __init__(self, port: int, n: int, source: str = SECOND_LOOPBACK, interval_s: float = 1.0):
        self.port, self.n, self.source, self.interval_s = port, n, source, interval_s
        self.socks: list[socket.socket] = []
        self.refused = 0  # connections the server closed or never accepted
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drip, daemon=True)

    def _connect(self) -> socket.socket | None:
        s = socket.socket()
        s.settimeout(2.0)
        try:
            s.bind((self.source, 0))
            s.connect(("127.0.0.1", self.port))
            s.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n".encode())
            return s
        except OSError:
            s.close()
            self.refused += 1
            return None

    def start(self) -> "Slowloris":
        for _ in range(self.n):
            s = self._connect()
            if s is not None:
                self.socks.append(s)
        self._thread.start()
        return self

    def _drip(self):
        k = 0
        while not self._stop.wait(self.interval_s):
            alive = []
            for s in self.socks:
                try:
                    s.sendall(f"X-a{k}: b\r\n".encode())
                    alive.append(s)
                except OSError:
                    s.close()
                    self.refused += 1
            k += 1
            # as the real tool does: reopen what the server closed
            while len(alive) < self.n and not self._stop.is_set():
                s = self._connect()
                if s is None:
                    break
                alive.append(s)
            self.socks = alive

    def stop(self):
        self._stop.set()
        self._thread.join(10)
        for s in self.socks:
            s.close()


def timed_get(port: int, path: str = "/api/nights", timeout_s: float = 10.0,
              headers: dict | None = None) -> tuple[int | None, float]:
    """(status or None on timeout/error, seconds) of one GET from 127.0.0.1."""
    t = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        r.read()
        return r.status, time.monotonic() - t
    except OSError:
        return None, time.monotonic() - t
    finally:
        c.close()


def login_storm(port: int, n: int = 40, password: str = "wrong password",
                sources: list[str] | None = None) -> dict[int, int]:
    """``n`` clients (from 127.0.0.1, or each from its own of ``sources``)
    each fetch the login form, then all post a wrong password at once.
    {status: how many}."""
    forms = []
    codes: dict[int, int] = {}
    for i in range(n):
        src = (sources[i % len(sources)], 0) if sources else None
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120, source_address=src)
        try:
            c.request("GET", "/login")
            r = c.getresponse()
            html = r.read().decode()
        except OSError:
            codes[0] = codes.get(0, 0) + 1
            continue
        m = re.search(r'name="csrf_token" value="([^"]+)"', html)
        if r.status != 200 or not m:  # e.g. 503: too many connections from this address
            codes[r.status] = codes.get(r.status, 0) + 1
            c.close()
            continue
        forms.append((c, r.getheader("Set-Cookie", "").split(";")[0], m.group(1)))
    lock = threading.Lock()
    go = threading.Barrier(len(forms))

    def post(c, cookie, tok):
        body = urlencode({"csrf_token": tok, "password": password})
        go.wait()
        try:
            c.request("POST", "/login", body=body, headers={
                "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
            r = c.getresponse()
            r.read()
            code = r.status
        except OSError:
            code = 0
        with lock:
            codes[code] = codes.get(code, 0) + 1
        c.close()

    threads = [threading.Thread(target=post, args=f) for f in forms]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    return codes
