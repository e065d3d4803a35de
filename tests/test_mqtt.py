"""MQTT: Home Assistant and many beds, against a real Mosquitto broker
(Debian's /usr/sbin/mosquitto, started here on a free 127.0.0.1 port with a
config file the test writes; see tests/mqttlib.py)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from twitchmon_testkit import mqttlib, needs
from firmware_host.config import ConfigError, parse_config
from firmware_host.events import how_many
from firmware_host.mqtt import OPTIONAL, MqttConfig, discovery, summary_payload
from firmware_host.mqtt_publisher import Publisher
from firmware_host.store import open_store

pytestmark = pytest.mark.mqtt

if not Path(mqttlib.MOSQUITTO).exists():  # CI installs it (.ci/run); there a missing broker fails
    pytestmark = [pytest.mark.mqtt, pytest.mark.skipif(not os.environ.get("CI"), reason="no mosquitto")]


@pytest.fixture
def broker(tmp_path):
    b = mqttlib.Broker(tmp_path / "broker").start()
    yield b
    b.stop()


def _ended_night(store, total=10, per=(1, 2, 3, 4), **extra) -> int:
    nid = store.add_night(date="2026-11-20", start_utc="2026-11-20T22:00:00+00:00", source="sim", rate_hz=1000.0,
                          channels=4, channel_names=["L calf", "L thigh", "R calf", "R thigh"], status="complete")
    store.update_night(nid, end_utc="2026-11-21T06:00:00+00:00", duration_s=28800.0, rest_s=25200.0, total=total,
                       per_channel=list(per), movements=3, heart_rate_bpm=58.0, **extra)
    return nid


def _wait_setting(data_dir, key, pred, timeout=30.0):
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        st = open_store(data_dir)
        try:
            v = st.get_setting(key)
        finally:
            st.close()
        if pred(v):
            return v
        time.sleep(0.2)
    raise AssertionError(f"store setting {key} never became what was waited for (last {v!r})")


def _night_of(data_dir, night_id) -> dict:
    st = open_store(data_dir)
    try:
        return st.night(night_id)
    finally:
        st.close()


def _recording_grows(data_dir, p) -> None:
    """The daemon is alive and its raw recording grows: it keeps recording.
    A night started since the call is measured from its own file's start (not
    against the size the last night's file ended at, which would make every
    restart wait out the previous night's length)."""
    def newest():
        files = sorted(Path(data_dir).glob("recordings/*/*.edf"), key=lambda f: f.stat().st_mtime)
        return (files[-1], files[-1].stat().st_size) if files else (None, 0)
    first_file, first = newest()

    def grown() -> bool:
        f, size = newest()
        return size > (first if f == first_file else 0) + 8000
    t_end = time.monotonic() + 20
    while time.monotonic() < t_end and not grown():
        assert p.poll() is None, p.stderr.read()[-1500:]
        time.sleep(0.2)
    assert grown(), "the recording stopped growing"


# -- settings file ---------------------------------------------------------------

def test_mqtt_section_parsed_and_bad_values_one_line():
    assert parse_config("").mqtt is None  # absent section: MQTT off
    m = parse_config('[mqtt]\nhost = "broker.lan"\ndevice_id = "bed-3"\ntls_ca = "/etc/ca.pem"\n').mqtt
    assert (m.host, m.broker_port, m.device_id, m.topic("summary")) == ("broker.lan", 8883, "bed-3",
                                                                       "twitchmon/bed-3/summary")
    assert parse_config('[mqtt]\nhost = "b"\nport = 1884\n').mqtt.broker_port == 1884
    for text, words in [('[mqtt]\nport = 1883\n', "mqtt.host is required"),
                        ('[mqtt]\nhost = "b"\nport = 70000\n', "mqtt.port"),
                        ('[mqtt]\nhost = "b"\ntopic_prefix = "a/#"\n', "mqtt.topic_prefix"),
                        ('[mqtt]\nhost = "b"\ndevice_id = "bed 1"\n', "mqtt.device_id"),
                        ('[mqtt]\nhost = "b"\npassword = "x"\n', "unknown key mqtt.password")]:
        with pytest.raises(ConfigError, match=re.escape(words)) as e:
            parse_config(text, "t.toml")
        assert "\n" not in str(e.value)


