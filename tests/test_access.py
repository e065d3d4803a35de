"""Access to the page: open on loopback, password on the LAN, read-only LAN
option, CSRF on every write, login rate limit; and the diary."""
import re

import pytest
from werkzeug.security import generate_password_hash

from firmware_host.store import open_store
from web import attempts, create_app


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture(autouse=True)
def _reset_rate_limit():
    attempts._fails.clear()
    yield
    attempts._fails.clear()


def _lan_app(tmp_path, password="correct horse", read_only=False):
    d = tmp_path / "data"
    st = open_store(d)
    st.add_night(date="2026-05-01", start_utc="2026-05-01T22:00:00+00:00", source="t", rate_hz=1000.0,
                 channels=4, channel_names=["a", "b", "c", "d"], status="complete")
    if password:
        st.set_setting("password_hash", generate_password_hash(password))
    st.set_setting("lan_read_only", read_only)
    st.close()
    return create_app({"DATA_DIR": str(d), "HOST": "0.0.0.0", "TESTING": True})


def test_loopback_needs_no_password_but_writes_need_the_form_token(client):
    assert client.get("/").status_code == 200
    r = client.post("/diary/2026-05-01", data={"factor": ["caffeine"]})
    assert r.status_code == 400  # no CSRF token
    tok = _token(client.get("/diary").get_data(as_text=True))
    r = client.post("/diary/2026-05-01", data={"factor": ["caffeine"], "notes": "two coffees", "csrf_token": tok})
    assert r.status_code == 302
    assert client.get("/api/diary").get_json()["entries"] == \
        [{"date": "2026-05-01", "factors": ["caffeine"], "notes": "two coffees"}]


def test_lan_asks_for_the_password_and_login_works(tmp_path):
    c = _lan_app(tmp_path).test_client()
    assert c.get("/").status_code == 302 and "/login" in c.get("/").headers["Location"]
    assert c.get("/api/nights").status_code == 401
    tok = _token(c.get("/login").get_data(as_text=True))
    assert c.post("/login", data={"password": "wrong", "csrf_token": tok}).status_code == 401
    r = c.post("/login?next=/diary", data={"password": "correct horse", "csrf_token": tok})
    assert r.status_code == 302 and r.headers["Location"] == "/diary"
    assert c.get("/api/nights").status_code == 200
    page = c.get("/diary").get_data(as_text=True)
    assert c.post("/diary/2026-05-01", data={"factor": "alcohol", "csrf_token": _token(page)}).status_code == 302
    assert c.post("/logout", data={"csrf_token": _token(page)}).status_code == 302
    assert c.get("/api/nights").status_code == 401


def test_login_redirect_never_leaves_the_site(tmp_path):
    c = _lan_app(tmp_path).test_client()
    tok = _token(c.get("/login").get_data(as_text=True))
    r = c.post("/login?next=//evil.example/", data={"password": "correct horse", "csrf_token": tok})
    assert r.headers["Location"] == "/"


def test_login_attempts_are_rate_limited(tmp_path):
    c = _lan_app(tmp_path).test_client()
    tok = _token(c.get("/login").get_data(as_text=True))
    codes = [c.post("/login", data={"password": f"guess{i}", "csrf_token": tok}).status_code for i in range(7)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]
    # even the right password waits out the window
    assert c.post("/login", data={"password": "correct horse", "csrf_token": tok}).status_code == 429


def test_read_only_lan_lets_anyone_look_but_not_change(tmp_path):
    c = _lan_app(tmp_path, read_only=True).test_client()
    assert c.get("/").status_code == 200 and c.get("/api/nights").status_code == 200
    page = c.get("/diary").get_data(as_text=True)
    r = c.post("/diary/2026-05-01", data={"factor": "alcohol", "csrf_token": _token(page)})
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert c.get("/api/diary").get_json()["entries"] == []


@pytest.mark.parametrize("read_only", [False, True])
def test_a_lan_visitor_learns_nothing_of_the_sensors_or_the_broker(tmp_path, read_only):
    import datetime as dt
    app = _lan_app(tmp_path, read_only=read_only)
    st = open_store(tmp_path / "data")
    st.set_daemon_health({"t": dt.datetime.now(dt.timezone.utc).isoformat(), "status": ["railed", "ok", "ok", "ok"]})
    st.set_setting("mqtt_status", {"ok": False, "broker": "broker.lan:1883", "error": "not authorised (user mquser)",
                                   "t": "now"})
    st.close()
    c = app.test_client()
    login = c.get("/login").get_data(as_text=True)
    assert "broker.lan" not in login and "mquser" not in login  # the broker is the owner's alone
    # the sensors' state: only for whom the nights are open (it says whether they are worn now)
    assert ("railed" in login) is read_only
    if read_only:
        page = c.get("/settings").get_data(as_text=True)
        api = c.get("/api/settings").get_json()
        assert api["mqtt"] == {"enabled": False} and "mquser" not in page and "broker.lan" not in page
    # the owner sees both
    tok = _token(login)
    assert c.post("/login", data={"password": "correct horse", "csrf_token": tok}).status_code == 302
    page = c.get("/").get_data(as_text=True)
    assert "railed" in page and "broker.lan:1883" in page


