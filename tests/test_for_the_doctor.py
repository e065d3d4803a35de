"""Issue 13: cramps logged three ways and shown everywhere, the heart rate's
resting figure, and the doctor's report (PDF through pdftotext and pdftoppm,
the command line's one-line failures)."""
import csv
import datetime as dt
import io
import re
import shutil
import subprocess
import time

import pytest
from werkzeug.security import generate_password_hash

from twitchmon_testkit.doctorlib import fill_weeks
from firmware_host import heart, pins
from firmware_host.cli import main as cli
from firmware_host.cramps import before_cramp
from firmware_host.store import open_store
from web import attempts, create_app


@pytest.fixture(scope="module")
def weeks(tmp_path_factory):
    d = tmp_path_factory.mktemp("weeks") / "data"
    period = fill_weeks(str(d), nights=15, minutes=2.0)
    return d, period


@pytest.fixture
def site(weeks, tmp_path):
    d = tmp_path / "data"
    shutil.copytree(weeks[0], d)
    attempts._fails.clear()
    return d, create_app({"DATA_DIR": str(d), "TESTING": True}).test_client(), weeks[1]


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _pdftext(pdf: bytes, tmp_path) -> str:
    p = tmp_path / "r.pdf"
    p.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(p), "-"], capture_output=True, text=True, check=True).stdout


def _everywhere(client, nid: int, tmp_path) -> dict:
    """What the night page, the API, the CSV and the report say of a night's cramps."""
    n = client.get(f"/api/nights/{nid}").get_json()
    rows = list(csv.reader(io.StringIO(client.get(f"/export.csv?night={nid}").get_data(as_text=True))))
    head = rows[0]
    cramps_csv = [dict(zip(head, r)) for r in rows[1:] if r[0] == "cramp"]
    r = client.get(f"/report?from={n['date']}&to={n['date']}")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    return {"api": n, "html": client.get(f"/nights/{nid}").get_data(as_text=True), "csv": cramps_csv,
            "pdf": _pdftext(r.get_data(), tmp_path),
            "list": client.get("/api/nights").get_json()["nights"]}


# -- the bedside button ----------------------------------------------------------

@pytest.mark.parametrize("setting", [None, "mark"])
def test_a_short_press_of_the_mock_button_logs_a_cramp_unless_set_to_mark(tmp_path, setting):
    from gpiozero.pins.mock import MockFactory

    from firmware_host.daemon import NightRecorder
    from firmware_host.simulator import Night
    from firmware_host.status import StatusPanel

    store = open_store(tmp_path)
    if setting:
        store.set_setting("button_press", setting)
    night = Night(1.0, seed=5)
    rec = NightRecorder(store, tmp_path, night.rate_hz, night.channels, "sim")
    factory = MockFactory()
    flags = {}
    # as the daemon wires it: the press sets a flag, the loop logs it between blocks
    panel = StatusPanel(on_mark=lambda: flags.update(mark=True), pin_factory=factory, hold_time_s=2.0)
    btn = factory.pin(int(pins.BUTTON_PIN[4:]))
    try:
        for i, block in enumerate(night.blocks(1000)):
            if i == 30:  # 30 s in
                btn.drive_low(); time.sleep(0.05); btn.drive_high(); time.sleep(0.1)  # noqa: E702
            rec.feed(block)
            if flags.pop("mark", False):
                rec.mark()
        rec.close()
    finally:
        panel.close()
        factory.reset()
    nid = rec.night_id
    marks = store.db.execute("SELECT count(*) FROM events WHERE night_id = ? AND kind = 'mark'", (nid,)).fetchone()[0]
    cramps = store.cramps(night_id=nid)
    store.close()
    if setting == "mark":
        assert marks == 1 and cramps == []
        return
    assert marks == 0 and len(cramps) == 1
    c = cramps[0]
    assert c["source"] == "button" and c["leg"] is None and 30.0 <= c["t"] <= 31.5
    client = create_app({"DATA_DIR": str(tmp_path), "TESTING": True}).test_client()
    seen = _everywhere(client, nid, tmp_path)
    assert seen["api"]["cramps"] == 1 and seen["api"]["cramp_list"][0]["source"] == "button"
    assert seen["list"][0]["cramps"] == 1
    assert 'id="cramps"' in seen["html"] and "<small>button</small>" in seen["html"]
    assert 'class="cramp"' in seen["html"]  # its mark on the timeline
    assert [(r["logged_by"], float(r["t_s"])) for r in seen["csv"]] == [("button", c["t"])]
    assert "1 cramp logged on 1 of the 1 nights" in " ".join(seen["pdf"].split())


