"""Every page and its JSON twin over simulated nights with raw recordings;
a walk of malformed input over every route; the live signal path; trends,
settings, hardware and the waveform gallery."""
import json
import re
import shutil

import numpy as np
import pytest
from twitchmon_testkit import needs

from firmware_host import pins
from firmware_host.store import open_store
from web import attempts, create_app


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """Two 2-minute simulated nights stored as the demo stores them (EDF kept)."""
    from firmware_host.demo import fill_nights
    d = tmp_path_factory.mktemp("filled") / "data"
    ids = fill_nights(str(d), 2, 2.0, log=lambda *_: None)
    return d, ids


@pytest.fixture
def fclient(filled, tmp_path):
    d = tmp_path / "data"
    shutil.copytree(filled[0], d)
    app = create_app({"DATA_DIR": str(d), "TESTING": True})
    attempts._fails.clear()
    return app.test_client()


def _token(c) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', c.get("/settings").get_data(as_text=True)).group(1)


PAGES = ["/", "/tonight", "/trends", "/diary", "/hardware", "/settings", "/login", "/report"]
APIS = ["/api/nights", "/api/tonight", "/api/trends", "/api/diary", "/api/hardware", "/api/settings"]


def test_every_page_renders_with_the_disclaimer_and_nothing_from_outside(fclient, filled):
    nid = filled[1][0]
    for url in PAGES + [f"/nights/{nid}"]:
        r = fclient.get(url)
        assert r.status_code == 200, url
        html = r.get_data(as_text=True)
        assert "not a medical device" in html and "see a doctor" in html, url
        assert not re.search(r'(src|href)="(https?:)?//', html), url
    for url in APIS + [f"/api/nights/{nid}", f"/api/nights/{nid}/events", f"/api/nights/{nid}/waveforms"]:
        r = fclient.get(url)
        assert r.status_code == 200 and r.is_json, url
    # the JSON twins say what the pages show, in the shapes scripts rely on (contracts.md, 5)
    want = {"/api/tonight": {"recording", "sensors", "signal", "window"}, "/api/trends": {"dates", "weeks", "sites"},
            "/api/diary": {"entries", "factors", "comparison"}, "/api/hardware": {"spi", "sites", "wiring"},
            "/api/settings": {"night_start", "night_end", "sensitivity", "raw_retention_days", "password_set"}}
    for url, keys in want.items():
        assert keys <= set(fclient.get(url).get_json()), url
    nights = fclient.get("/api/nights").get_json()["nights"]
    assert sorted(n["id"] for n in nights) == sorted(filled[1])
    assert [n["start"] for n in nights] == sorted((n["start"] for n in nights), reverse=True)  # newest first
    listed = {n["id"]: n for n in nights}[nid]
    one = fclient.get(f"/api/nights/{nid}").get_json()
    for key in ("id", "date", "start", "end", "total", "per_channel", "rest_s", "movements", "heart_rate_bpm"):
        assert one[key] == listed[key], key
    assert sum(listed["per_channel"]) == listed["total"]
    events = fclient.get(f"/api/nights/{nid}/events").get_json()
    assert events["counts"]["total"] == len(events["twitches"]) == listed["total"] > 0
    assert events["counts"]["per_channel"] == listed["per_channel"]
    assert all({"t", "channel", "duration_ms", "peak"} <= set(t) for t in events["twitches"])
    assert len(events["movements"]) == listed["movements"]
    assert all(m["end"] >= m["t"] and m["channels"] for m in events["movements"])


def test_night_detail_has_charts_gallery_and_downloads(fclient, filled):
    nid = filled[1][0]
    n = fclient.get(f"/api/nights/{nid}").get_json()
    html = fclient.get(f"/nights/{nid}").get_data(as_text=True)
    assert html.count('class="chart bars"') == 1 and html.count('class="chart timeline"') == 1
    assert html.count('class="chart wave"') == min(n["total"], 24)
    assert len(n["recordings"]) == 1
    r = fclient.get(n["recordings"][0]["url"])
    assert r.status_code == 200 and r.data[:8] == b"0       "
    assert "attachment" in r.headers["Content-Disposition"]