# -- Home Assistant discovery, checked against its documentation ---------------------
# The keys below are the configuration variables documented in home-assistant/home-assistant.io
# (source/_integrations/sensor.mqtt.markdown @9e4a69ab, binary_sensor.mqtt.markdown @fbc3a3b3,
# switch.mqtt.markdown @53821638); the discovery topic layout
# <discovery_prefix>/<component>/[<node_id>/]<object_id>/config is from source/_integrations/mqtt.markdown.
_COMMON = {"availability", "availability_mode", "availability_template", "availability_topic", "device",
           "enabled_by_default", "encoding", "entity_category", "entity_picture", "icon",
           "json_attributes_template", "json_attributes_topic", "name", "object_id", "payload_available",
           "payload_not_available", "qos", "unique_id", "value_template"}
HA_KEYS = {
    "sensor": _COMMON | {"device_class", "expire_after", "force_update", "last_reset_value_template", "options",
                         "suggested_display_precision", "state_class", "state_topic", "unit_of_measurement"},
    "binary_sensor": _COMMON | {"device_class", "expire_after", "force_update", "off_delay", "payload_off",
                                "payload_on", "state_topic"},
    "switch": _COMMON | {"command_template", "command_topic", "device_class", "optimistic", "payload_off",
                         "payload_on", "retain", "state_off", "state_on", "state_topic"},
}
HA_REQUIRED = {"sensor": {"state_topic"}, "binary_sensor": {"state_topic"}, "switch": {"command_topic"}}
HA_DEVICE_KEYS = {"configuration_url", "connections", "hw_version", "identifiers", "manufacturer", "model",
                  "model_id", "name", "serial_number", "suggested_area", "sw_version", "via_device"}
# developers.home-assistant.io docs/core/entity/sensor: available state classes; and the duration
# device class's units from source/_integrations/sensor.markdown
HA_STATE_CLASSES = {"measurement", "measurement_angle", "total", "total_increasing"}


def check_ha_discovery(topic: str, body: str, device: str, remote: bool) -> tuple[str, str, dict | None]:
    """One discovery message against Home Assistant's documented keys; (component, object, payload)."""
    mt = re.fullmatch(rf"homeassistant/(sensor|binary_sensor|switch)/{device}/([A-Za-z0-9_]+)/config", topic)
    assert mt, topic
    comp, obj = mt.groups()
    if body == "":  # removal of an entity (the switch when remote control is off)
        assert comp == "switch" and not remote
        return comp, obj, None
    p = json.loads(body)
    assert set(p) <= HA_KEYS[comp], (topic, set(p) - HA_KEYS[comp])
    assert HA_REQUIRED[comp] <= set(p), topic
    assert set(p["device"]) <= HA_DEVICE_KEYS and p["device"]["identifiers"] == [f"twitchmon_{device}"]
    assert p["unique_id"] == f"twitchmon_{device}_{obj}"  # the device block only works with a unique_id
    assert p["availability_topic"] == f"twitchmon/{device}/availability"
    if "state_class" in p:
        assert p["state_class"] in HA_STATE_CLASSES
    if "options" in p:  # documented: only with device_class enum, never with state_class or unit
        assert p["device_class"] == "enum" and not {"state_class", "unit_of_measurement"} & set(p)
    if p.get("device_class") == "duration":
        assert p["unit_of_measurement"] in {"d", "h", "min", "s", "ms"}
    return comp, obj, p


