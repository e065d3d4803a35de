"""The daemon's MQTT side: one thread that connects, publishes the bed's
state, tonight's counts and each night's summary, and obeys the recording
switch when the owner allows it (see :mod:`.mqtt` for the topics)."""
from __future__ import annotations

import json
import os
import stat
import threading
import time
from collections.abc import Callable

from . import pins
from .mqtt import (
    BACKOFF_S,
    CONNACK_TIMEOUT_S,
    DISCOVERY_PREFIX,
    KEEPALIVE_S,
    OPTIONAL,
    PERIOD_S,
    MqttConfig,
    MqttError,
    _now_iso,
    discovery,
    summary_payload,
)
from .mqtt_client import _refused, describe, make_client
from .log import get_logger
from .store import Store

_log = get_logger(__name__)


class Publisher:
    """The daemon's MQTT side.  ``offer``, ``night_ended`` and
    ``reconfigure`` return at once (they only set fields and wake the
    thread); ``close`` waits at most ``flush_s`` for the last summary."""

    def __init__(self, settings: MqttConfig | None, store_path: str | os.PathLike, *, channels: int = pins.N_CHANNELS,
                 on_recording: Callable[[bool], None] | None = None, log: Callable[[str], None] | None = None):
        self.store_path = str(store_path)
        self.channels = channels
        self.on_recording = on_recording or (lambda on: None)
        #: how the publisher speaks: a warning each (its news is trouble), the broker's "connected" as news
        self.log = log or (lambda msg: _log.warning(msg.removeprefix("twitchmon: ")))
        self._news = log or (lambda msg: _log.info(msg.removeprefix("twitchmon: ")))
        self._want = settings  # what the daemon asked for; the thread applies it
        self._snapshot = (False, None, None)  # recording, night id, sensor status: the one-slot queue
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._flush_until = 0.0
        self._thread: threading.Thread | None = None

    # -- the daemon's side (main thread) -------------------------------------
    def start(self) -> "Publisher":
        self._thread = threading.Thread(target=self._run, name="mqtt", daemon=True)
        self._thread.start()
        return self

    def offer(self, rec) -> None:
        """The recorder's state (``rec``: a NightRecorder or None); cheap
        enough to call for every block."""
        snap = (False, None, None) if rec is None else (True, rec.night_id, tuple(rec.det.status))
        if snap != self._snapshot:
            self._snapshot = snap
            self._wake.set()

    def night_ended(self) -> None:
        self._wake.set()

    def reconfigure(self, settings: MqttConfig | None) -> None:
        self._want = settings
        self._wake.set()

    def close(self, flush_s: float = 5.0) -> None:
        """Publish what is unpublished (for up to ``flush_s``), say offline, stop."""
        self._flush_until = time.monotonic() + flush_s
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(flush_s + 3.0)

    # -- the publisher thread ---------------------------------------------------
    def _run(self) -> None:
        self.store = Store(self.store_path)
        self.m: MqttConfig | None = None
        self.client = None
        said = None
        try:
            while True:
                try:
                    if self._want != self.m:
                        self._switch(self._want)
                    if self._stop.is_set():
                        self._finish()
                        return
                    if self.client is None:
                        self._wake.wait(1.0)
                        self._wake.clear()
                        continue
                    self._step()
                except Exception as exc:  # noqa: BLE001 - a busy store, a bug: never the daemon's problem
                    msg = f"{type(exc).__name__}: {exc}"
                    if msg != said:
                        said = msg
                        self.log(f"twitchmon: MQTT publisher: {msg}; retrying in 5 s, recording goes on")
                    if self._stop.wait(5.0):
                        return
        finally:
            self.store.close()

    def _switch(self, m: MqttConfig | None) -> None:
        """Leave the old broker cleanly (offline), start on the new settings."""
        if self.client is not None:
            self._goodbye()
        self.m, self.client = m, None
        if m is None:
            self.store.set_setting("mqtt_status", None)
            return
        self.client_id = f"twitchmon-{m.device_id}"
        self.sock_up = self.connected = self.refused = False
        self.next_try = 0.0
        self.delay = BACKOFF_S[0]
        self.problem: str | None = None
        self.inflight: dict[int, int] = {}  # message id -> night id, until the broker's PUBACK
        self.commands: list[bytes] = []
        self.last_state = None
        self.next_periodic = 0.0
        self.extras: list[str] = []
        try:
            self.client = make_client(m, self.client_id)
        except MqttError as exc:
            self._problem(str(exc))
            self.client = None
            return
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        if m.password_file:
            try:
                mode = os.stat(m.password_file).st_mode
                if mode & (stat.S_IRWXG | stat.S_IRWXO):
                    self.log(f"twitchmon: MQTT password_file {m.password_file} is readable by others: "
                             "chmod 600 it (readable only by the service)")
            except OSError:
                pass
        if self.store.get_setting("mqtt_from_night") is None:
            # first time on: the backlog is the last ended night, not years of them
            ended = [n["id"] for n in self.store.nights(1000) if n["status"] != "recording"]
            self.store.set_setting("mqtt_from_night", max(ended) if ended else 0)

    def _problem(self, msg: str) -> None:
        """One line in the journal and on the page per new problem."""
        if msg == self.problem:
            return
        self.problem = msg
        where = self.m.where if self.m else "?"
        self.log(f"twitchmon: MQTT broker {where}: {msg}; recording goes on, summaries wait in the store")
        self.store.set_setting("mqtt_status", {"ok": False, "broker": where, "error": msg,
                                               "t": _now_iso()})

    def _step(self) -> None:
        c, now = self.client, time.monotonic()
        if not self.sock_up:
            if now < self.next_try:
                self._wake.wait(min(0.5, self.next_try - now))
                self._wake.clear()
                return
            try:  # connect() closes a socket left over and keeps unacknowledged QoS 1 messages to resend
                c.connect(self.m.host, self.m.broker_port, keepalive=KEEPALIVE_S)
                self.sock_up, self.sock_since, self.refused = True, time.monotonic(), False
            except (OSError, ValueError) as exc:
                self._problem(describe(exc))
                self._backoff()
                return
        was_connected = self.connected  # on_disconnect, inside loop(), clears it
        if c.loop(timeout=0.2) != 0:  # lost, refused or closed: paho closed the socket
            if was_connected:
                self._problem("the connection was lost; reconnecting")
            elif not self.refused:
                self._problem("the broker closed the connection before answering the login "
                              "(a TLS port without tls_ca, or not an MQTT broker?)")
            self._lost()
        elif not self.connected and time.monotonic() - self.sock_since > CONNACK_TIMEOUT_S:
            self._problem(f"the broker took the connection but did not answer the login within "
                          f"{CONNACK_TIMEOUT_S:g} s")
            self._lost()
        elif self.connected:
            self._work()

    def _backoff(self) -> None:
        self.next_try = time.monotonic() + self.delay
        self.delay = min(self.delay * 2, BACKOFF_S[1])

    def _lost(self) -> None:
        self.sock_up = self.connected = False
        self._backoff()

    # paho callbacks: called from c.loop() in this same thread
    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        if reason.is_failure:
            self.refused = True
            self._problem(_refused(reason))
            return
        self.connected = True
        self.delay = BACKOFF_S[0]
        if self.problem is not None:
            self._news(f"twitchmon: MQTT broker {self.m.where}: connected")
        self.problem = None
        self.store.set_setting("mqtt_status", {"ok": True, "broker": self.m.where, "t": _now_iso()})
        client.publish(self.m.topic("availability"), "online", qos=1, retain=True)
        subs = [(f"{DISCOVERY_PREFIX}/status", 1)]
        if self.m.remote_control:
            subs.append((self.m.topic("recording/set"), 1))
        client.subscribe(subs)
        self._publish_discovery()
        self.last_state = None
        self.next_periodic = 0.0
        self._flush()

    def _on_disconnect(self, client, userdata, flags, reason, properties) -> None:
        self.connected = False

    def _on_publish(self, client, userdata, mid, reason, properties) -> None:
        night_id = self.inflight.pop(mid, None)
        if night_id is not None:
            self.store.mark_published(night_id, self.m.topic("summary"), _now_iso())

    def _on_message(self, client, userdata, msg) -> None:
        if msg.topic == f"{DISCOVERY_PREFIX}/status":
            if msg.payload == b"online":  # Home Assistant restarted: tell it again
                self._publish_discovery()
                self.last_state = None
            return
        self.commands.append(msg.payload)

    # -- what gets published ------------------------------------------------------
    def _sites(self, night_id) -> list[str]:
        n = self.store.night(night_id) if night_id else None
        if n and n["channel_names"]:
            return list(n["channel_names"])
        return self.store.site_names(self.channels)

    def _publish_discovery(self) -> None:
        latest = self._latest_ended()
        self.extras = [k for k in OPTIONAL if latest and latest.get(k) is not None]
        for topic, payload in discovery(self.m, self._sites(self._snapshot[1]), self.extras):
            self.client.publish(topic, payload, qos=1, retain=True)

    def _latest_ended(self) -> dict | None:
        for n in self.store.nights(5):
            if n["status"] != "recording":
                return n
        return None

    def _work(self) -> None:
        for payload in self.commands:
            self._command(payload)
        self.commands.clear()
        recording, night_id, status = self._snapshot
        now = time.monotonic()
        periodic = now >= self.next_periodic
        if periodic or (recording, night_id, status) != self.last_state:
            sites = self._sites(night_id)
            sensors = list(status) if status else [None] * len(sites)
            self.client.publish(self.m.topic("state"), json.dumps(
                {"recording": recording, "night_id": night_id, "sites": sites, "sensors": sensors}),
                qos=1, retain=True)
            self.last_state = (recording, night_id, status)
        if periodic:
            self.next_periodic = now + PERIOD_S
            self._publish_tonight(night_id if recording else None)
            self._flush()
        elif self._wake.is_set():
            self._wake.clear()
            self._flush()

    def _publish_tonight(self, night_id) -> None:
        n = self.store.night(night_id) if night_id else None
        sites = self._sites(night_id)
        body = {"night_id": night_id, "date": n["date"] if n else None, "sites": sites,
                "total": n["total"] if n else None,
                "per_channel": list(n["per_channel"]) if n else [None] * len(sites),
                "rest_s": round(n["rest_s"], 1) if n else None, "duration_s": round(n["duration_s"], 1) if n else None}
        self.client.publish(self.m.topic("tonight"), json.dumps(body), qos=0, retain=False)

    def _command(self, payload: bytes) -> None:
        want = payload.strip().upper()
        if want not in (b"ON", b"OFF"):
            return
        if not bool(self.store.get_setting("mqtt_remote_control", False)):
            self.log("twitchmon: MQTT: ignored a start/stop from the broker: remote control is off on Settings")
            return
        self.log(f"twitchmon: MQTT: recording {'started' if want == b'ON' else 'stopped'} from the broker")
        self.on_recording(want == b"ON")

    def _flush(self) -> None:
        """Publish the ended nights the broker has not acknowledged, oldest first."""
        waiting = set(self.inflight.values())
        start = int(self.store.get_setting("mqtt_from_night", 0) or 0)
        for night in self.store.unpublished_nights(start):
            if night["id"] in waiting:
                continue  # paho resends it itself after a reconnect
            info = self.client.publish(self.m.topic("summary"), json.dumps(summary_payload(night, self.m.device_id)),
                                       qos=1, retain=True)
            self.inflight[info.mid] = night["id"]
            if any(night.get(k) is not None and k not in self.extras for k in OPTIONAL):
                self._publish_discovery()  # the first night with a PLM index or cramps: their sensors

    def _goodbye(self) -> None:
        """Last summaries (until the flush deadline), offline, disconnect."""
        c = self.client
        if self.connected:
            self._flush()
            while self.inflight and self.connected and time.monotonic() < self._flush_until:
                if c.loop(timeout=0.1) != 0:
                    break
            if self.connected:
                c.publish(self.m.topic("availability"), "offline", qos=1, retain=True)
                c.disconnect()
                t_end = time.monotonic() + 1.0
                while time.monotonic() < t_end and c.loop(timeout=0.1) == 0:
                    pass

    def _finish(self) -> None:
        if self.client is not None:
            # the daemon closed the last night just before: give its summary a chance to go out now
            while not self.connected and time.monotonic() < self._flush_until - 1.0:
                self._step()
            self._goodbye()