def test_the_downloaded_edf_opens_with_its_twitches_annotated(fclient, filled, tmp_path):
    mne = needs.module("mne")
    nid = filled[1][0]
    n = fclient.get(f"/api/nights/{nid}").get_json()
    p = tmp_path / "night.edf"
    p.write_bytes(fclient.get(n["recordings"][0]["url"]).data)
    raw = mne.io.read_raw_edf(p, preload=False, verbose="error")
    assert raw.info["sfreq"] == 1000 and len(raw.ch_names) == 4
    assert sum(d.startswith("twitch") for d in raw.annotations.description) == n["total"]


def test_waveforms_are_the_recorded_signal_around_each_twitch(fclient, filled):
    """The gallery's snippet is the raw EDF at the twitch, band-passed: check
    it against the file read independently, and that its peak is near the onset."""
    from scipy.signal import butter, sosfiltfilt

    from firmware_host.traces import open_trace
    nid = filled[1][0]
    w = fclient.get(f"/api/nights/{nid}/waveforms").get_json()
    assert w["raw"] and w["twitches"]
    rec = fclient.get(f"/api/nights/{nid}").get_json()["recordings"][0]
    d = fclient.application.config["DATA_DIR"]
    st = open_store(d)
    path = st.recordings(nid)[0]["path"]
    st.close()
    with open_trace(f"{d}/{path}") as r:
        x = np.vstack(list(r.blocks(100_000)))
    sos = butter(2, [3, 35], btype="band", fs=1000, output="sos")
    for tw in w["twitches"][:5]:
        i = int(round((tw["t"] - rec["start_t"]) * 1000))
        seg = x[i - 1250:i + 1750, tw["channel"]]
        want = sosfiltfilt(sos, seg - np.median(seg))[1000:2000]
        assert np.allclose(tw["y"], want, atol=0.02)
        assert np.argmax(np.abs(tw["y"])) > 200  # after the 0.25 s before the onset


def test_gallery_without_raw_says_so(fclient, filled):
    nid = filled[1][0]
    d = fclient.application.config["DATA_DIR"]
    shutil.rmtree(f"{d}/recordings")  # retention deleted them
    w = fclient.get(f"/api/nights/{nid}/waveforms").get_json()
    assert w["raw"] is False and all(t["y"] is None for t in w["twitches"])
    assert "not on the device" in fclient.get(f"/nights/{nid}").get_data(as_text=True)
    rec = fclient.get(f"/api/nights/{nid}").get_json()["recordings"][0]
    assert fclient.get(rec["url"]).status_code == 404


def test_downloads_stay_inside_the_data_dir(fclient, filled, tmp_path):
    nid = filled[1][0]
    d = fclient.application.config["DATA_DIR"]
    secret = tmp_path / "secret.edf"
    secret.write_bytes(b"0       not yours")
    st = open_store(d)
    bad = [st.add_recording(nid, p, 0.0) for p in ("../secret.edf", str(secret), "recordings/../../secret.edf")]
    st.close()
    for rid in bad:
        assert fclient.get(f"/nights/{nid}/recordings/{rid}.edf").status_code == 404
    other = filled[1][1]
    good = fclient.get(f"/api/nights/{nid}").get_json()["recordings"][0]["id"]
    assert fclient.get(f"/nights/{other}/recordings/{good}.edf").status_code == 404  # not that night's


BAD_VALUES = ["0", "-1", "x", "1e9", "99999999999999999999999", "%00", "..%2F..%2Fetc%2Fpasswd",
              "' OR 1=1 --", "<script>", "9" * 400, "", "%ff%fe"]
QUERY = ["limit", "page", "weeks", "night", "from", "to"]


def _urls_for(rule: str) -> list[str]:
    if "<" not in rule:
        return [rule]
    return [re.sub(r"<[^>]+>", v, rule) for v in BAD_VALUES]


def _routes(app, url: str) -> bool:
    """Whether a POST to ``url`` reaches a view (a %2F is a slash by then)."""
    from urllib.parse import unquote

    from werkzeug.exceptions import NotFound
    try:
        app.url_map.bind("localhost").match(unquote(url), method="POST")
        return True
    except NotFound:
        return False