@pytest.mark.parametrize("remote,extras", [(False, []), (True, OPTIONAL)])
def test_discovery_payloads_use_only_documented_keys(remote, extras):
    m = MqttConfig(host="b", device_id="bed1", remote_control=remote)
    msgs = discovery(m, ["L calf", "L thigh", "R calf", "R thigh"], extras)
    seen = {}
    for topic, body in msgs:
        comp, obj, p = check_ha_discovery(topic, body, "bed1", remote)
        if p is not None:
            seen[obj] = (comp, p)
    assert len({p["unique_id"] for _, p in seen.values()}) == len(seen)
    assert seen["recording"][0] == "binary_sensor"
    assert ("recording_switch" in seen) == remote
    if remote:
        sw = seen["recording_switch"][1]
        assert sw["command_topic"] == "twitchmon/bed1/recording/set" and sw["payload_on"] == "ON"
    for c in range(4):  # live values go stale in HA when the bed stops publishing
        assert seen[f"tonight_{c}"][1]["expire_after"] > 30 and seen[f"sensor_{c}"][1]["expire_after"] > 30
        assert seen[f"tonight_{c}"][1]["state_topic"] == "twitchmon/bed1/tonight"
    assert seen["last_total"][1]["state_topic"] == "twitchmon/bed1/summary"
    assert ("last_plm_index" in seen) == ("plm_index" in extras) and ("last_cramps" in seen) == bool(extras)


def test_summary_payload_carries_plm_and_cramps_only_when_the_night_has_them():
    night = {"id": 4, "date": "2026-11-20", "start_utc": "s", "end_utc": "e", "status": "complete",
             "duration_s": 28800.0, "rest_s": 7200.0, "total": 30, "per_channel": [10, 20],
             "channel_names": ["a", "b"], "movements": 2, "heart_rate_bpm": None}
    s = summary_payload(night, "bed1")
    assert s["per_site"] == {"a": 10, "b": 20} and s["twitches_per_rest_hour"] == 15.0 and s["rest_h"] == 2.0
    assert s["heart_rate_bpm"] is None and not set(OPTIONAL) & set(s)
    s = summary_payload({**night, "plm_index": 12.5, "cramps": 0}, "bed1")
    assert (s["plm_index"], s["cramps"]) == (12.5, 0)


# -- the publisher on a real broker ---------------------------------------------------

def test_summary_arrives_retained_once_and_is_marked_in_the_store(broker, tmp_path):
    store = open_store(tmp_path / "data")
    first = _ended_night(store, total=10)
    m = MqttConfig(host="127.0.0.1", port=broker.port, device_id="bed1")
    pub = Publisher(m, store.path).start()
    _wait_setting(tmp_path / "data", "mqtt_status", lambda v: v and v.get("ok"))
    t_end = time.monotonic() + 20
    while first not in store.published() and time.monotonic() < t_end:
        time.sleep(0.1)
    assert first in store.published()
    # a subscriber that comes later gets it from the broker, retained
    late = mqttlib.Subscriber(broker.port, ["twitchmon/bed1/summary", "twitchmon/bed1/availability"])
    got = late.wait(lambda ms: [x for x in ms if x[0].endswith("/summary")], what="retained summary")
    assert got[0][2] is True and json.loads(got[0][1]) == summary_payload(store.night(first), "bed1")
    assert late.wait(lambda ms: ("twitchmon/bed1/availability", "online", True) in ms)
    second = _ended_night(store, total=7, per=(7, 0, 0, 0))
    pub.night_ended()
    got = late.wait(lambda ms: len(mqttlib.summaries(ms)) == 2 and ms, what="second summary")
    assert [s["night_id"] for s in mqttlib.summaries(got)] == [first, second]
    pub.close()
    late.wait(lambda ms: ms[-1][:2] == ("twitchmon/bed1/availability", "offline"), what="offline")
    # a restarted publisher finds both marked: nothing is sent twice
    pub = Publisher(m, store.path).start()
    late.wait(lambda ms: ms[-1][:2] == ("twitchmon/bed1/availability", "online"), what="online again")
    time.sleep(1.0)
    pub.close()
    assert len(mqttlib.summaries(late.messages)) == 2
    late.close()
    store.close()


