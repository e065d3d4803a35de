"""Publishing a bed to an MQTT broker: Home Assistant and many beds.

Off until the owner names a broker (``[mqtt]`` in the settings file, or the
Settings page); then health data leaves the Pi only to that broker.  paho-mqtt
is the client (MQTT 3.1.1, its 2.x callback API).

One thread of its own does all of it: connects (with back-off), runs paho's
network loop, reads the store and publishes.  The daemon's main loop only
hands it the latest recording state (a one-slot queue: a newer state replaces
an unsent older one) and wakes it at a night's end, so a slow, absent or
silent broker can never slow the sampler or the detector.

Topics, under ``<topic_prefix>/<device_id>/`` (defaults ``twitchmon/<hostname>/``):

============== ======== ===== =================================================
topic          retained QoS   payload
============== ======== ===== =================================================
availability   yes      1     ``online``; ``offline`` on a clean stop, and as
                              the last will when the Pi vanishes
state          yes      1     ``{"recording", "night_id", "sites",
                              "sensors"}``: on change and every 30 s
tonight        no       0     ``{"night_id", "date", "total", "per_channel",
                              "sites", "rest_s", "duration_s"}``: every 30 s
                              (counts null when not recording)
summary        yes      1     a night's summary (:func:`summary_payload`),
                              once per night, in order
recording/set  (in)           ``ON``/``OFF`` from Home Assistant; obeyed only
                              when the owner allows remote control
============== ======== ===== =================================================

Summaries: the store is the truth.  Each ended night gets a row in the
store's ``published`` table once the broker acknowledged it (QoS 1 PUBACK);
on every (re)connect the ended nights without one are published in order.
A broker away for a week gets the week's nights, once each.

Home Assistant MQTT discovery goes to ``homeassistant/<component>/<device_id>/
<object>/config`` (retained): one device per bed, its entities listed in
:func:`discovery`.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import json
import os
import re
import socket
import ssl
import stat
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .events import SENSOR_STATES, per_rest_hour
from .store import Store

DISCOVERY_PREFIX = "homeassistant"  #: Home Assistant's default discovery prefix
KEYS = ("host", "port", "username", "password_file", "tls_ca", "topic_prefix", "device_id")
PERIOD_S = 30.0  #: state and tonight's counts are published this often
EXPIRE_S = 3 * int(PERIOD_S)  #: Home Assistant marks live values stale after this, s
KEEPALIVE_S = 30  #: MQTT keepalive: a silent broker is noticed within ~1.5x this
CONNACK_TIMEOUT_S = 10.0  #: a broker that takes the TCP connection but never answers the login
BACKOFF_S = (1.0, 30.0)  #: reconnect delay, first and most, s (doubling)
_ID = re.compile(r"[A-Za-z0-9_-]+")


class MqttError(ValueError):
    """Bad [mqtt] settings or a broker that cannot be used; one line."""


def default_device_id() -> str:
    """The hostname, as a topic level and Home Assistant id can take it."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname()) or "twitchmon"


@dataclass(frozen=True)
class MqttConfig:
    host: str
    port: int | None = None  #: None: 8883 with TLS, else 1883
    username: str | None = None
    password_file: str | None = None
    tls_ca: str | None = None  #: CA file: TLS on and the broker's certificate checked against it
    topic_prefix: str = "twitchmon"
    device_id: str = field(default_factory=default_device_id)
    remote_control: bool = False  #: the page's switch, not a file key: Home Assistant may start/stop recording

    @property
    def broker_port(self) -> int:
        return self.port or (8883 if self.tls_ca else 1883)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.broker_port}"

    def topic(self, leaf: str) -> str:
        return f"{self.topic_prefix}/{self.device_id}/{leaf}"