def test_bad_input_walk_over_every_route_gets_4xx_never_500(fclient):
    """Each route with malformed path parts and query values, GET and POST."""
    app = fclient.application
    tok = _token(fclient)
    rules = [(r.rule, r.methods) for r in app.url_map.iter_rules() if r.endpoint != "static"]
    assert len(rules) >= 20
    settings_before = fclient.get("/api/settings").get_json()
    nights_before = fclient.get("/api/nights").get_json()
    seen = 0
    for rule, methods in rules:
        for url in _urls_for(rule):
            for q in [""] + [f"?{k}={v}" for k in QUERY for v in BAD_VALUES]:
                if "GET" in methods:
                    r = fclient.get(url + q)
                    # answered, refused as malformed, or not found: never a crash, never a redirect elsewhere
                    assert r.status_code in (200, 400, 404), (url + q, r.status_code)
                    if "<int:" in rule:  # a bad id is no such night or recording
                        assert r.status_code == 404, (url + q, r.status_code)
                    if url.startswith("/api/") and r.status_code >= 400:
                        assert r.is_json and "error" in r.get_json(), url + q
                    r.close()
                    seen += 1
            if "POST" in methods:
                for data in ({}, {"csrf_token": tok}, {"csrf_token": tok, "factor": "x" * 300, "notes": "\x00",
                                                      "sensitivity": "nan", "night_start": "25:99",
                                                      "raw_retention_days": "-3", "name0": ""}):
                    r = fclient.post(url, data=data)
                    # refused (no or stale token, bad values), a wrong password, logged out, or no page at
                    # all (a path part with a slash in it: no route, so no view runs)
                    assert r.status_code in (400, 401) or (r.status_code == 302 and url == "/logout") \
                        or (r.status_code == 404 and not _routes(app, url)), \
                        (url, data, r.status_code)
                    seen += 1
    assert seen > 1000
    # and nothing it sent was stored
    assert fclient.get("/api/settings").get_json() == settings_before
    assert fclient.get("/api/nights").get_json() == nights_before
    assert fclient.get("/api/diary").get_json()["entries"] == []


def test_a_huge_night_id_is_404_not_an_overflow(fclient):
    assert fclient.get("/nights/" + "9" * 30).status_code == 404
    assert fclient.get("/api/nights/" + "9" * 30 + "/events").status_code == 404


def test_a_number_too_big_is_out_of_range_and_only_ascii_digits_are_numbers(fclient, filled):
    """A number too big is out of range, not "not a whole number" (cut to 20
    digits); digits of other scripts, which Python's int() and Werkzeug's
    int converter take (/nights/١ was night 1), are no number at all."""
    from web.diary import MAX_CRAMPS
    nid, big = filled[1][0], "9" * 23
    for url, says in [(f"/api/nights/{nid}/waveforms?page={big}", "page must be 1..100000"),
                      (f"/api/trends?weeks={big}", "weeks must be 1..104"),
                      (f"/api/trends?weeks=-{big}", "weeks must be 1..104"),
                      (f"/api/nights?limit={'9' * 5000}", "limit must be 1..1000"),  # past int()'s 4300 digits
                      ("/api/trends?weeks=\u0661\u0662", "weeks must be a whole number")]:
        r = fclient.get(url)
        assert r.status_code == 400 and r.get_json() == {"error": says}, url
    assert fclient.get(f"/export.csv?night={big}").status_code == 404  # no such night, as in a path
    arabic = "".join(chr(0x660 + int(d)) for d in str(nid))
    assert fclient.get(f"/nights/{nid}").status_code == 200
    assert fclient.get(f"/nights/{arabic}").status_code == 404
    assert fclient.get(f"/api/nights/{arabic}/events").status_code == 404
    tok = _token(fclient)
    r = fclient.post("/diary/2026-05-01", data={"cramps": big, "csrf_token": tok})
    assert r.status_code == 400 and f"cramps: from 0 to {MAX_CRAMPS}" in r.get_data(as_text=True)
    r = fclient.post("/diary/2026-05-01", data={"cramps": "1", "cramp_severity": big, "csrf_token": tok})
    assert r.status_code == 400 and "how bad: from 0 (hardly) to 10" in r.get_data(as_text=True)
    settings = fclient.get("/api/settings").get_json()
    form = {"csrf_token": tok, "name0": "a", "name1": "b", "name2": "c", "name3": "d", "night_start": "23:00",
            "night_end": "07:00", "sensitivity": "5", "raw_retention_days": "30"}
    for bad in ({"raw_retention_days": "\u0663\u0660"},
                {"mqtt_host": "broker.lan", "mqtt_port": "\u0661\u0668\u0668\u0663"}):
        r = fclient.post("/settings", data={**form, **bad})
        assert r.status_code == 400 and "is not a number" in r.get_data(as_text=True), bad
    assert fclient.get("/api/settings").get_json() == settings