def test_plm_index_and_cramps_slot_in_once_nights_carry_them(broker, tmp_path):
    """A night carries its PLM index once it has rest (issue 13's migration and
    Store.refresh_counts) and its cramps however logged; then the summary carries
    them and Home Assistant gets their sensors, with no change here."""
    store = open_store(tmp_path / "data")
    store.set_setting("mqtt_from_night", 0)
    old = _ended_night(store)  # its PLM index never computed (a night from before the migration): left out
    sub = mqttlib.Subscriber(broker.port, ["twitchmon/#", "homeassistant/sensor/bedP/#"])
    pub = Publisher(MqttConfig(host="127.0.0.1", port=broker.port, device_id="bedP"), store.path).start()
    got = sub.wait(lambda ms: mqttlib.summaries(ms), what="summary")
    assert got[0]["night_id"] == old and "plm_index" not in got[0] and got[0]["cramps"] == 0
    assert not sub.on("last_plm_index/config")
    new = _ended_night(store)
    # 4 left-leg movements 20 s apart: one PLM series, 4 PLMs in 1920 s of rest -> 7.5 per hour
    store.add_events(new, movements=[{"t": 100.0 + 20 * i, "end": 102.0 + 20 * i, "channels": [0]} for i in range(4)])
    store.update_night(new, rest_s=1920.0)
    store.refresh_counts(new)
    store.add_cramp(date=store.night(new)["date"], source="button", night_id=new, t=300.0)
    pub.night_ended()
    got = sub.wait(lambda ms: len(mqttlib.summaries(ms)) == 2 and mqttlib.summaries(ms), what="second summary")
    assert (got[1]["plm_index"], got[1]["cramps"]) == (7.5, 1)
    cfg = json.loads(sub.wait(lambda ms: sub.on("last_plm_index/config"), what="PLM sensor")[-1][1])
    assert cfg["value_template"] == "{{ value_json.plm_index }}" and sub.on("last_cramps/config")
    pub.close()
    sub.close()
    store.close()


def test_daemon_publishes_discovery_state_and_obeys_the_switch_when_allowed(broker, tmp_path):
    d = tmp_path / "bed"
    st = open_store(d)
    st.set_setting("mqtt_remote_control", True)  # the owner's switch on Settings
    st.close()
    cfg = mqttlib.write_config(tmp_path / "bed.toml", broker.port, "bedA")
    sub = mqttlib.Subscriber(broker.port, ["twitchmon/#", "homeassistant/#"])
    p = mqttlib.start_daemon(d, cfg)
    try:
        ms = sub.wait(lambda ms: [x for x in ms if x[0] == "twitchmon/bedA/state" and '"recording": true' in x[1]],
                      60, "state recording")
        state = json.loads(ms[-1][1])
        assert state["sensors"] and len(state["sensors"]) == len(state["sites"]) == 4
        assert ("twitchmon/bedA/availability", "online", False) in sub.messages
        topics = {t for t, body, _ in sub.messages if t.startswith("homeassistant/") and body}
        for t, body, _ in sub.messages:
            if t.startswith("homeassistant/"):
                check_ha_discovery(t, body, "bedA", remote=True)
        assert {"homeassistant/binary_sensor/bedA/recording/config",
                "homeassistant/switch/bedA/recording_switch/config",
                "homeassistant/sensor/bedA/tonight_total/config"} <= topics
        tonight = json.loads(sub.wait(lambda ms: sub.on("/tonight"), what="tonight")[0][1])
        assert set(tonight) >= {"night_id", "total", "per_channel", "sites"}
        night1 = state["night_id"]
        time.sleep(2)
        sub.c.publish("twitchmon/bedA/recording/set", "OFF", qos=1)  # what Home Assistant's switch sends
        summ = sub.wait(lambda ms: mqttlib.summaries(ms, "bedA"), 60, "summary after OFF")[0]
        stored = _night_of(d, night1)
        assert stored["status"] == "complete"
        assert (summ["night_id"], summ["total"], summ["per_channel"], summ["movements"]) == \
            (night1, stored["total"], stored["per_channel"], stored["movements"])
        sub.wait(lambda ms: [x for x in ms if x[0] == "twitchmon/bedA/state" and '"recording": false' in x[1]],
                 what="state not recording")
        sub.c.publish("twitchmon/bedA/recording/set", "ON", qos=1)
        sub.wait(lambda ms: [x for x in ms if x[0] == "twitchmon/bedA/state"
                             and json.loads(x[1])["night_id"] not in (None, night1)], 30, "a new night")
    finally:
        out, err = mqttlib.stop_daemon(p)
    assert p.returncode == 0, err[-2000:]
    assert "recording stopped from the broker" in err and "Traceback" not in err
    sums = sub.wait(lambda ms: len(mqttlib.summaries(ms, "bedA")) == 2 and ms, what="second summary")
    ids = [s["night_id"] for s in mqttlib.summaries(sums, "bedA")]
    assert ids[0] == night1 and ids[1] > night1  # the night SIGTERM ended went out before offline
    assert sub.on("/availability")[-1][1] == "offline"
    sub.close()


