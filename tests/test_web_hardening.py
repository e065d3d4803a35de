"""The page against a LAN visitor, in-process (Flask's test client): a big
form, sessions after logout-everywhere and a new password, foreign Host
names (DNS rebinding), simultaneous login guesses, live-view slots, and
where the cookie-signing key lives.  The attacks on the real server are in
tests/test_web_attacks.py."""
import os
import re
import stat
import threading
import time

import pytest
from werkzeug.security import generate_password_hash

from firmware_host.store import DB_NAME, open_store
from web import attempts, create_app

PASSWORD = "correct horse"


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture(autouse=True)
def _reset_rate_limit():
    attempts._fails.clear()
    yield
    attempts._fails.clear()


def _data(tmp_path, read_only=False):
    d = tmp_path / "data"
    st = open_store(d)
    st.add_night(date="2026-05-01", start_utc="2026-05-01T22:00:00+00:00", source="t", rate_hz=1000.0,
                 channels=4, channel_names=["a", "b", "c", "d"], status="complete")
    st.set_setting("password_hash", generate_password_hash(PASSWORD))
    st.set_setting("lan_read_only", read_only)
    st.close()
    return d


def _lan_app(tmp_path, read_only=False, **config):
    return create_app({"DATA_DIR": str(_data(tmp_path, read_only)), "HOST": "0.0.0.0", "TESTING": True, **config})


def _logged_in(app, addr="192.168.1.10"):
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = addr
    tok = _token(c.get("/login").get_data(as_text=True))
    assert c.post("/login", data={"password": PASSWORD, "csrf_token": tok}).status_code == 302
    return c, _token(c.get("/diary").get_data(as_text=True))


def _diary_write(c, tok, notes="x"):
    return c.post("/diary/2026-05-01", data={"notes": notes, "csrf_token": tok})


# -- 1: big bodies ------------------------------------------------------------------