# -- the page's control ------------------------------------------------------------

def test_the_page_logs_a_cramp_with_its_form_token_on_the_night_being_recorded(tmp_path):
    st = open_store(tmp_path)
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20)
    nid = st.add_night(date="2026-11-20", start_utc=start.isoformat(timespec="seconds"), source="sim",
                       rate_hz=1000.0, channels=4, channel_names=pins.site_names(4), status="recording")
    st.update_night(nid, rest_s=1000.0, duration_s=1200.0)
    st.close()
    c = create_app({"DATA_DIR": str(tmp_path), "TESTING": True}).test_client()
    page = c.get("/tonight").get_data(as_text=True)
    assert "Log a cramp" in page
    assert c.post("/tonight/cramp", data={"leg": "left"}).status_code == 400  # no form token
    assert c.post("/tonight/cramp", data={"leg": "middle", "csrf_token": _token(page)}).status_code == 400
    assert c.get(f"/api/nights/{nid}").get_json()["cramps"] == 0
    r = c.post("/tonight/cramp", data={"leg": "left", "csrf_token": _token(page)})
    assert r.status_code == 302 and "cramp=" in r.headers["Location"]
    assert "Cramp logged" in c.get(r.headers["Location"]).get_data(as_text=True)
    # finish the night as the recorder does, then it is everywhere
    st = open_store(tmp_path)
    st.update_night(nid, status="complete")
    st.close()
    seen = _everywhere(c, nid, tmp_path)
    got = seen["api"]["cramp_list"]
    assert len(got) == 1 and got[0]["source"] == "page" and got[0]["leg"] == "left"
    assert 1195 <= got[0]["t"] <= 1260  # 20 minutes into the night
    assert [(r["logged_by"], r["site"]) for r in seen["csv"]] == [("page", "left")]
    assert "<td>left</td>" in seen["html"] and "<small>page</small>" in seen["html"]
    assert "1 cramp logged" in " ".join(seen["pdf"].split())


def test_read_only_viewers_on_the_lan_cannot_log_a_cramp(tmp_path):
    st = open_store(tmp_path)
    st.set_setting("password_hash", generate_password_hash("correct horse"))
    st.set_setting("lan_read_only", True)
    st.close()
    attempts._fails.clear()
    c = create_app({"DATA_DIR": str(tmp_path), "HOST": "192.168.1.20", "TESTING": True}).test_client()
    page = c.get("/tonight").get_data(as_text=True)  # anyone may look
    assert "Log in to log a cramp" in page
    r = c.post("/tonight/cramp", data={"leg": "left", "csrf_token": _token(page)})
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    r = c.post("/tonight/cramp", data={"leg": "left"}, headers={"Accept": "application/json"})
    assert r.status_code in (302, 400, 401)
    st = open_store(tmp_path)
    assert st.cramps() == []
    st.close()


# -- the morning diary ------------------------------------------------------------

