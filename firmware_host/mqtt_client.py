"""Talking to an MQTT broker with paho-mqtt: a client set up from the
settings, a failure said in one line, and the beds a broker knows
(``twitchmon beds``)."""
from __future__ import annotations

import errno
import json
import os
import socket
import ssl
import time
from pathlib import Path

import paho.mqtt.client as paho

from .mqtt import CONNACK_TIMEOUT_S, KEEPALIVE_S, MqttConfig, MqttError


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




def list_beds(m: MqttConfig, wait_s: float = 2.0) -> list[dict]:
    """The beds that left retained messages under ``m.topic_prefix`` on the
    broker: device id, online/offline, and their last night's summary."""
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