# -- the live signal -------------------------------------------------------------

def test_live_ring_round_trip_wraps_and_survives_a_restart(tmp_path):
    from firmware_host.live import LiveReader, LiveWriter
    p = tmp_path / "live.ring"
    w = LiveWriter(p, 4, 1000.0, seconds=1.0)
    r = LiveReader(p)
    data = (np.arange(4 * 2600).reshape(2600, 4) % 1024).astype(np.int16)
    got = []
    for a in range(0, 2600, 370):
        w.write(data[a:a + 370])
        first, frames = r.read()
        got.append((first, frames))
    flat = np.vstack([f for _, f in got])
    firsts = [f for f, _ in got]
    assert firsts == list(range(0, 2600, 370)) and np.array_equal(flat, data)
    w.write(data[:2500])  # more than the ring holds between two reads: the newest capacity frames
    first, frames = r.read()
    assert first == 2600 + 1500 and np.array_equal(frames, data[1500:2500])
    w.close()
    w2 = LiveWriter(p, 4, 1000.0, seconds=1.0)  # the daemon restarted: a new ring at the same path
    w2.write(data[:10])
    r2 = LiveReader(p)
    assert r2.read()[1].shape == (0, 4)  # a new reader starts at "now"
    w2.write(data[10:20])
    assert np.array_equal(r2.read()[1], data[10:20])


def test_foreign_or_short_live_files_are_refused(tmp_path):
    from firmware_host.live import LiveError, LiveReader
    for content in (b"", b"hello", b"X" * 200):
        p = tmp_path / "f"
        p.write_bytes(content)
        with pytest.raises(LiveError):
            LiveReader(p)
    with pytest.raises(LiveError):
        LiveReader(tmp_path / "missing")


def test_classify_window_names_each_sensor_fault():
    """The daemon judges the last second with the detector's own tests and
    writes the states into the live ring; the page only reads them."""
    from firmware_host.detector.faults import classify_window as classify
    rng = np.random.default_rng(1)
    t = np.arange(1000) / 1000
    ok = 512 + 4 * rng.standard_normal(1000) + 20 * np.sin(2 * np.pi * 1.2 * t)
    x = np.stack([ok, np.full(1000, 1023.0), np.full(1000, 511.0), 512 + 40 * np.sin(2 * np.pi * 60 * t),
                  np.zeros(1000)], axis=1)
    assert classify(np.round(x), 1000.0) == ["ok", "railed", "unplugged", "hum", "railed"]


def test_a_connected_sensor_with_some_hum_on_its_cable_is_ok():
    # 8 codes of mains (with its harmonics) over 0.5 codes of the sensor's
    # own noise is over 80% hum, but a lead that came off picks up tens of
    # codes (here 30): this sensor works, and the notches take the hum out
    # (it was called a loose lead, and its twitches lost, at 5 codes rms)
    from firmware_host.detector.faults import classify_window as classify
    rng = np.random.default_rng(2)
    t = np.arange(1000) / 1000
    w = 2 * np.pi * 50 * t
    hummy = 512 + 8 * np.sin(w) + 0.8 * np.sin(2 * w) + 2.4 * np.sin(3 * w) + 0.5 * rng.standard_normal(1000)
    loose = 512 + 30 * np.sin(w) + 0.3 * rng.standard_normal(1000)
    assert classify(np.round(np.stack([hummy, loose], axis=1)), 1000.0) == ["ok", "hum"]


def _ring_app(tmp_path, status_codes):
    from firmware_host.live import LiveWriter
    d = tmp_path / "data"
    st = open_store(d)
    w = LiveWriter(tmp_path / "live.ring", 4, 1000.0)
    st.set_setting("live_path", str(w.path))
    st.close()
    w.write(status_codes)
    _judge_sensors(w)
    return create_app({"DATA_DIR": str(d), "TESTING": True}), w


