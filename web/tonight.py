"""Tonight: is it recording, the night window, each sensor's health, the
counts so far, and the live signal (Server-Sent Events from the daemon's
ring, :mod:`firmware_host.live`) for placing the sensors."""
from __future__ import annotations

import datetime as dt
import json
import threading
import time

import numpy as np
from flask import Blueprint, Response, abort, current_app, g, jsonify, redirect, render_template, request, url_for

from firmware_host import pins
from firmware_host.config import ConfigError, effective_config
from firmware_host.cramps import LEGS
from firmware_host.events import DETECTOR_STEP_S, night_date
from firmware_host.live import LiveError, LiveReader
from firmware_host.store import Store
from firmware_host.window import in_window, window_for

bp = Blueprint("tonight", __name__)

DISPLAY_HZ = 250.0  #: the live view's rate: block means of the raw codes, Hz
TICK_S = 0.1  #: how often a stream looks for new frames, s
STREAM_S = 300.0  #: a stream ends after this and the browser reconnects (frees the thread), s
STALE_S = 3.0  #: a ring not written for this long means the daemon is not sampling, s
COUNTS_S = 5.0  #: how often a stream sends the night's counts so far, s
MAX_STREAMS = 6  #: live viewers at once; more get 503 (each holds a server thread)
OWNER_STREAMS = 2  #: of MAX_STREAMS, kept for the owner: read-only LAN viewers share the rest
VIEWER_STREAMS_PER_ADDRESS = 2  #: live views one read-only viewer's address may hold


class _Slots:
    """Who holds the live views: the owner may take any free one; read-only
    viewers (``lan_read_only``) at most MAX_STREAMS - OWNER_STREAMS, and
    VIEWER_STREAMS_PER_ADDRESS each, so viewers cannot lock the owner out."""

    def __init__(self):
        self._lock = threading.Lock()
        self.total = 0
        self.viewers: dict[str, int] = {}

    def take(self, owner: bool, addr: str) -> str | None:
        """None if a slot was taken, else why not."""
        with self._lock:
            if self.total >= MAX_STREAMS:
                return f"at most {MAX_STREAMS} live views at once"
            if not owner:
                if sum(self.viewers.values()) >= MAX_STREAMS - OWNER_STREAMS:
                    return "the live views open to viewers are all in use"
                if self.viewers.get(addr, 0) >= VIEWER_STREAMS_PER_ADDRESS:
                    return f"at most {VIEWER_STREAMS_PER_ADDRESS} live views per viewer"
                self.viewers[addr] = self.viewers.get(addr, 0) + 1
            self.total += 1
            return None

    def give(self, owner: bool, addr: str) -> None:
        with self._lock:
            self.total -= 1
            if not owner:
                self.viewers[addr] -= 1
                if not self.viewers[addr]:
                    del self.viewers[addr]


_streams = _Slots()


def _store():
    return current_app.get_store()


def open_live(path) -> LiveReader | None:
    """The daemon's live ring at ``path`` (the store's ``live_path``); None if there is none."""
    if not isinstance(path, str) or not path:
        return None
    try:
        return LiveReader(path)
    except LiveError:
        return None


def is_fresh(reader: LiveReader) -> bool:
    """Written within ``STALE_S``: the daemon is sampling into it."""
    return time.time() - reader.state()["updated_unix"] < STALE_S


def _config(store):
    try:
        return effective_config(current_app.config.get("CONFIG_FILE"), store)
    except ConfigError:
        return None


def sensors_now(reader: LiveReader | None, names: list[str]) -> tuple[bool, list[dict]]:
    """(signal flowing?, [{"site", "status"}]) as the daemon last classified
    each sensor (the detector's tests on the last second, written into the
    ring once a second: the page does not import the detector)."""
    if reader is None:
        return False, [{"site": n, "status": "no signal"} for n in names]
    if not is_fresh(reader):
        return False, [{"site": n, "status": "no signal"} for n in names[:reader.channels]]
    status = reader.state()["status"]
    names = (list(names) + pins.site_names(reader.channels)[len(names):])[:reader.channels]
    return True, [{"site": names[i], "status": s} for i, s in enumerate(status)]


