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

Rooms: this module holds the settings and the payloads (no paho: the page
and the settings file read it); :mod:`.mqtt_client` talks to a broker
(paho), :mod:`.mqtt_publisher` is the daemon's publishing thread.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import socket
from dataclasses import dataclass, field

from . import __version__
from .events import SENSOR_STATES, per_rest_hour

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


def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def banner(store) -> str | None:
    """The page's line about the broker, when the daemon could not use it."""
    st = store.get_setting("mqtt_status")
    if isinstance(st, dict) and st.get("ok") is False:
        return f"MQTT broker {st.get('broker')}: {st.get('error')} (since {st.get('t')})"
    return None