def test_the_diary_logs_how_many_which_leg_and_how_bad(site, tmp_path):
    d, c, _ = site
    n = c.get("/api/nights").get_json()["nights"][3]
    page = c.get("/diary").get_data(as_text=True)
    tok = _token(page)
    assert 'value="magnesium"' in page and 'value="calcium"' in page and 'value="anxiety"' in page
    for bad in ({"cramps": "-1"}, {"cramps": "21"}, {"cramps": "two"}, {"cramps": "1", "cramp_leg": "arm"},
                {"cramps": "1", "cramp_severity": "11"}, {"cramps": "1", "cramp_severity": "x"}):
        r = c.post(f"/diary/{n['date']}", data={"csrf_token": tok, "factor": "anxiety", **bad})
        assert r.status_code == 400, bad
    assert c.get(f"/api/nights/{n['id']}").get_json()["cramps"] == 0  # nothing saved by a refused form
    assert "anxiety" not in c.get("/api/diary").get_json()["entries"][0]["factors"]
    r = c.post(f"/diary/{n['date']}", data={"csrf_token": tok, "factor": ["calcium", "anxiety"], "cramps": "3",
                                              "cramp_leg": "right", "cramp_severity": "7"})
    assert r.status_code == 302
    seen = _everywhere(c, n["id"], tmp_path)
    assert seen["api"]["cramps"] == 3
    assert [(x["source"], x["leg"], x["severity"]) for x in seen["api"]["cramp_list"]] == [("diary", "right", 7)] * 3
    assert [(r["logged_by"], r["site"], r["severity_0_10"], r["t_s"]) for r in seen["csv"]] == \
        [("diary", "right", "7", "")] * 3
    assert "3 cramps logged on 1 of the 1 nights (right 3); how bad, on average 7.0/10" in " ".join(seen["pdf"].split())
    # saved again with fewer: replaced, not added
    c.post(f"/diary/{n['date']}", data={"csrf_token": tok, "cramps": "1", "cramp_leg": "both", "cramp_severity": "2"})
    assert c.get(f"/api/nights/{n['id']}").get_json()["cramps"] == 1
    entry = [e for e in c.get("/api/diary").get_json()["entries"] if e["date"] == n["date"]][0]
    assert entry["cramps"] == {"count": 1, "leg": "both", "severity": 2}
    # a client that only ticks factors leaves the cramps alone
    c.post(f"/diary/{n['date']}", data={"csrf_token": tok, "factor": "caffeine"})
    assert c.get(f"/api/nights/{n['id']}").get_json()["cramps"] == 1


def test_the_diary_compares_cramp_nights_like_the_other_factors(site):
    _, c, _ = site
    nights = c.get("/api/nights").get_json()["nights"]
    comp = {f["factor"]: f for f in c.get("/api/diary").get_json()["comparison"]}
    with_c = [n for n in nights if n["cramps"] and n["twitches_per_rest_hour"] is not None]
    without = [n for n in nights if not n["cramps"] and n["twitches_per_rest_hour"] is not None]
    assert comp["cramps"]["with"]["nights"] == len(with_c) == 2
    assert comp["cramps"]["without"]["nights"] == len(without)
    want = sum(n["twitches_per_rest_hour"] for n in with_c) / len(with_c)
    assert comp["cramps"]["with"]["rate"] == pytest.approx(want, abs=0.02)
    assert comp["magnesium"]["with"]["nights"] == 8  # even nights of the 15
    assert "Cramps (any logged)" in c.get("/diary").get_data(as_text=True)


# -- the 30 minutes before a cramp --------------------------------------------------