def _judge_sensors(ring):
    """What the daemon does once a second: the last second judged by the
    detector's faults stage, written into the ring (the page only reads it)."""
    from types import SimpleNamespace

    from firmware_host.daemon import Daemon
    from firmware_host.daemon.nightcheck import NightChecks
    Daemon.judge_sensors(SimpleNamespace(live=ring, rate=ring.rate_hz, gain=1.0, rec=None, sensors_at=-1e9,
                                         checks=NightChecks()))


def test_tonight_reports_each_sensor_from_the_live_signal(tmp_path):
    rng = np.random.default_rng(2)
    x = np.stack([512 + 4 * rng.standard_normal(1000), np.full(1000, 0.0), np.full(1000, 512.0),
                  512 + 4 * rng.standard_normal(1000)], axis=1)
    app, w = _ring_app(tmp_path, np.round(x))
    t = app.test_client().get("/api/tonight").get_json()
    assert t["signal"] is True and t["recording"] is False
    assert [s["status"] for s in t["sensors"]] == ["ok", "railed", "unplugged", "ok"]
    assert [s["site"] for s in t["sensors"]] == pins.site_names(4)
    w.close(remove=False)
    # a ring not written for STALE_S is "no signal": a negative STALE_S makes this one stale
    import web.tonight as tn
    old, tn.STALE_S = tn.STALE_S, -1.0
    try:
        t = app.test_client().get("/api/tonight").get_json()
    finally:
        tn.STALE_S = old
    assert t["signal"] is False and {s["status"] for s in t["sensors"]} == {"no signal"}


def test_live_stream_sends_new_frames_as_display_rate_means(tmp_path, monkeypatch, request):
    import web.tonight as tn
    monkeypatch.setattr(tn, "TICK_S", 0.01)
    x = np.tile(np.array([[500.0, 510, 520, 530]]), (2000, 1))
    x[:, 0] += np.arange(2000) % 4  # 500,501,502,503 repeating: means of 4 are 501.5
    app, w = _ring_app(tmp_path, x)
    resp = app.test_client().get("/api/live")
    request.addfinalizer(resp.close)
    assert resp.status_code == 200 and resp.mimetype == "text/event-stream"
    it = (b.decode() for b in resp.response)
    assert next(it).startswith("retry:")
    msg = json.loads(next(it).split("data: ", 1)[1])
    assert msg["hz"] == 250.0 and len(msg["y"]) == 4
    assert set(msg["y"][0]) == {501.5} and set(msg["y"][3]) == {530.0}
    assert len(msg["y"][0]) == 500  # the last 2 s written, at 250 Hz
    assert msg["status"] == ["ok"] + ["unplugged"] * 3  # a constant signal is a flat line
    w.write(np.full((40, 4), 600.0))
    msg2 = json.loads(next(it).split("data: ", 1)[1])
    assert msg2["t0"] == pytest.approx(2.0) and msg2["y"][1] == [600.0] * 10
    resp.close()


def test_live_viewers_are_capped(tmp_path, request):
    import web.tonight as tn
    app, w = _ring_app(tmp_path, np.full((100, 4), 512.0))
    c = app.test_client()
    open_ = [c.get("/api/live") for _ in range(tn.MAX_STREAMS)]
    for r in open_:
        request.addfinalizer(r.close)
    assert all(r.status_code == 200 for r in open_)
    assert c.get("/api/live").status_code == 503
    for r in open_:
        r.close()
    again = c.get("/api/live")
    request.addfinalizer(again.close)  # its view held until then, not until the garbage collector's turn
    assert again.status_code == 200


# -- trends ------------------------------------------------------------------------

def _nights(rates_per_site: list[list[float]], rest_h=5.0) -> list[dict]:
    out = []
    for i in range(len(rates_per_site[0])):
        out.append({"id": i + 1, "date": f"2026-03-{i + 1:02d}", "rest_s": rest_h * 3600,
                    "per_channel": [int(round(s[i] * rest_h)) for s in rates_per_site],
                    "channel_names": ["Left calf", "Left thigh"]})
    return out