def test_a_big_form_is_refused_before_it_is_parsed(client):
    """The old CSRF check read the whole form: 300 MB took the page to 730 MB."""
    body = "csrf_token=" + "a" * 1_000_000
    r = client.post("/login", data=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 413
    r = client.post("/diary/2026-05-01", data=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 413


# -- 5: sessions end with logout-everywhere and a new password ---------------------

def test_a_new_password_logs_out_every_other_session(tmp_path):
    app = _lan_app(tmp_path)
    phone, phone_tok = _logged_in(app, "192.168.1.11")
    laptop, laptop_tok = _logged_in(app, "192.168.1.12")
    assert _diary_write(phone, phone_tok).status_code == 302
    r = laptop.post("/settings/password", data={"current_password": PASSWORD, "new_password": "battery staple",
                                                "new_password2": "battery staple", "csrf_token": laptop_tok})
    assert r.status_code == 302
    # the phone's cookie (or a copy of it) no longer reads or writes; the laptop stays in
    assert phone.get("/api/nights").status_code == 401
    r = _diary_write(phone, phone_tok, "from a stolen cookie")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert _diary_write(laptop, laptop_tok, "still here").status_code == 302
    assert laptop.get("/api/diary").get_json()["entries"][0]["notes"] == "still here"


def test_log_out_everywhere_ends_copies_of_the_cookie_too(tmp_path):
    app = _lan_app(tmp_path)
    c, tok = _logged_in(app)
    copy = app.test_client()
    copy.set_cookie("session", c.get_cookie("session").value)
    assert copy.get("/api/nights").status_code == 200
    assert c.post("/logout/all", data={"csrf_token": tok}).status_code == 302
    assert copy.get("/api/nights").status_code == 401
    assert c.get("/api/nights").status_code == 401
    assert app.test_client().get("/login").status_code == 200
    c2, tok2 = _logged_in(app)  # and a new login works
    assert _diary_write(c2, tok2).status_code == 302


def test_twitchmon_passwd_logs_out_the_page_sessions(tmp_path, monkeypatch):
    import io

    from firmware_host.cli import main
    app = _lan_app(tmp_path)
    c, _ = _logged_in(app)
    monkeypatch.setattr("sys.stdin", io.StringIO("a new password\n"))
    assert main(["passwd", "--data-dir", str(tmp_path / "data")]) == 0
    assert c.get("/api/nights").status_code == 401


# -- 6: Host allow-list (DNS rebinding) ----------------------------------------------

def test_a_loopback_page_answers_only_to_loopback_names(client):
    """A page at attacker.example that rebinds its name to 127.0.0.1 reaches a
    loopback-bound page with ``Host: attacker.example``: it read Settings and
    set the owner's password."""
    for base in ["http://attacker.example/", "http://attacker.example:8080/", "http://192.168.1.5:8080/"]:
        assert client.get("/api/settings", base_url=base).status_code == 400, base
    tok = _token(client.get("/settings").get_data(as_text=True))
    r = client.post("/settings/password", base_url="http://attacker.example:8080/",
                    data={"new_password": "owned1234", "new_password2": "owned1234", "csrf_token": tok})
    assert r.status_code == 400
    assert client.get("/api/settings").get_json()["password_set"] is False
    for base in ["http://localhost:8080/", "http://127.0.0.1:8080/", "http://[::1]:8080/", "http://127.0.0.1/"]:
        assert client.get("/api/settings", base_url=base).status_code == 200, base


def test_a_lan_page_answers_to_its_addresses_its_name_and_configured_names(tmp_path):
    import socket
    c = _lan_app(tmp_path, read_only=True, ALLOWED_HOSTS=("twitchmon.home",)).test_client()
    me = socket.gethostname()
    for base in ["http://192.168.1.5:8080/", "http://[fe80::1]:8080/", f"http://{me}.local:8080/",
                 f"http://{me}/", "http://twitchmon.home/", "http://localhost:8080/"]:
        assert c.get("/api/nights", base_url=base).status_code == 200, base
    for base in ["http://attacker.example:8080/", "http://twitchmon.home.attacker.example/", "http://x.local/"]:
        assert c.get("/api/nights", base_url=base).status_code == 400, base


def test_the_settings_file_names_the_hosts_and_a_bad_name_is_one_line(tmp_path):
    from firmware_host.config import ConfigError, parse_config
    assert parse_config('[web]\nhosts = ["twitchmon.home", "pi.lan"]').web_hosts == ("twitchmon.home", "pi.lan")
    for bad in ['hosts = "one"', 'hosts = ["a b"]', 'hosts = ["x/y"]', 'hosts = [1]', 'names = []']:
        with pytest.raises(ConfigError):
            parse_config(f"[web]\n{bad}")


# -- 9: simultaneous wrong passwords from one address ------------------------------

def test_simultaneous_guesses_stay_within_the_budget_and_hash_one_at_a_time(tmp_path, monkeypatch):
    """40 wrong passwords at once from one address: the old check counted
    failures only after hashing, so 16 were checked (and 16 x 32 MB held)."""
    app = _lan_app(tmp_path)
    checks, running, most = [], [0], [0]
    lock = threading.Lock()
    real = attempts.check_password_hash

    def slow_check(h, pw):
        with lock:
            checks.append(pw)
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)  # a scrypt check takes ~50-100 ms on this machine
        try:
            return real(h, pw)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(attempts, "check_password_hash", slow_check)
    clients = []
    for _ in range(40):
        c = app.test_client()
        clients.append((c, _token(c.get("/login").get_data(as_text=True))))
    codes = []
    go = threading.Barrier(40)

    def guess(c, tok, i):
        go.wait()
        codes.append(c.post("/login", data={"password": f"guess {i}", "csrf_token": tok}).status_code)

    threads = [threading.Thread(target=guess, args=(c, tok, i)) for i, (c, tok) in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(codes) == 40
    assert len(checks) <= attempts.MAX_FAILS
    assert most[0] == 1
    assert codes.count(401) == len(checks) and set(codes) <= {401, 429, 503}
    # the right password waits out the window too
    c, tok = clients[0]
    assert c.post("/login", data={"password": PASSWORD, "csrf_token": tok}).status_code == 429


def test_a_right_password_does_not_use_up_the_budget(tmp_path):
    app = _lan_app(tmp_path)
    for _ in range(attempts.MAX_FAILS + 2):
        _logged_in(app, "192.168.1.20")


# -- 10: live-view slots -------------------------------------------------------------

def test_read_only_viewers_cannot_take_the_owners_live_view(tmp_path, request):
    """Six read-only viewers took all six live views and the owner got 503."""
    from web import tonight
    app = _lan_app(tmp_path, read_only=True)
    opened = []

    def live(c):
        r = c.get("/api/live")
        request.addfinalizer(r.close)
        opened.append(r)
        return r.status_code

    viewers = []
    for i in range(tonight.MAX_STREAMS):
        c = app.test_client()
        c.environ_base["REMOTE_ADDR"] = f"192.168.1.{100 + i}"
        viewers.append(live(c))
    owner, _ = _logged_in(app)
    assert live(owner) == 200
    assert viewers.count(200) == tonight.MAX_STREAMS - tonight.OWNER_STREAMS
    assert [live(owner) for _ in range(tonight.OWNER_STREAMS - 1)] == [200] * (tonight.OWNER_STREAMS - 1)
    one = app.test_client()
    one.environ_base["REMOTE_ADDR"] = "192.168.1.200"
    for r in opened:
        r.close()
    # one viewer's address holds only its share
    assert [live(one) for _ in range(tonight.VIEWER_STREAMS_PER_ADDRESS + 1)][-1] == 503
    for r in opened:
        r.close()
    assert tonight._streams.total == 0 and tonight._streams.viewers == {}


# -- 12: the signing key ------------------------------------------------------------

def _mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def test_the_signing_key_is_in_its_own_private_file_not_in_the_database(tmp_path):
    d = tmp_path / "data"
    st = open_store(d)
    st.set_setting("secret_key", "an old key kept in the database")
    st.close()
    os.chmod(d / DB_NAME, 0o644)  # as a manual install's umask left it
    app = create_app({"DATA_DIR": str(d)})
    st = open_store(d)
    assert st.get_setting("secret_key") is None
    st.close()
    for f in d.iterdir():
        if f.name.startswith(DB_NAME):
            assert _mode(f) == 0o600, f.name
    key = (d / "secret_key").read_text().strip()
    assert len(key) >= 64 and app.config["SECRET_KEY"] == key
    assert _mode(d / "secret_key") == 0o600
    # the same key after a restart, so sessions survive it
    assert create_app({"DATA_DIR": str(d)}).config["SECRET_KEY"] == key


def test_a_data_dir_where_the_key_cannot_be_written_still_shows_its_nights(tmp_path, capsys):
    d = _data(tmp_path)
    (d / "secret_key").mkdir()  # stands in for an unwritable key (the tests run as root, so no chmod)
    app = create_app({"DATA_DIR": str(d), "TESTING": True})
    assert len(app.config["SECRET_KEY"]) >= 64
    assert "cannot write" in capsys.readouterr().err
    assert app.test_client().get("/api/nights").get_json()["nights"][0]["date"] == "2026-05-01"


def test_stopping_an_in_process_server_leaves_no_worker_writing_to_a_closed_pipe(tmp_path):
    """A live stream kept a worker thread writing after waitress's close():
    its wake-up byte went to the trigger pipe's closed descriptor, and once a
    file took that number, into the file (a copied database's first byte
    became "x" in the suite).  web.server.stop ends the streams and waits
    for the workers before anything is closed."""
    import os
    import socket
    import threading
    import time

    from web import create_app
    from web.server import make_server, stop

    app = create_app({"DATA_DIR": str(tmp_path / "data")})
    server = make_server(app, "127.0.0.1", 0)
    loop = threading.Thread(target=server.run, daemon=True)
    loop.start()
    s = socket.create_connection(("127.0.0.1", int(server.effective_port)), 5)
    s.sendall(b"GET /api/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    s.settimeout(5)
    assert b"text/event-stream" in s.recv(4096)  # streaming ("no signal" every second: no ring here)
    stop(server)
    loop.join(5)
    assert not loop.is_alive() and not server.task_dispatcher.threads  # every worker has finished
    files = [tmp_path / f"f{i}" for i in range(16)]
    fds = [os.open(f, os.O_RDWR | os.O_CREAT) for f in files]  # the lowest free numbers: the pipe's, if freed
    try:
        s.close()  # the viewer leaves: a stream still running fails its next write and pulls the trigger
        time.sleep(2.5)  # more than two of the stream's "no signal" ticks
        assert [f.read_bytes() for f in files] == [b""] * 16
    finally:
        for fd in fds:
            os.close(fd)



def test_a_busy_page_says_so_once_in_its_own_words_and_waitress_errors_still_show(tmp_path, capsys, caplog):
    """Every request that waits for a free worker thread made waitress log
    "WARNING:waitress.queue:Task queue depth is N" (72 lines for 200 requests
    20 at a time): now one line, twitchmon's, and waitress's errors as before."""
    import logging

    from web.server import make_server, stop

    class Task:
        def __init__(self, run=lambda: None):
            self.run = run

        def service(self):
            self.run()

        def cancel(self):
            pass

    def fail():
        raise RuntimeError("a view that breaks")

    server = make_server(create_app({"DATA_DIR": str(tmp_path / "data")}), "127.0.0.1", 0, threads=1)
    loop = threading.Thread(target=server.run, daemon=True)
    loop.start()
    busy, done = threading.Event(), threading.Event()
    try:
        with caplog.at_level(logging.WARNING):
            server.task_dispatcher.add_task(Task(busy.wait))  # the one worker is taken
            for _ in range(20):  # and these wait for it, as requests do under load
                server.task_dispatcher.add_task(Task())
            server.task_dispatcher.add_task(Task(fail))
            server.task_dispatcher.add_task(Task(done.set))  # the last in the queue: every one before has run
            busy.set()
            assert done.wait(30)
    finally:
        busy.set()
        stop(server)
        loop.join(5)
    out = capsys.readouterr()
    lines = (out.out + out.err).splitlines()
    assert [ln for ln in lines if "busy" in ln] == ["twitchmon: the page is busy: requests wait for a free worker "
                                                    "thread (it has 1); said once"]
    assert not any("queue depth" in ln for ln in lines)
    assert not [r for r in caplog.records if r.name == "waitress.queue"]
    assert any(r.name == "waitress" and "Exception when servicing" in r.getMessage() for r in caplog.records)