def _outage(broker, tmp_path, outage_s: float):
    """A bed recording while the broker is killed (-9), stays down ``outage_s``
    and comes back; nights end meanwhile (daemon stopped and restarted)."""
    d = tmp_path / "bed"
    cfg = mqttlib.write_config(tmp_path / "bed.toml", broker.port, "bedO")
    sub = mqttlib.Subscriber(broker.port, ["twitchmon/bedO/summary"], session="test-outage")
    p = mqttlib.start_daemon(d, cfg)
    _wait_setting(d, "mqtt_status", lambda v: v and v.get("ok"), 60)
    _recording_grows(d, p)
    mqttlib.stop_daemon(p)  # night 1 ends with the broker up
    sub.wait(lambda ms: len(ms) == 1, what="night 1's summary")
    p = mqttlib.start_daemon(d, cfg)
    _recording_grows(d, p)
    time.sleep(2.0)  # the broker's 1-s autosave has the subscriber's session
    broker.kill()
    t_killed = time.monotonic()
    _, err = mqttlib.stop_daemon(p)  # night 2 ends with the broker away
    p = mqttlib.start_daemon(d, cfg)  # night 3: ends while away
    _recording_grows(d, p)
    _, err3 = mqttlib.stop_daemon(p)
    p = mqttlib.start_daemon(d, cfg)  # night 4 is running when the broker comes back
    _recording_grows(d, p)
    time.sleep(max(0.0, outage_s - (time.monotonic() - t_killed)))
    outage = time.monotonic() - t_killed
    broker.start()
    try:
        sub.wait(lambda ms: len(ms) >= 3, 90, "the summaries of nights 2 and 3")
        time.sleep(1.0)
    finally:
        _, err4 = mqttlib.stop_daemon(p)
    sub.wait(lambda ms: len(ms) >= 4 and ms, 30, "night 4's summary")
    time.sleep(1.0)
    st = open_store(d)
    nights = sorted(n["id"] for n in st.nights())
    published = st.published()
    stored = {n["id"]: (n["total"], n["per_channel"]) for n in st.nights()}
    st.close()
    ids = [s["night_id"] for s in mqttlib.summaries(sub.messages)]
    assert ids == nights, f"summaries {ids} for nights {nights}: lost, duplicated or out of order"
    assert sorted(published) == nights
    for s in mqttlib.summaries(sub.messages):
        assert (s["total"], s["per_channel"]) == stored[s["night_id"]]
    assert "broker" in err + err3 and "Traceback" not in err + err3 + err4
    sub.close()
    return outage


def test_broker_killed_mid_night_loses_no_summary_and_duplicates_none(broker, tmp_path):
    _outage(broker, tmp_path, outage_s=2.0)


@pytest.mark.slow
def test_broker_away_two_minutes_loses_no_summary(broker, tmp_path):
    outage = _outage(broker, tmp_path, outage_s=125.0)
    print(f"broker away {outage:.0f} s: 4 nights, 4 summaries, in order, none lost or twice")
    assert outage >= 120.0


# -- a broker that cannot be used: one clear line, banner, recording goes on ---------