def test_the_twitch_rate_before_a_cramp_is_on_its_leg_against_the_night():
    legs = ["left", "left", "right", "right"]
    night = {"per_channel": [20, 10, 40, 0], "rest_s": 7200.0}
    # in the 30 min before t=3600: 6 on the left leg (ch 0 and 1), 5 on the right (not counted), one left
    # twitch at 1799 s (just outside) and one at 3600 (the cramp's own second, outside)
    tws = [{"t": 1900.0 + 200 * i, "channel": i % 2} for i in range(6)] + \
          [{"t": 2000.0 + 10 * i, "channel": 2} for i in range(5)] + \
          [{"t": 1799.0, "channel": 0}, {"t": 3600.0, "channel": 1}]
    moves = [{"t": 3000.0, "end": 3010.0, "channels": [0]}]  # 10 s + 3 s settling not at rest
    b = before_cramp({"t": 3600.0, "leg": "left"}, night, tws, moves, legs)
    assert b["twitches_before"] == 6 and b["rest_before_s"] == 1800.0 - 13.0
    assert b["rate_before"] == round(6 / (1787.0 / 3600), 2)  # 12.09 per rest hour
    assert b["rate_night"] == round(30 / 2.0, 2)  # left sites' 30 over 2 rest hours
    # leg unknown (the button): every site
    b = before_cramp({"t": 3600.0, "leg": None}, night, tws, moves, legs)
    assert b["twitches_before"] == 11 and b["rate_night"] == 35.0
    assert before_cramp({"t": None, "leg": "left"}, night, tws, moves, legs) is None  # the diary's: no time


# -- heart rate ----------------------------------------------------------------------

def test_lowest_10_minute_median_needs_enough_confident_steps():
    # window 0 (0-600 s): 12 steps at 60 bpm; window 1: 9 steps at 50 (too few); window 2: 10 at 55, 1 at 90
    pts = [(30.0 * i, 60.0) for i in range(12)] + [(600 + 30.0 * i, 50.0) for i in range(9)] + \
          [(1200 + 30.0 * i, 55.0) for i in range(10)] + [(1790.0, 90.0)]
    assert heart.lowest_window_median(pts) == 55.0
    assert heart.lowest_window_median(pts[:21]) == 60.0
    assert heart.lowest_window_median([(0.0, 50.0)] * 9) is None


def test_heart_track_stamps_each_confident_step_with_the_detector_s_progress():
    class Det:  # what HeartTrack reads of the detector: periods (working samples), fw (Hz), analysed_s
        fw, periods, analysed_s = 250.0, [], 0.0
    det, track = Det(), heart.HeartTrack()
    for k in range(25):
        det.analysed_s = 30.0 * (k + 1)
        if k % 5:  # every fifth step unsure: no period
            det.periods.append(250.0 if k < 20 else 300.0)  # 60 bpm, then 50 bpm
        track.update(det)
    assert len(track.points) == 20 and track.points[0] == (60.0, 60.0)
    # window 0 (0-600 s): steps at 60..570 s, 15 of them at 60 bpm; window 1: 5 (too few)
    assert track.lowest_10min_bpm() == 60.0


def test_heart_rate_is_shown_only_where_the_detector_was_sure(site):
    d, c, _ = site
    nid = c.get("/api/nights").get_json()["nights"][0]["id"]
    st = open_store(d)
    n = st.night(nid)
    st.update_night(nid, heart_rate_bpm=None, summary={**n["summary"], "heart_rate_lowest_10min_bpm": 51.0})
    st.close()
    got = c.get(f"/api/nights/{nid}").get_json()
    assert got["heart_rate_bpm"] is None and got["heart_rate_lowest_10min_bpm"] is None
    html = c.get(f"/nights/{nid}").get_data(as_text=True)
    summary = html.split('<details class="more"><summary>')[1].split("</summary>")[0]
    assert "PLM index" in summary and "heart" not in summary
    assert c.get("/api/trends").get_json()["resting_heart_rate_bpm"][-1] is None


# -- the report ---------------------------------------------------------------------

def _api_figures(client, a: str, b: str) -> dict:
    """The period's per-site rates, cramps and PLM index worked out from /api/nights alone."""
    nights = [n for n in client.get("/api/nights?limit=1000").get_json()["nights"] if a <= n["date"] <= b]
    rest_h = sum(n["rest_s"] for n in nights) / 3600
    C = len(nights[0]["per_channel"])
    return {"sites": {nights[0]["channel_names"][c]: sum(n["per_channel"][c] for n in nights) / rest_h
                      for c in range(C)},
            "cramps": sum(n["cramps"] for n in nights),
            "plm": sum(n["plm_index"] * n["rest_s"] / 3600 for n in nights) / rest_h, "nights": len(nights)}


