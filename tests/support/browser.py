"""Helpers for the real-browser tests and the screenshot script: a page
served by waitress on 127.0.0.1 (in a thread) over a filled data dir, a
live ring fed like the daemon feeds it, and Debian's chromium driven by
Playwright (never ``playwright install``)."""
from __future__ import annotations

import os
import shutil
import threading
import time
from contextlib import contextmanager
from urllib.parse import urlsplit

from waitress.server import create_server

from firmware_host.demo import live_feed as feed
from web.server import stop
from firmware_host.store import open_store

CHROMIUM = os.environ.get("TWITCHMON_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-default-apps", "--disable-sync", "--no-first-run", "--disable-domain-reliability",
        "--metrics-recording-only"]


def chromium_available() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright  # noqa: F401, PLC0415 - only: is it installed?
    except ImportError:
        return "playwright is not installed (no wheel for this machine)"
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} not found (apt install chromium)"
    return None


@contextmanager
def served(app):
    """Serve ``app`` with waitress on 127.0.0.1:<free port>; yields the base URL."""
    server = create_server(app, host="127.0.0.1", port=0, threads=12, ident="twitchmon-test")
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stop(server, app)  # streams ended and workers done before the trigger closes (see web.server.stop)
        t.join(10)


@contextmanager
def live_feed(data_dir: str, seconds_per_block: float = 0.05):
    """Write a simulated night into a live ring at real time, as the daemon does."""
    stop = threading.Event()
    t = threading.Thread(target=feed, args=(data_dir, stop), kwargs={"block_s": seconds_per_block}, daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the ring exists and is registered
        st = open_store(data_dir)
        ok = st.get_setting("live_path")
        st.close()
        if ok:
            break
        time.sleep(0.05)
    try:
        yield
    finally:
        stop.set()
        t.join(5)


@contextmanager
def browser():
    from playwright.sync_api import sync_playwright  # noqa: PLC0415
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield b
        finally:
            b.close()


class Watch:
    """Console errors, page errors and every request's host, for one page."""

    def __init__(self, page):
        self.errors: list[str] = []
        self.hosts: set[str] = set()
        page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("request", self._request)

    def _request(self, req):
        u = urlsplit(req.url)
        if u.scheme in ("http", "https", "ws", "wss"):
            self.hosts.add(u.hostname or "")


def wait_until(page, expression: str, timeout_s: float = 15.0) -> None:
    """Poll a JS expression with page.evaluate (the page's CSP forbids the
    eval Playwright's wait_for_function uses for string predicates)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if page.evaluate(expression):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"never true: {expression}")


# The smallest text a page shows, as rendered: CSS font size times the SVG's scale (3 smallest, with their text)
SMALLEST_TEXT = """() => { const out = []; const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = w.nextNode(); n; n = w.nextNode()) {
    const el = n.parentElement; if (!n.textContent.trim() || !el || el.closest('title')) continue;
    if (!el.getClientRects().length) continue;  // not shown (closed details, display: none)
    const svg = el.closest('svg'), m = svg ? svg.getScreenCTM() : null;
    out.push([parseFloat(getComputedStyle(el).fontSize) * (m ? m.a : 1), n.textContent.trim().slice(0, 30)]); }
  out.sort((a, b) => a[0] - b[0]); return out.slice(0, 3); }"""