def parse_section(raw: dict, where: str) -> MqttConfig:
    """An :class:`MqttConfig` from the ``[mqtt]`` table; ConfigError-compatible
    :class:`MqttError` (one line) when a value cannot be used."""
    def text(key):
        v = raw.get(key)
        if v is None:
            return None
        if not isinstance(v, str) or not v.strip() or any(c in v for c in "\r\n\0"):
            raise MqttError(f"{where}: mqtt.{key} = {v!r} must be a non-empty string on one line")
        return v.strip()

    host = text("host")
    if host is None:
        raise MqttError(f"{where}: mqtt.host is required (no [mqtt] section: MQTT off)")
    kw = {"host": host}
    if "port" in raw:
        p = raw["port"]
        if isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 65535:
            raise MqttError(f"{where}: mqtt.port = {p!r} must be a port number 1-65535")
        kw["port"] = p
    for key in ("username", "password_file", "tls_ca"):
        if text(key) is not None:
            kw[key] = text(key)
    prefix = text("topic_prefix")
    if prefix is not None:
        if any(c in prefix for c in "+#") or prefix.startswith("/") or prefix.endswith("/"):
            raise MqttError(f"{where}: mqtt.topic_prefix = {prefix!r}: no + or #, no leading or trailing /")
        kw["topic_prefix"] = prefix
    dev = text("device_id")
    if dev is not None:
        if not _ID.fullmatch(dev):
            raise MqttError(f"{where}: mqtt.device_id = {dev!r}: letters, digits, - and _ only")
        kw["device_id"] = dev
    return MqttConfig(**kw)


def settings_for(cfg, store) -> MqttConfig | None:
    """What the daemon publishes with, or None for off: the settings file's
    ``[mqtt]`` with the page's on top (``cfg`` from effective_config), the
    page's switch (store ``mqtt_enabled``; unset: on when a broker is named)
    and its remote-control switch (store ``mqtt_remote_control``)."""
    m = getattr(cfg, "mqtt", None)
    enabled = store.get_setting("mqtt_enabled")
    if m is None or not (m is not None if enabled is None else bool(enabled)):
        return None
    return dataclasses.replace(m, remote_control=bool(store.get_setting("mqtt_remote_control", False)))


# -- payloads ------------------------------------------------------------------

#: the night summary's numbers that become Home Assistant sensors: key, name,
#: unit, device class.  "optional" ones appear once a night carries them
#: (PLM index and cramps: the issues that add them put them on the night).
SUMMARY_SENSORS = [
    ("total", "Twitches last night", "twitches", None, False),
    ("twitches_per_rest_hour", "Twitches per rest hour last night", "twitches/h", None, False),
    ("rest_h", "Rest time last night", "h", "duration", False),
    ("movements", "Movements last night", "movements", None, False),
    ("heart_rate_bpm", "Heart rate last night", "bpm", None, False),
    ("plm_index", "PLM index last night", "movements/h", None, True),
    ("cramps", "Cramps last night", "cramps", None, True),
]
OPTIONAL = [k for k, *_, opt in SUMMARY_SENSORS if opt]


def summary_payload(night: dict, device_id: str) -> dict:
    """A stored night (``Store.night``) as the ``summary`` message.  Keys the
    night does not have yet (``plm_index``, ``cramps``) are left out rather
    than sent as null, so a subscriber can tell "none" from "not measured"."""
    sites = list(night.get("channel_names") or [])
    per = list(night.get("per_channel") or [])
    rate = per_rest_hour(night["total"], night.get("rest_s"))
    out = {"device_id": device_id, "night_id": night["id"], "date": night["date"], "start": night["start_utc"],
           "end": night.get("end_utc"), "status": night["status"], "duration_s": round(night["duration_s"], 1),
           "rest_s": round(night["rest_s"] or 0.0, 1), "rest_h": round((night["rest_s"] or 0.0) / 3600, 2),
           "total": night["total"], "per_channel": per, "sites": sites,
           "per_site": {s: n for s, n in zip(sites, per)},
           "twitches_per_rest_hour": round(rate, 2) if rate is not None else None,
           "movements": night["movements"], "heart_rate_bpm": night.get("heart_rate_bpm")}
    for k in OPTIONAL:
        if night.get(k) is not None:
            out[k] = night[k]
    return out