def test_the_report_says_what_the_api_says_for_the_same_period(site, tmp_path):
    _, c, period = site
    a, b = period["from"], period["to"]
    want = _api_figures(c, a, b)
    r = c.get(f"/report?from={a}&to={b}")
    assert r.status_code == 200 and r.get_data()[:5] == b"%PDF-"
    assert f'filename="twitchmon-report-{a}-to-{b}.pdf"' in r.headers["Content-Disposition"]
    text = _pdftext(r.get_data(), tmp_path)
    flat = " ".join(text.split())
    page1 = text.split("\f")[0]
    # page one carries the answers: how often, where, spreading, cramps
    for heading in ("How often", "Where", "Spreading", "Cramps"):
        assert heading in page1
    for site_name, rate in want["sites"].items():
        row = re.search(rf"^{site_name}\s+(\d+)\s+([\d.]+)", page1, re.M)
        assert row and row.group(2) == f"{rate:.1f}", (site_name, rate, row and row.group(0))
    assert f"{want['cramps']} cramps logged" in flat and want["cramps"] == 3
    plm = float(re.search(r"PLM index ([\d.]+) per rest hour", flat).group(1))
    assert plm == pytest.approx(want["plm"], abs=0.06) and plm > 0
    assert f"{want['nights']} nights recorded" in flat
    # and the JSON twin has the same figures
    j = c.get(f"/api/report?from={a}&to={b}").get_json()
    assert {s["site"]: s["rate"] for s in j["sites"]} == pytest.approx(want["sites"], abs=0.006)
    assert j["cramps"]["count"] == 3 and j["plm"]["index"] == pytest.approx(want["plm"], abs=0.006)
    assert "not a medical device" in flat and "WASM 2016" in flat and "no sleep staging" in flat