def test_a_site_that_starts_twitching_is_flagged_and_a_steady_one_is_not():
    from web.trends import site_rates, spread_flags
    calf = [6.0] * 14  # always active: not new
    thigh = [0.0] * 8 + [0.2, 3.0, 4.0, 0.0, 5.0, 3.2]  # quiet, then active on 4 of the last 7
    flags = spread_flags(*site_rates(_nights([calf, thigh])))
    assert [f["site"] for f in flags] == ["Left thigh"]
    assert flags[0]["since"] == "2026-03-10" and flags[0]["before_nights"] == 7
    # only two active nights lately: not flagged; too few nights before: not judged
    assert spread_flags(*site_rates(_nights([calf, [0.0] * 10 + [3.0, 3.0, 0, 0]]))) == []
    assert spread_flags(*site_rates(_nights([calf[:9], [0.0, 0.0] + [3.0] * 7])))== []


def test_trends_page_shows_the_flag_with_the_not_a_diagnosis_line(tmp_path):
    import datetime as dt
    d = tmp_path / "data"
    st = open_store(d)
    today = dt.date.today()
    for i in range(14):
        day = (today - dt.timedelta(days=14 - i)).isoformat()
        nid = st.add_night(date=day, start_utc=f"{day}T22:00:00+00:00", source="t", rate_hz=1000.0, channels=2,
                           channel_names=["Left calf", "Right thigh"], status="complete")
        st.update_night(nid, rest_s=5 * 3600)
        st.add_events(nid, [{"t": 10.0 + k, "channel": 0 if k % 2 or i < 8 else 1, "duration_ms": 100,
                             "peak": 5, "snr": 5} for k in range(30)])
        st.refresh_counts(nid)
    st.close()
    c = create_app({"DATA_DIR": str(d), "TESTING": True}).test_client()
    api = c.get("/api/trends").get_json()
    assert [f["site"] for f in api["new_sites"]] == ["Right thigh"]
    html = c.get("/trends").get_data(as_text=True)
    assert "Right thigh:" in html and "not a diagnosis" in html and 'class="chart lines"' in html
    assert c.get("/api/trends?weeks=0").status_code == 400


# -- settings ----------------------------------------------------------------------

def test_settings_save_validate_and_reach_the_daemon(fclient):
    from firmware_host.config import effective_config
    from firmware_host.daemon import site_names
    tok = _token(fclient)
    form = {"csrf_token": tok, "name0": "L gastrocnemius", "name1": "L quads", "name2": "R calf",
            "name3": "R thigh", "night_start": "23:15", "night_end": "06:45", "timezone": "Europe/Paris",
            "sensitivity": "7", "raw_retention_days": "14", "lan_read_only": "on"}
    assert fclient.post("/settings", data=form).status_code == 302
    s = fclient.get("/api/settings").get_json()
    assert s["night_start"] == "23:15" and s["timezone"] == "Europe/Paris" and s["sensitivity"] == 7.0
    assert s["channel_names"][0] == "L gastrocnemius" and s["lan_read_only"] is True
    st = open_store(fclient.application.config["DATA_DIR"])
    cfg = effective_config(None, st)
    assert (cfg.night_start.hour, cfg.night_end.minute, cfg.raw_retention_days) == (23, 45, 14)
    assert site_names(st, 4)[1] == "L quads" and st.get_setting("config_rev") == 1
    st.close()
    for bad, field in [({"night_start": "25:00"}, "night.start"), ({"sensitivity": "11"}, "sensitivity"),
                       ({"timezone": "Mars/Olympus"}, "time zone"), ({"name2": ""}, "site 3"),
                       ({"name3": "R calf"}, "own name"), ({"raw_retention_days": "x"}, "not a number"),
                       ({"night_end": "23:15"}, "same time")]:
        r = fclient.post("/settings", data={**form, **bad})
        assert r.status_code == 400 and field in r.get_data(as_text=True), bad
    assert fclient.get("/api/settings").get_json()["night_start"] == "23:15"  # nothing half-saved