def _one_line_and_banner(d, cfg, words: str):
    p = mqttlib.start_daemon(d, cfg)
    try:
        _wait_setting(d, "mqtt_status", lambda v: v and v.get("ok") is False, 60)
        _recording_grows(d, p)
        time.sleep(4.0)  # several reconnect attempts (1, 2, 4 s back-off)
        _recording_grows(d, p)
    finally:
        out, err = mqttlib.stop_daemon(p)
    assert p.returncode == 0 and "Traceback" not in err
    lines = [ln for ln in (out + err).splitlines() if "MQTT broker" in ln]
    assert len(lines) == 1 and words in lines[0] and "recording goes on" in lines[0], lines
    from web import create_app
    page = create_app({"DATA_DIR": str(d), "TESTING": True}).test_client().get("/settings").get_data(as_text=True)
    assert words in page and 'class="banner"' in page
    st = open_store(d)
    n = st.nights(1)[0]
    assert n["status"] == "complete" and n["duration_s"] > 5 and not st.published()
    st.close()


def test_wrong_password_one_line_banner_and_recording_goes_on(tmp_path):
    b = mqttlib.Broker(tmp_path / "broker", users={"bed1": "right horse battery"}).start()
    try:
        pw = tmp_path / "mqtt-password"
        pw.write_text("wrong horse battery\n")
        pw.chmod(0o600)
        cfg = mqttlib.write_config(tmp_path / "bed.toml", b.port, "bed1", username="bed1", password_file=str(pw))
        _one_line_and_banner(tmp_path / "bed", cfg, "refused the login")
    finally:
        b.stop()


def test_tls_broker_self_signed_ca(tmp_path):
    certs = tmp_path / "certs"
    certs.mkdir()
    ca, ca_cert, ca_key = mqttlib.self_signed_ca(certs, "bedroom-ca")
    other_ca, _, _ = mqttlib.self_signed_ca(certs, "some-other-ca")
    b = mqttlib.Broker(tmp_path / "broker", tls=mqttlib.server_cert(certs, ca_cert, ca_key)).start()
    try:
        # the bed trusts a different CA: one clear line, recording goes on
        cfg = mqttlib.write_config(tmp_path / "bad.toml", b.port, "bedT", tls_ca=str(other_ca))
        _one_line_and_banner(tmp_path / "bed", cfg, "certificate is not trusted")
        # with the CA that signed the broker's certificate the summaries go out, over TLS
        store = open_store(tmp_path / "bed")
        sub = mqttlib.Subscriber(b.port, ["twitchmon/#"], tls_ca=str(ca))
        pub = Publisher(MqttConfig(host="127.0.0.1", port=b.port, device_id="bedT", tls_ca=str(ca)),
                        store.path).start()
        got = sub.wait(lambda ms: mqttlib.summaries(ms), what="summary over TLS")
        assert got[0]["night_id"] == store.nights(1)[0]["id"]
        _wait_setting(tmp_path / "bed", "mqtt_status", lambda v: v and v.get("ok"))
        pub.close()
        sub.close()
        store.close()
    finally:
        b.stop()


# -- many beds -------------------------------------------------------------------------