def test_a_month_is_two_pages_and_each_renders_to_png(site, tmp_path):
    _, c, period = site
    b = dt.date.fromisoformat(period["to"])
    a = (b - dt.timedelta(days=29)).isoformat()
    pdf = tmp_path / "month.pdf"
    pdf.write_bytes(c.get(f"/report?from={a}&to={b}").get_data())
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+2$", info, re.M)
    assert re.search(r"^Page size:.*\(A4\)$", info, re.M)
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(pdf), str(tmp_path / "p")], check=True)
    pngs = sorted(tmp_path.glob("p-*.png"))
    assert len(pngs) == 2 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_the_report_command_writes_the_pdf_and_fails_in_one_line(weeks, tmp_path, capsys):
    d, period = weeks
    out = tmp_path / "r.pdf"
    assert cli(["report", "--from", period["from"], "--to", period["to"], "--out", str(out),
                "--data-dir", str(d)]) == 0
    assert out.read_bytes()[:5] == b"%PDF-" and "15 nights" in capsys.readouterr().out
    cases = [
        (["--from", period["to"], "--to", period["from"]], "reversed"),
        (["--from", "2001-01-01", "--to", "2001-01-31"], "no nights were recorded from 2001-01-01 to 2001-01-31"),
        (["--from", "2026-02-30", "--to", "2026-03-01"], "is not a date"),
        (["--from", "2020-01-01", "--to", "2026-01-01"], "at most 366"),
    ]
    for args, words in cases:
        bad = tmp_path / "bad.pdf"
        assert cli(["report", *args, "--out", str(bad), "--data-dir", str(d)]) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("twitchmon report: ") and words in err, err
        assert "Traceback" not in err and not bad.exists()
    empty = tmp_path / "empty"
    assert cli(["report", "--from", "2026-01-01", "--to", "2026-01-02", "--out", str(out),
                "--data-dir", str(empty)]) == 2
    assert "no nights in" in capsys.readouterr().err and not (empty / "twitchmon.db").exists()
    # a directory as --out: said as given, not as the temporary file beside it
    assert cli(["report", "--from", period["from"], "--to", period["to"], "--out", str(tmp_path),
                "--data-dir", str(d)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a directory" in err and ".part" not in err
    # one night of one day: "1 day", "1 night"
    one = tmp_path / "one.pdf"
    assert cli(["report", "--from", period["from"], "--to", period["from"], "--out", str(one),
                "--data-dir", str(d)]) == 0
    capsys.readouterr()
    flat = " ".join(_pdftext(one.read_bytes(), tmp_path).split())
    assert "(1 day): 1 night recorded" in flat


def test_a_lan_viewer_cannot_hold_the_page_with_reports_and_the_owner_still_gets_one(site):
    from firmware_host.store import open_store
    from web import report
    d, owner, period = site
    st = open_store(d)
    st.set_setting("lan_read_only", True)
    st.close()
    viewer = create_app({"DATA_DIR": str(d), "HOST": "0.0.0.0", "TESTING": True}).test_client()
    q = f"/report?from={period['from']}&to={period['to']}"
    lan = {"REMOTE_ADDR": "192.168.1.50", "HTTP_HOST": "192.168.1.2"}
    assert viewer.get(q, environ_base=lan).status_code == 200  # a viewer may draw one
    with report._viewer_drawing:  # one is being drawn for a viewer: the next viewer waits...
        r = viewer.get(q, environ_base=lan)
        assert r.status_code == 503 and "try again" in r.get_data(as_text=True)
        assert viewer.get(q.replace("/report", "/api/report"), environ_base=lan).status_code == 503  # the figures too
        assert owner.get(q).status_code == 200  # ...the owner does not
        assert owner.get(q.replace("/report", "/api/report")).status_code == 200


def test_the_report_page_fails_in_one_line_too(site):
    _, c, period = site
    for q, words in ((f"from={period['to']}&to={period['from']}", "reversed"),
                     ("from=2001-01-01&to=2001-01-02", "no nights were recorded"),
                     ("from=2026-01-01", "give to")):
        r = c.get(f"/report?{q}")
        assert r.status_code == 400 and words in r.get_data(as_text=True)
        r = c.get(f"/api/report?{q}")
        assert r.status_code == 400 and words in r.get_json()["error"]
    html = c.get("/report").get_data(as_text=True)
    assert 'type="date"' in html and "Make the report" in html


# -- the new figures on the pages ----------------------------------------------------

def test_plm_and_cramps_on_nights_night_detail_and_trends(site):
    _, c, _ = site
    nights = c.get("/api/nights").get_json()["nights"]
    assert all("plm_index" in n and "cramps" in n for n in nights)
    periodic = [n for n in nights if n["plm_index"]]
    assert len(periodic) >= 5  # every third night has a series of 5, every fourth (odd) a bilateral 4
    for n in periodic:
        assert n["plm_index"] == pytest.approx(n["plm_index"])
    index = c.get("/").get_data(as_text=True)
    assert "PLM" in index and "cramp" in index and "For your doctor" in index
    trends = c.get("/api/trends").get_json()
    assert len(trends["plm_index"]) == len(trends["dates"]) and max(trends["plm_index"]) > 0
    html = c.get("/trends").get_data(as_text=True)
    assert "PLM index" in html and "no sleep staging" in html and "/report" in html
    detail = c.get(f"/nights/{periodic[0]['id']}").get_data(as_text=True)
    assert "PLM index" in detail and "WASM 2016" in detail
    rows = list(csv.reader(io.StringIO(c.get("/export.csv").get_data(as_text=True))))
    assert rows[0][-3:] == ["plm_index_per_rest_hour", "cramps", "heart_rate_bpm"]
    assert sum(int(r[-2]) for r in rows[1:]) == 3


def test_a_database_from_before_issue_13_is_upgraded_with_its_nights_plm_index(tmp_path):
    """A version-3 file (before this issue) keeps its nights, gains cramps (none yet)
    and each night's PLM index from the movements it already held."""
    import sqlite3

    from firmware_host.store import MIGRATIONS
    db = sqlite3.connect(tmp_path / "twitchmon.db")
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for n, sql in enumerate(MIGRATIONS[:3], start=1):
        db.executescript(sql)
        db.execute("INSERT INTO schema_version VALUES (?)", (n,))
    db.execute("INSERT INTO nights (id, date, start_utc, source, rate_hz, channels, rest_s, movements) "
               "VALUES (1, '2026-10-01', '2026-10-01T22:00:00+00:00', 'sim', 1000, 4, 1800, 4)")
    db.executemany("INSERT INTO events (night_id, kind, t, end_t, channels) VALUES (1, 'movement', ?, ?, '[2]')",
                   [(100.0 + 30 * i, 101.0 + 30 * i) for i in range(4)])
    db.commit()
    db.close()
    st = open_store(tmp_path)
    n = st.night(1)
    st.close()
    assert n["plm_index"] == 8.0 and n["cramps"] == 0  # 4 PLMs in half an hour of rest


def test_the_real_detector_gives_heart_track_its_confident_beats():
    """HeartTrack reads the detector's confident beat periods (a rewrite that renames
    them fails here, not silently): on an 11-minute simulated night its lowest
    10-minute median is near the detector's own median heart rate."""
    from firmware_host.detector import Detector, DetectorConfig
    from firmware_host.simulator import Night
    night = Night(11.0, seed=1000)
    det = Detector(DetectorConfig(rate_hz=night.rate_hz, channels=night.channels))
    track = heart.HeartTrack()
    for block in night.blocks(50_000):
        det.process(block)
        track.update(det)
    det.finish()
    track.update(det)
    assert det.heart_rate_bpm is not None and len(track.points) >= heart.MIN_BEATS_STEPS
    assert all(0 <= t <= 11 * 60 + 60 for t, _ in track.points)
    assert track.lowest_10min_bpm() == pytest.approx(det.heart_rate_bpm, abs=5.0)


def test_the_report_lists_the_dates_the_new_site_flag_fired(tmp_path):
    """Right thigh quiet for 8 nights (0 per rest hour), then 6 per rest hour from the
    9th.  The Trends rule compares the last 7 nights with the 5+ before them: the 12th
    night (2026-10-12) is the first with 5 nights before its last 7 (all quiet) and
    4 of those 7 at 6 per rest hour (mean 3.4 >= 2), so the flag fires there."""
    from firmware_host.report import gather
    from firmware_host.report_pdf import render_pdf
    st = open_store(tmp_path)
    day0 = dt.date(2026, 10, 1)
    for k in range(14):
        date = (day0 + dt.timedelta(days=k)).isoformat()
        nid = st.add_night(date=date, start_utc=f"{date}T22:00:00+00:00", source="sim", rate_hz=1000.0,
                           channels=4, channel_names=pins.site_names(4), status="complete")
        st.update_night(nid, rest_s=3600.0, duration_s=4000.0, per_channel=[5, 5, 5, 6 if k >= 8 else 0],
                        total=15 + (6 if k >= 8 else 0))
    data = gather(st, day0, day0 + dt.timedelta(days=13), waveforms=False)
    st.close()
    assert [(f["date"], f["site"]) for f in data["new_site_flags"]] == [("2026-10-12", "Right thigh")]
    text = " ".join(_pdftext(render_pdf(data), tmp_path).split())
    assert "New site flagged on 2026-10-12: Right thigh" in text


def test_the_page_loads_the_pdf_writer_only_when_a_report_is_drawn(tmp_path):
    """fpdf2 costs the page's process 44 MB: a page that never draws a report never holds it."""
    import sys
    code = ("import sys; from web import create_app; "
            f"c = create_app({{'DATA_DIR': {str(tmp_path / 'd')!r}, 'TESTING': True}}).test_client(); "
            "assert c.get('/report').status_code == 200; print('fpdf' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