def test_sensitivity_is_a_plain_ascii_number_from_1_to_10(fclient):
    """float() took other scripts' digits ("\u0665" and the fullwidth "\uff15" as 5),
    "1e0" and "1_0": the settings' sensitivity is plain ASCII digits with an
    optional point, one line saying so, in its range 1..10, and nothing saved."""
    tok = _token(fclient)
    form = {"csrf_token": tok, "name0": "a", "name1": "b", "name2": "c", "name3": "d", "night_start": "23:00",
            "night_end": "07:00", "raw_retention_days": "30"}
    json_ = {"Accept": "application/json"}
    before = fclient.get("/api/settings").get_json()
    for bad in ["\u0665", "\uff15", "\u0967\u0966", "1e0", "5e-1", "1_0", "_5", "nan", "inf", "-inf", "0x5", "5,5",
                "", "five"]:
        r = fclient.post("/settings", data={**form, "sensitivity": bad}, headers=json_)
        assert r.status_code == 400 and r.get_json() == {"error": f"sensitivity: {bad!r} is not a number"}, bad
    for bad in ["0.5", "10.5", "11", "-5", "9" * 400]:
        r = fclient.post("/settings", data={**form, "sensitivity": bad}, headers=json_)
        assert r.status_code == 400 and "must be a number from 1 to 10" in r.get_json()["error"], bad
    r = fclient.post("/settings", data={**form, "sensitivity": "\u0665"})  # the page says it too
    assert r.status_code == 400 and "sensitivity: &#39;\u0665&#39; is not a number" in r.get_data(as_text=True)
    assert fclient.get("/api/settings").get_json() == before
    for good, value in [("1", 1.0), ("10", 10.0), ("7.5", 7.5), (" 2.5 ", 2.5), ("+3", 3.0), ("4.", 4.0),
                        ("06.50", 6.5)]:
        assert fclient.post("/settings", data={**form, "sensitivity": good}).status_code == 302, good
        assert fclient.get("/api/settings").get_json()["sensitivity"] == value, good


def test_password_change_needs_the_current_one(fclient):
    tok = _token(fclient)
    assert fclient.post("/settings/password", data={"csrf_token": tok, "new_password": "short",
                                                    "new_password2": "short"}).status_code == 400
    assert fclient.post("/settings/password", data={"csrf_token": tok, "new_password": "first pass",
                                                    "new_password2": "first pass"}).status_code == 302
    r = fclient.post("/settings/password", data={"csrf_token": tok, "current_password": "wrong",
                                                 "new_password": "second pass", "new_password2": "second pass"})
    assert r.status_code == 400
    assert fclient.post("/settings/password", data={"csrf_token": tok, "current_password": "first pass",
                                                    "new_password": "second pass",
                                                    "new_password2": "second pass"}).status_code == 302
    from werkzeug.security import check_password_hash
    st = open_store(fclient.application.config["DATA_DIR"])
    assert check_password_hash(st.get_setting("password_hash"), "second pass")
    st.close()


# -- hardware ----------------------------------------------------------------------