def test_three_beds_on_one_broker_and_twitchmon_beds(broker, tmp_path):
    SPEED = 4.0
    sub = mqttlib.Subscriber(broker.port, ["twitchmon/#", "homeassistant/#"])
    beds = {}
    for k in (1, 2, 3):
        cfg = mqttlib.write_config(tmp_path / f"bed{k}.toml", broker.port, f"bed{k}")
        beds[f"bed{k}"] = (tmp_path / f"bed{k}", mqttlib.start_daemon(tmp_path / f"bed{k}", cfg, seed=k,
                                                                     speed=SPEED))
    try:
        for name, (d, p) in beds.items():
            sub.wait(lambda ms, n=name: [x for x in ms if x[0] == f"twitchmon/{n}/state"
                                         and '"recording": true' in x[1]], 90, f"{name} recording")
        # remote control is off on these beds: a start/stop from the broker is ignored
        sub.c.publish("twitchmon/bed2/recording/set", "OFF", qos=1)
        # rest comes ~15 s in on these simulated nights; the detector's last events come at the
        # night's end (SIGTERM), so 35 s of signal (played SPEED times faster) gives each bed its own
        # few twitches
        time.sleep(35 / SPEED)
    finally:
        errs = {name: mqttlib.stop_daemon(p)[1] for name, (d, p) in beds.items()}
    sub.wait(lambda ms: len({s["device_id"] for s in mqttlib.summaries(ms)}) == 3, 60, "three summaries")
    devices = {json.loads(body)["device"]["identifiers"][0] for t, body, _ in sub.messages
               if t.startswith("homeassistant/") and body}
    assert devices == {"twitchmon_bed1", "twitchmon_bed2", "twitchmon_bed3"}
    for name, (d, _) in beds.items():
        (s,) = mqttlib.summaries(sub.messages, name)
        st = open_store(d)
        (night,) = st.nights()
        st.close()
        assert (s["night_id"], s["total"], s["per_channel"], s["movements"], s["date"]) == \
            (night["id"], night["total"], night["per_channel"], night["movements"], night["date"]), name
        assert "Traceback" not in errs[name]
    # bed2 did not stop for the OFF: one night, recording throughout
    states = [json.loads(x[1])["recording"] for x in sub.messages if x[0] == "twitchmon/bed2/state"]
    assert states[states.index(True):] == [True] * (len(states) - states.index(True))
    assert mqttlib.summaries(sub.messages, "bed2")[0]["duration_s"] > 8
    assert sum(s["total"] for s in mqttlib.summaries(sub.messages)) > 0  # counts that could differ
    sub.close()
    r = subprocess.run([sys.executable, "-m", "firmware_host.cli", "beds", "--broker", f"127.0.0.1:{broker.port}"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [ln.split()[0] for ln in lines] == ["bed1", "bed2", "bed3"]
    for ln, name in zip(lines, ["bed1", "bed2", "bed3"]):
        s = mqttlib.summaries(sub.messages, name)[0]
        assert "offline" in ln and f"last night {s['date']}: {how_many(s['total'], 'twitch', 'twitches')} " in ln
    r = subprocess.run([sys.executable, "-m", "firmware_host.cli", "beds", "--broker", f"127.0.0.1:{broker.port}",
                        "--json"], capture_output=True, text=True, timeout=60)
    assert [json.loads(ln)["summary"]["total"] for ln in r.stdout.splitlines()] == \
        [mqttlib.summaries(sub.messages, n)[0]["total"] for n in ("bed1", "bed2", "bed3")]


def test_beds_bad_usage_and_no_broker(tmp_path):
    def run(*a):
        return subprocess.run([sys.executable, "-m", "firmware_host.cli", "beds", *a], capture_output=True,
                              text=True, timeout=60)
    r = run("--broker", "127.0.0.1:notaport")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "port" in r.stderr
    r = run("--broker", f"127.0.0.1:{mqttlib.free_port()}")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "connection refused" in r.stderr
    for opt in ("--tls-ca", "--password-file"):  # a file it cannot read is bad input, said before connecting
        r = run("--broker", f"127.0.0.1:{mqttlib.free_port()}", opt, str(tmp_path / "missing"))
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and f"{opt} " in r.stderr and "No such file" in r.stderr


# -- the Settings page -------------------------------------------------------------------

def test_settings_page_mqtt_section_privacy_and_password_file(client, tmp_path):
    page = client.get("/settings").get_data(as_text=True)
    assert 'name="mqtt_enabled"' in page and "leave the Pi, and go only to this broker" in page
    tok = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"csrf_token": tok, "name0": "a", "name1": "b", "name2": "c", "name3": "d", "night_start": "22:00",
            "night_end": "07:30", "sensitivity": "5", "raw_retention_days": "30", "mqtt_enabled": "on",
            "mqtt_host": "broker.lan", "mqtt_port": "1884", "mqtt_username": "bed1", "mqtt_password": "s3cret pw",
            "mqtt_topic_prefix": "clinic", "mqtt_device_id": "bed-7", "mqtt_remote_control": "on"}
    assert client.post("/settings", data={**form, "mqtt_port": "x"}).status_code == 400
    assert client.post("/settings", data={**form, "mqtt_device_id": "bed 7"}).status_code == 400
    assert client.post("/settings", data=form).status_code == 302
    from firmware_host.config import effective_config
    from firmware_host.mqtt import settings_for
    st = open_store(client.application.config["DATA_DIR"])
    m = settings_for(effective_config(None, st), st)
    assert (m.host, m.broker_port, m.topic("summary"), m.remote_control) == ("broker.lan", 1884,
                                                                           "clinic/bed-7/summary", True)
    assert Path(m.password_file).read_text().strip() == "s3cret pw"
    assert os.stat(m.password_file).st_mode & 0o077 == 0  # readable only by the service
    assert client.post("/settings", data={**form, "mqtt_enabled": ""}).status_code == 302
    assert settings_for(effective_config(None, st), st) is None  # the switch off: nothing leaves the Pi
    assert client.get("/api/settings").get_json()["mqtt"]["host"] == "broker.lan"  # remembered for next time
    st.close()


def test_a_relative_data_dir_is_made_absolute_so_the_stored_password_file_holds_anywhere(tmp_path, monkeypatch,
                                                                                          capsys):
    """``twitchmon serve --data-dir datacopy`` stored "datacopy/mqtt-password"
    as the broker's password file: the daemon, started in another directory,
    found none.  Every command's data dir is made absolute at its start."""
    import io

    import firmware_host.cmd.serve as serve_cmd
    from firmware_host.cli import main
    from firmware_host.config import effective_config
    from firmware_host.mqtt import settings_for
    from firmware_host.paths import data_dir

    monkeypatch.chdir(tmp_path)
    here = Path.cwd()
    apps = []
    monkeypatch.setattr(serve_cmd, "serve", lambda app, host, port: apps.append(app))
    assert main(["serve", "--data-dir", "datacopy"]) == 0
    c = apps[0].test_client()
    tok = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/settings").get_data(as_text=True)).group(1)
    form = {"csrf_token": tok, "name0": "a", "name1": "b", "name2": "c", "name3": "d", "night_start": "22:00",
            "night_end": "07:30", "sensitivity": "5", "raw_retention_days": "30", "mqtt_enabled": "on",
            "mqtt_host": "broker.lan", "mqtt_password": "s3cret pw"}
    assert c.post("/settings", data=form).status_code == 302
    monkeypatch.chdir("/")  # the daemon's directory
    st = open_store(here / "datacopy")
    m = settings_for(effective_config(None, st), st)
    st.close()
    assert m.password_file == str(here / "datacopy" / "mqtt-password")
    assert Path(m.password_file).read_text().strip() == "s3cret pw"
    # the other commands' too: passwd says where it wrote, and $TWITCHMON_DATA is read the same way
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO("long enough pw\n"))
    assert main(["passwd", "--data-dir", "pw"]) == 0
    assert f"password set in {here / 'pw'} " in capsys.readouterr().out
    monkeypatch.setenv("TWITCHMON_DATA", "env-dir")
    assert data_dir() == here / "env-dir" and data_dir("a/../b") == here / "b"


# -- the service's sandbox ----------------------------------------------------------------

def test_daemon_has_no_network_unless_the_mqtt_drop_in_is_installed(tmp_path):
    """twitchmon.service runs with no network (nothing leaves the Pi); the drop-in the README
    tells a publishing owner to install gives it IPv4/IPv6, and systemd accepts the pair."""
    from test_systemd import SD, _render, _unit
    units = _render(tmp_path)
    base = _unit(units / "twitchmon.service")["Service"]
    assert base["PrivateNetwork"] == "yes" and base["RestrictAddressFamilies"] == "AF_UNIX"
    text = (SD / "twitchmon-mqtt.conf").read_text()
    assert "PrivateNetwork=no" in text and "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" in text
    if shutil.which("systemd-analyze") or needs.on_ci():  # CI installs it: missing there, the test fails
        needs.program("systemd-analyze")
        (units / "twitchmon.service.d").mkdir()
        shutil.copy(SD / "twitchmon-mqtt.conf", units / "twitchmon.service.d" / "mqtt.conf")
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(units / "twitchmon.service")],
                           capture_output=True, text=True)
        assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
    from firmware_host.mqtt_client import describe
    assert "twitchmon-mqtt.conf" in describe(OSError(97, "Address family not supported by protocol"))