def tonight_json() -> dict:
    store = _store()
    now = dt.datetime.now(dt.timezone.utc)
    cfg = _config(store)
    window = None
    if cfg is not None:
        start, end = window_for(now, cfg)
        window = {"start": start.isoformat(timespec="minutes"), "end": end.isoformat(timespec="minutes"),
                  "open": in_window(now, cfg), "sensitivity": cfg.sensitivity}
    rec = next((n for n in store.nights(5) if n["status"] == "recording"), None)
    reader = open_live(store.live_path())
    try:
        channels = reader.channels if reader else len(pins.SITES)
        flowing, sensors = sensors_now(reader, store.site_names(channels))
    finally:
        if reader is not None:
            reader.close()
    night = None
    if rec is not None:
        raw_stopped = store.raw_stopped(rec["id"])
        night = {"id": rec["id"], "date": rec["date"], "start": rec["start_utc"], "total": rec["total"],
                 "per_channel": rec["per_channel"], "channel_names": rec["channel_names"],
                 "duration_s": rec["duration_s"], "rest_s": rec["rest_s"], "movements": rec["movements"],
                 "raw_stopped": raw_stopped, "counted_s": store.counted_s(rec["id"]), "cramps": rec["cramps"]}
    return {"recording": night is not None, "night": night, "window": window, "signal": flowing,
            "sensors": sensors, "demo": bool(current_app.config.get("DEMO"))}


@bp.get("/tonight")
def page():
    # the detector analyses a chunk once the next one has come: its first result is two chunks in
    return render_template("tonight.html", t=tonight_json(), display_hz=DISPLAY_HZ,
                           first_count_s=2 * DETECTOR_STEP_S, step_s=DETECTOR_STEP_S,
                           cramp_logged=request.args.get("cramp") is not None)


@bp.get("/api/tonight")
def api():
    return jsonify(tonight_json())


@bp.post("/tonight/cramp")
def log_cramp():
    """"Log a cramp": now, on the night being recorded (timed on it), else on
    the evening it belongs to (before noon: the night before)."""
    leg = request.form.get("leg", "").strip() or None
    if leg is not None and leg not in LEGS:
        abort(400, description="leg: left, right or both")
    store = _store()
    now = dt.datetime.now(dt.timezone.utc)
    rec = next((n for n in store.nights(5) if n["status"] == "recording"), None)
    t = None
    if rec is not None:
        t = round((now - dt.datetime.fromisoformat(rec["start_utc"])).total_seconds(), 3)
        if t < 0:  # the night was dated from a clock set later: no honest time on it
            t = None
    cid = store.add_cramp(date=rec["date"] if rec else night_date(now), source="page",
                          night_id=rec["id"] if rec else None, t=t,
                          at_utc=now.isoformat(timespec="seconds"), leg=leg)
    if request.headers.get("Accept", "").startswith("application/json"):
        return jsonify({"id": cid, "night": rec["id"] if rec else None, "t": t, "leg": leg})
    return redirect(url_for("tonight.page", cramp=cid) + "#cramp")