def test_hardware_page_shows_the_pin_table_the_code_reads(fclient):
    html = fclient.get("/hardware").get_data(as_text=True)
    for row in pins.wiring_rows():
        assert row["from"] in html and row["to"] in html
    for s in pins.SITES:
        assert s.placement in html
    svg = fclient.get("/hardware/schematic.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and b"MCP3008" in svg.data
    lay = fclient.get("/hardware/layout.svg")
    assert lay.status_code == 200 and lay.mimetype == "image/svg+xml" and b"U1 MCP3008" in lay.data
    api = fclient.get("/api/hardware").get_json()
    assert api["wiring"] == pins.wiring_rows() and len(api["bom"]) >= 10


def test_live_stream_carries_the_night_counts_while_recording(tmp_path, monkeypatch, request):
    import web.tonight as tn
    monkeypatch.setattr(tn, "TICK_S", 0.01)
    app, w = _ring_app(tmp_path, np.full((2000, 4), 512.0))
    st = open_store(app.config["DATA_DIR"])
    nid = st.add_night(date="2026-05-01", start_utc="2026-05-01T22:00:00+00:00", source="t", rate_hz=1000.0,
                       channels=4, channel_names=pins.site_names(4), status="recording")
    st.add_events(nid, [{"t": 1.0, "channel": 2, "duration_ms": 90, "peak": 5, "snr": 6}])
    st.refresh_counts(nid)
    st.close()
    w.set_state(["ok"] * 4, nid)
    w.write(np.full((100, 4), 512.0))
    resp = app.test_client().get("/api/live")
    request.addfinalizer(resp.close)
    it = (b.decode() for b in resp.response)
    next(it)
    msg = json.loads(next(it).split("data: ", 1)[1])
    assert msg["night"] == {"id": nid, "total": 1, "per_channel": [0, 0, 1, 0], "movements": 0,
                            "rest_s": 0.0, "counted_s": None}  # no detector step stored yet
    assert app.test_client().get("/api/tonight").get_json()["night"]["total"] == 1


def test_every_form_control_has_a_label_and_every_image_a_text(fclient, filled):
    """Accessibility basics on every page: each visible input, select and
    textarea is labelled (label for=id, or inside its label), each <img>
    has alt text and each chart <svg> a role and a label; the page has a lang."""
    from html.parser import HTMLParser

    class Scan(HTMLParser):
        def __init__(self):
            super().__init__()
            self.controls, self.label_for, self.in_label, self.problems, self.lang = [], set(), 0, [], None

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "html":
                self.lang = a.get("lang")
            if tag == "label":
                self.in_label += 1
                if a.get("for"):
                    self.label_for.add(a["for"])
            if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
                self.controls.append((a.get("id"), self.in_label > 0, a.get("name")))
            if tag == "img" and not a.get("alt"):
                self.problems.append(f"img without alt: {a.get('src')}")
            if tag == "svg" and "chart" in (a.get("class") or "") and not (a.get("role") and a.get("aria-label")):
                self.problems.append("chart svg without role/aria-label")

        def handle_endtag(self, tag):
            if tag == "label":
                self.in_label -= 1

    nid = filled[1][0]
    for url in PAGES + [f"/nights/{nid}"]:
        s = Scan()
        s.feed(fclient.get(url).get_data(as_text=True))
        unlabelled = [name for cid, inside, name in s.controls if not inside and cid not in s.label_for]
        assert unlabelled == [] and s.problems == [] and s.lang == "en", (url, unlabelled, s.problems)


def test_one_twitch_and_one_movement_read_in_the_singular(tmp_path):
    """"1 movements" on the Nights page, "1 twitches" from twitchmon replay:
    a count of one takes the singular wherever a count is written out."""
    from firmware_host.replay import _line
    st = open_store(tmp_path / "data")
    one = st.add_night(date="2026-05-01", start_utc="2026-05-01T22:00:00+00:00", source="t", rate_hz=1000.0,
                       channels=4, channel_names=pins.site_names(4), status="recording")
    st.add_events(one, [{"t": 1.0, "channel": 2, "duration_ms": 90, "peak": 5, "snr": 6}],
                  movements=[{"t": 10.0, "end": 12.0, "channels": [0]}])
    st.refresh_counts(one)
    st.update_night(one, rest_s=3600.0, duration_s=3600.0)
    two = st.add_night(date="2026-05-02", start_utc="2026-05-02T22:00:00+00:00", source="t", rate_hz=1000.0,
                       channels=4, channel_names=pins.site_names(4), status="complete")
    st.update_night(two, total=2, per_channel=[2, 0, 0, 0], movements=0, rest_s=3600.0, duration_s=3600.0)
    st.close()
    c = create_app({"DATA_DIR": str(tmp_path / "data"), "TESTING": True}).test_client()

    def text(url):
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", c.get(url).get_data(as_text=True)))
    nights = text("/")
    assert "1 twitch ·" in nights and "1 movement PLM" in nights and "1 movements" not in nights
    assert "2 twitches ·" in nights and "0 movements PLM" in nights
    assert "Last night (2026-05-02): 2 twitches," in nights
    detail = text(f"/nights/{one}")
    assert "1 twitch in 1.0 h at rest" in detail and "1 movement." in detail
    assert "timeline: rest, 1 movement, 1 twitch" in c.get(f"/nights/{one}").get_data(as_text=True).lower()
    tonight = text("/tonight")
    assert "1 twitch so far" in tonight and "1 movement." in tonight
    assert "2026-05-01: 1 twitch " in text("/diary")
    report = {"source": "night.edf", "duration_s": 120.0, "rest_s": 120.0, "movements": [{"t": 1.0}],
              "counts": {"total": 1, "per_channel": [1, 0, 0, 0]}}
    assert _line(report) == "night.edf: 2.0 min, rest 2.0 min, 1 twitch [1, 0, 0, 0], 1 movement"
    assert _line({**report, "movements": [], "counts": {"total": 0, "per_channel": [0] * 4}}).endswith(
        "0 twitches [0, 0, 0, 0], 0 movements")