def test_no_password_set_means_no_way_in_from_the_lan(tmp_path):
    c = _lan_app(tmp_path, password=None).test_client()
    html = c.get("/login").get_data(as_text=True)
    assert "twitchmon passwd" in html and 'type="password"' not in html


def test_diary_rejects_bad_input_without_saving(client):
    tok = _token(client.get("/diary").get_data(as_text=True))
    for path, data, code in [("/diary/2026-13-40", {}, 404), ("/diary/notadate", {}, 404),
                             ("/diary/2026-05-01", {"factor": "cocaine"}, 400),
                             ("/diary/2026-05-01", {"notes": "x" * 2001}, 400),
                             ("/diary/9999-12-31", {}, 404), ("/diary/0001-01-01", {}, 404),
                             ("/diary/2026-05-01", {"cramps": "1_0"}, 400),
                             ("/diary/2026-05-01", {"cramps": "1", "cramp_severity": "\uff15"}, 400)]:
        assert client.post(path, data={**data, "csrf_token": tok}).status_code == code
    assert client.get("/api/diary").get_json()["entries"] == []


def test_diary_comparison_counts_the_nights_behind_each_rate(tmp_path):
    from web.diary import comparison

    nights = [{"date": f"2026-05-0{i}", "total": t, "rest_s": 3600.0 * 2} for i, t in
              [(1, 20), (2, 40), (3, 10), (4, 0)]]
    diary = {"2026-05-01": {"factors": ["caffeine"]}, "2026-05-02": {"factors": ["caffeine", "alcohol"]}}
    comp = {c["factor"]: c for c in comparison(nights, diary)}
    assert comp["caffeine"]["with"] == {"nights": 2, "rate": 15.0}
    assert comp["caffeine"]["without"] == {"nights": 2, "rate": 2.5}
    assert comp["alcohol"]["with"] == {"nights": 1, "rate": 20.0}
    assert comp["smoking"]["with"] == {"nights": 0, "rate": None}


def test_every_write_route_needs_the_form_token_and_on_the_lan_a_login(tmp_path, client):
    """Walk the app's routes: each one taking POST refuses it without the
    CSRF token (loopback) and without a session (LAN), and changes nothing."""
    posts = [r.rule for r in client.application.url_map.iter_rules() if "POST" in r.methods]
    assert {"/diary/<date>", "/settings", "/settings/password", "/logout", "/login"} <= set(posts)
    lan = _lan_app(tmp_path / "lan").test_client()
    real_token = _token(lan.get("/login").get_data(as_text=True))  # a visitor's own, valid token
    for rule in posts:
        url = rule.replace("<date>", "2026-05-01")
        assert client.post(url, data={"notes": "x", "new_password": "abcdefgh1",
                                      "new_password2": "abcdefgh1"}).status_code == 400, url
        if url not in ("/login",):
            # with a forged token and with a valid one alike: not logged in, so sent to log in
            # (a 400 would only prove the token was checked, not that a login is needed)
            for tok in ("forged", real_token):
                r = lan.post(url, data={"csrf_token": tok, "notes": "x", "new_password": "abcdefgh1",
                                        "new_password2": "abcdefgh1"})
                if url.startswith("/api/"):
                    assert r.status_code == 401, url
                else:
                    assert r.status_code == 302 and r.headers["Location"].startswith("/login"), (url, r.status_code)
    assert client.get("/api/diary").get_json()["entries"] == []
    assert client.get("/api/settings").get_json()["password_set"] is False