def _decimate(frames: np.ndarray, carry: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Means of k raw frames (a crude low-pass for the display); leftovers carried."""
    x = np.vstack([carry, frames]) if len(carry) else frames
    whole = len(x) // k * k
    out = x[:whole].reshape(-1, k, x.shape[1]).mean(axis=1) if whole else np.empty((0, x.shape[1]))
    return out, x[whole:]


class _LiveStream:
    """One viewer's live stream from the daemon's ring: the new frames as
    display-rate means each tick, the sensors' state each second and the
    night's counts every ``COUNTS_S`` (with a store connection of its own:
    the request's is gone once the response streams)."""

    def __init__(self, ring_path, db_path: str, stopping: threading.Event | None = None):
        self.ring_path, self.db_path = ring_path, db_path
        self.stopping = stopping or threading.Event()  #: the server is stopping: end at the next tick
        self.reader: LiveReader | None = None
        self.carry, self.k, self.reader_end = np.empty((0, 0)), 1, 0
        self.status_at = self.counts_at = 0.0
        self.store: Store | None = None

    def events(self):
        deadline = time.monotonic() + STREAM_S
        try:
            yield "retry: 1000\n\n"
            while time.monotonic() < deadline and not self.stopping.is_set():
                if self.reader is not None and not is_fresh(self.reader):
                    self._drop_reader()  # the daemon may have stopped, or restarted with a new ring
                if self.reader is None and not self._open():
                    yield f"event: nosignal\ndata: {json.dumps({'signal': False})}\n\n"
                    self.stopping.wait(1.0)
                    continue
                first, frames = self.reader.read()
                if len(frames):
                    yield f"data: {json.dumps(self._message(first, frames), separators=(',', ':'))}\n\n"
                self.stopping.wait(TICK_S)
        finally:
            self._drop_reader()
            if self.store is not None:
                self.store.close()

    def _drop_reader(self) -> None:
        if self.reader is not None:
            self.reader.close()
            self.reader = None

    def _open(self) -> bool:
        """Map the ring if it is there and being written; start 5 s back."""
        self.reader = open_live(self.ring_path)
        if self.reader is None or not is_fresh(self.reader):
            self._drop_reader()
            return False
        r = self.reader
        self.k = max(1, int(round(r.rate_hz / DISPLAY_HZ)))
        r.seen = max(0, r.state()["count"] - int(r.rate_hz * 5))
        self.carry = np.empty((0, r.channels))
        return True

    def _message(self, first: int, frames: np.ndarray) -> dict:
        r = self.reader
        if len(self.carry) and first != self.reader_end:  # frames lost: start clean
            self.carry = np.empty((0, r.channels))
        self.reader_end = first + len(frames)
        t0 = (first - len(self.carry)) / r.rate_hz
        y, self.carry = _decimate(frames.astype(np.float64), self.carry, self.k)
        msg = {"t0": round(t0, 4), "hz": r.rate_hz / self.k, "y": [[round(v, 1) for v in col] for col in y.T.tolist()]}
        now = time.monotonic()
        if now - self.status_at >= 1.0:
            self.status_at = now
            msg["status"] = r.state()["status"]
        night_id = r.state()["night_id"]
        if night_id is not None and now - self.counts_at >= COUNTS_S:
            self.counts_at = now
            msg["night"] = self._counts(night_id)
        return msg

    def _counts(self, night_id: int) -> dict | None:
        """The night's counts so far."""
        if self.store is None:
            self.store = Store(self.db_path)
        n = self.store.night(night_id)
        return None if n is None else {"id": n["id"], "total": n["total"], "per_channel": n["per_channel"],
                                       "movements": n["movements"], "rest_s": n["rest_s"],
                                       "counted_s": self.store.counted_s(night_id)}


@bp.get("/api/live")
def live():
    """Server-Sent Events: every ``TICK_S`` the new frames as display-rate
    means, ``{"t0": s, "hz": Hz, "y": [[codes per channel]...]}``, with
    ``"status"`` (each sensor) every second and, while a night is recorded,
    ``"night"`` (its counts and rest so far, and ``counted_s``: how much of
    it the detector has analysed, null before its first step) every ``COUNTS_S``."""
    store = _store()
    path, db_path = store.live_path(), store.path
    owner, addr = bool(g.get("owner")), request.remote_addr or "?"
    refused = _streams.take(owner, addr)  # last before the response, which gives it back on close
    if refused:
        return jsonify({"error": refused}), 503
    released = threading.Event()

    def release():  # on close, also for a stream never started (client gone before the first byte)
        if not released.is_set():
            released.set()
            _streams.give(owner, addr)

    resp = Response(_LiveStream(path, db_path, current_app.extensions.get("twitchmon.stopping")).events(),
                    mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    resp.call_on_close(release)
    return resp