def discovery(m: MqttConfig, sites: list[str], extras: list[str] = ()) -> list[tuple[str, str]]:
    """Home Assistant discovery messages, (topic, JSON payload); an empty
    payload removes an entity (the recording switch when remote control is
    off).  ``extras``: optional summary keys (:data:`OPTIONAL`) to add."""
    from . import __version__  # noqa: PLC0415

    dev = {"identifiers": [f"twitchmon_{m.device_id}"], "name": f"twitchmon {m.device_id}",
           "manufacturer": "twitchmon", "model": "leg-twitch counter (not a medical device)",
           "sw_version": __version__}
    common = {"availability_topic": m.topic("availability"), "device": dev}
    rec_tpl = "{{ 'ON' if value_json.recording else 'OFF' }}"
    out = []

    def add(component, obj, payload):
        topic = f"{DISCOVERY_PREFIX}/{component}/{m.device_id}/{obj}/config"
        body = "" if payload is None else json.dumps(
            {**payload, **common, "unique_id": f"twitchmon_{m.device_id}_{obj}"}, sort_keys=True)
        out.append((topic, body))

    add("binary_sensor", "recording", {"name": "Recording", "state_topic": m.topic("state"),
                                       "value_template": rec_tpl, "device_class": "running"})
    add("switch", "recording_switch", {
        "name": "Record", "state_topic": m.topic("state"), "value_template": rec_tpl,
        "command_topic": m.topic("recording/set"), "payload_on": "ON", "payload_off": "OFF", "qos": 1,
        "icon": "mdi:record-rec"} if m.remote_control else None)
    for c, site in enumerate(sites):
        add("sensor", f"sensor_{c}", {"name": f"{site} sensor", "state_topic": m.topic("state"),
                                      "value_template": f"{{{{ value_json.sensors[{c}] }}}}",
                                      "device_class": "enum", "options": list(SENSOR_STATES),
                                      "entity_category": "diagnostic", "expire_after": EXPIRE_S})
    live = {"state_topic": m.topic("tonight"), "unit_of_measurement": "twitches",
            "state_class": "total_increasing", "expire_after": EXPIRE_S, "icon": "mdi:pulse"}
    add("sensor", "tonight_total", {**live, "name": "Twitches tonight", "value_template": "{{ value_json.total }}"})
    for c, site in enumerate(sites):
        add("sensor", f"tonight_{c}", {**live, "name": f"Twitches tonight {site}",
                                       "value_template": f"{{{{ value_json.per_channel[{c}] }}}}"})
    for key, name, unit, dclass, opt in SUMMARY_SENSORS:
        if opt and key not in extras:
            continue
        p = {"name": name, "state_topic": m.topic("summary"), "value_template": f"{{{{ value_json.{key} }}}}",
             "unit_of_measurement": unit, "state_class": "measurement"}
        if dclass:
            p["device_class"] = dclass
        add("sensor", f"last_{key}", p)
    for c, site in enumerate(sites):
        add("sensor", f"last_site_{c}", {"name": f"Twitches last night {site}", "state_topic": m.topic("summary"),
                                         "value_template": f"{{{{ value_json.per_channel[{c}] }}}}",
                                         "unit_of_measurement": "twitches", "state_class": "measurement"})
    add("sensor", "last_date", {"name": "Last night", "state_topic": m.topic("summary"),
                                "value_template": "{{ value_json.date }}", "device_class": "date",
                                "json_attributes_topic": m.topic("summary")})
    return out


# -- talking to a broker ------------------------------------------------------