def test_security_headers_on_every_page(client):
    for url in ["/", "/tonight", "/trends", "/diary", "/hardware", "/settings", "/login", "/api/nights", "/report"]:
        h = client.get(url).headers
        csp = h["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "http:" not in csp and "https:" not in csp and "*" not in csp
        assert h["X-Content-Type-Options"] == "nosniff" and h["Referrer-Policy"] == "no-referrer"


def test_a_form_sent_while_logged_out_leads_back_to_its_page_after_the_login(tmp_path):
    """"Log a cramp" (and every other form) posted without a session: the
    login then leads to the page the form is on, never to the form's own
    address, which takes only POST (a 405, the action lost)."""
    c = _lan_app(tmp_path).test_client()
    for url, page in [("/tonight/cramp", "/tonight"), ("/diary/2026-05-01", "/diary"), ("/settings", "/settings"),
                      ("/settings/password", "/settings"), ("/logout/all", "/"), ("/logout", "/")]:
        tok = _token(c.get("/login").get_data(as_text=True))
        r = c.post(url, data={"csrf_token": tok})
        assert r.status_code == 302 and r.headers["Location"] == f"/login?next={page}", url
        r = c.post(r.headers["Location"], data={"password": "correct horse", "csrf_token": tok})
        assert r.headers["Location"] == page, url
        assert c.get(page).status_code == 200, url
        c.post("/logout", data={"csrf_token": _token(c.get("/diary").get_data(as_text=True))})
    # a page asked for by GET still comes back with its query
    assert c.get("/export.csv?night=1").headers["Location"] == "/login?next=/export.csv?night%3D1"


@pytest.mark.parametrize("lan", [False, True])
def test_a_wrong_method_on_a_page_is_405_and_opens_no_write(tmp_path, client, lan):
    """DELETE /nights/1 or TRACE / is Flask's 405 (it was the form token's
    400, or on the LAN a way to the login); a write route by another method
    runs nothing, and its own method still needs the token and the login."""
    c = _lan_app(tmp_path / "lan").test_client() if lan else client
    for method, url in [("DELETE", "/nights/1"), ("TRACE", "/"), ("POST", "/nights/1"), ("POST", "/api/nights"),
                        ("PUT", "/diary/2026-05-01"), ("DELETE", "/tonight/cramp"), ("PATCH", "/settings")]:
        r = c.open(url, method=method, data={"notes": "x", "leg": "left"})
        assert r.status_code == 405 and r.headers["Allow"], (method, url, r.status_code)
    assert c.post("/diary/2026-05-01", data={"notes": "x"}).status_code == (302 if lan else 400)
    assert c.post("/tonight/cramp", data={"leg": "left"}).status_code == (302 if lan else 400)
    st = open_store(c.application.config["DATA_DIR"])
    assert st.diary() == {} and st.cramps() == []
    st.close()


@pytest.mark.parametrize("lan", [False, True])
def test_a_wrong_method_under_api_is_a_json_405_with_its_allow(tmp_path, client, lan):
    """POST or DELETE to a GET-only /api/ address: the 405 in the API's one JSON
    line (it was Flask's HTML page), its Allow header kept; the pages' own 405
    stays HTML, and the guard still lets no write through."""
    c = _lan_app(tmp_path / "lan").test_client() if lan else client
    for method, url in [("POST", "/api/nights"), ("DELETE", "/api/settings"), ("PUT", "/api/diary"),
                        ("PATCH", "/api/nights/1"), ("POST", "/api/nights/1/events")]:
        r = c.open(url, method=method, data={"notes": "x"})
        assert r.status_code == 405 and r.is_json, (method, url, r.status_code, r.content_type)
        assert set(r.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}, (method, url)
        assert r.get_json() == {"error": f"{method} is not allowed here (allowed: GET, HEAD, OPTIONS)"}
    r = c.post("/nights/1")
    assert r.status_code == 405 and r.headers["Allow"] and r.mimetype == "text/html"
    assert c.get("/api/no-such-thing").get_json() == {"error": "not found"}


def test_other_http_errors_under_api_are_json_and_pages_stay_html(tmp_path):
    """A report already being drawn (503) or a settings file gone bad (500):
    the reason in one JSON line under /api/, Flask's HTML page elsewhere."""
    from web import report
    bad = tmp_path / "bad.toml"
    bad.write_text("[night\n")
    c = create_app({"DATA_DIR": str(tmp_path / "data"), "TESTING": True, "CONFIG_FILE": str(bad)}).test_client()
    r = c.get("/api/settings")
    assert r.status_code == 500 and r.is_json and "not valid TOML" in r.get_json()["error"]
    r = c.get("/settings")
    assert r.status_code == 500 and r.mimetype == "text/html"
    with report._owner_drawing:
        r = c.get("/api/report?from=2026-05-01&to=2026-05-02")
        assert r.status_code == 503 and r.get_json() == {"error": "a report is being drawn: try again in a minute"}


def test_personal_pages_are_not_kept_in_the_browsers_cache(client):
    """Nights, diary, settings and their JSON: "no-store", so a phone keeps no
    copy after logging out; the page's own files may be cached."""
    tok = _token(client.get("/diary").get_data(as_text=True))
    for r in [client.get(url) for url in ["/", "/tonight", "/trends", "/diary", "/hardware", "/settings", "/login",
                                          "/report", "/export.csv", "/api/nights", "/api/settings", "/api/diary",
                                          "/nights/1", "/api/nights/1", "/no-such-page"]] + \
            [client.post("/diary/2026-05-01", data={"notes": "x", "csrf_token": tok})]:
        assert r.headers["Cache-Control"] == "no-store", (r.request.path, r.headers.get("Cache-Control"))
    for url in ["/static/style.css", "/static/live.js"]:
        assert "no-store" not in client.get(url).headers.get("Cache-Control", ""), url