def describe(exc: BaseException) -> str:
    """A connection failure as one line a person can act on."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"TLS: the broker's certificate is not trusted ({exc.verify_message}); "
                "set tls_ca to the CA file that signed it")
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed ({exc.reason or exc}): is it a TLS port, and tls_ca right?"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused: is the broker running and on that port?"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "no answer within 5 s"
    if isinstance(exc, MqttError):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno in (errno.EAFNOSUPPORT, errno.ENETUNREACH):
        # on the Pi: twitchmon.service has no network unless its MQTT drop-in is installed
        return (f"{exc.strerror}: if this is the twitchmon service, install systemd/twitchmon-mqtt.conf "
                "(README, MQTT) so it may reach the broker")
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return str(exc) or type(exc).__name__


def _refused(reason) -> str:
    name = reason.getName() if hasattr(reason, "getName") else str(reason)
    if name in ("Not authorized", "Bad user name or password"):
        return f"the broker refused the login: {name.lower()} (check username and password_file)"
    return f"the broker refused the connection: {name}"


def make_client(m: MqttConfig, client_id: str, will: bool = True):
    """A paho client set up for ``m`` (login, TLS, last will); not connected.
    MqttError when the password or CA file cannot be read."""
    import paho.mqtt.client as paho  # noqa: PLC0415

    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
    if m.username:
        pw = None
        if m.password_file:
            try:
                pw = Path(m.password_file).read_text().strip()
            except OSError as exc:
                raise MqttError(f"password_file {m.password_file}: {exc.strerror or exc}") from None
        c.username_pw_set(m.username, pw)
    if m.tls_ca or m.broker_port == 8883:
        try:
            c.tls_set(ca_certs=m.tls_ca)  # None: the system's CAs
        except (OSError, ssl.SSLError) as exc:
            raise MqttError(f"tls_ca {m.tls_ca}: {getattr(exc, 'strerror', None) or exc}") from None
    if will:
        c.will_set(m.topic("availability"), "offline", qos=1, retain=True)
    return c


class Publisher:
    """The daemon's MQTT side.  ``offer``, ``night_ended`` and
    ``reconfigure`` return at once (they only set fields and wake the
    thread); ``close`` waits at most ``flush_s`` for the last summary."""

    def __init__(self, settings: MqttConfig | None, store_path: str | os.PathLike, *, channels: int = 4,
                 on_recording: Callable[[bool], None] | None = None, log: Callable[[str], None] | None = None):
        self.store_path = str(store_path)
        self.channels = channels
        self.on_recording = on_recording or (lambda on: None)
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
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
            self.log(f"twitchmon: MQTT broker {self.m.where}: connected")
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


def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def banner(store) -> str | None:
    """The page's line about the broker, when the daemon could not use it."""
    st = store.get_setting("mqtt_status")
    if isinstance(st, dict) and st.get("ok") is False:
        return f"MQTT broker {st.get('broker')}: {st.get('error')} (since {st.get('t')})"
    return None


# -- many beds: who is on a broker ---------------------------------------------------

def list_beds(m: MqttConfig, wait_s: float = 2.0) -> list[dict]:
    """The beds that left retained messages under ``m.topic_prefix`` on the
    broker: device id, online/offline, and their last night's summary."""
    import paho.mqtt.client as paho  # noqa: PLC0415

    c = make_client(m, f"twitchmon-beds-{os.getpid()}", will=False)
    beds: dict[str, dict] = {}
    state = {"error": None, "subscribed": False}

    def on_connect(client, userdata, flags, reason, properties):
        if reason.is_failure:
            state["error"] = _refused(reason)
            return
        client.subscribe([(f"{m.topic_prefix}/+/availability", 1), (f"{m.topic_prefix}/+/summary", 1)])

    def on_subscribe(client, userdata, mid, reasons, properties):
        state["subscribed"] = True

    def on_message(client, userdata, msg):
        dev, leaf = msg.topic.split("/")[-2:]
        bed = beds.setdefault(dev, {"device_id": dev, "availability": None, "summary": None})
        if leaf == "availability":
            bed["availability"] = msg.payload.decode(errors="replace")
        else:
            try:
                bed["summary"] = json.loads(msg.payload) if msg.payload else None
            except ValueError:
                pass

    c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
    try:
        c.connect(m.host, m.broker_port, keepalive=KEEPALIVE_S)
    except (OSError, ValueError) as exc:
        raise MqttError(f"{m.where}: {describe(exc)}") from None
    t_end = time.monotonic() + wait_s + CONNACK_TIMEOUT_S
    quiet_until = None
    while time.monotonic() < t_end:
        if c.loop(timeout=0.1) != paho.MQTT_ERR_SUCCESS:
            raise MqttError(f"{m.where}: {state['error'] or 'the broker closed the connection'}")
        if state["subscribed"] and quiet_until is None:
            quiet_until = time.monotonic() + wait_s  # retained messages follow the SUBACK at once
        if quiet_until is not None and time.monotonic() >= quiet_until:
            break
    else:
        raise MqttError(f"{m.where}: {state['error'] or 'no answer to the subscription'}")
    c.disconnect()
    return sorted(beds.values(), key=lambda b: b["device_id"])
