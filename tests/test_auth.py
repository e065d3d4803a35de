"""web/auth.py's rules one by one: the login limit per address and its
window, the password check's queue, the Host allow-list, the signing key's
file, sessions and their generation."""
import itertools
from contextlib import contextmanager
import os
import re
import stat
import threading
import time

import pytest
from werkzeug.security import generate_password_hash

from firmware_host.store import open_store
from web import attempts, auth, create_app

PASSWORD = "correct horse"
_addr = (f"10.77.{i // 250}.{i % 250 + 1}" for i in itertools.count())
_epoch = itertools.count(10 ** 6, 10 ** 5)  # each test's clock starts long after the last one's ended


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture(scope="module")
def lan(tmp_path_factory):
    d = tmp_path_factory.mktemp("auth") / "data"
    st = open_store(d)
    st.set_setting("password_hash", generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"))  # quick: these tests log in often
    st.close()
    return create_app({"DATA_DIR": str(d), "HOST": "0.0.0.0", "TESTING": True})


@pytest.fixture
def clock(monkeypatch):
    """The login limit's clock, moved by hand (time.monotonic, far from the real one)."""
    now = {"t": time.monotonic() + next(_epoch)}
    monkeypatch.setattr(time, "monotonic", lambda: now["t"])
    return now


class Guest:
    """One browser at one LAN address."""

    def __init__(self, app, addr=None):
        self.addr = addr or next(_addr)
        self.c = app.test_client()
        self.tok = _token(self.get("/login").get_data(as_text=True))

    def get(self, url):
        return self.c.get(url, environ_base={"REMOTE_ADDR": self.addr})

    def login(self, password, url="/login"):
        return self.c.post(url, data={"password": password, "csrf_token": self.tok},
                           environ_base={"REMOTE_ADDR": self.addr}).status_code


@contextmanager
def queue_full():
    """Guessers hold every place in the queue for the hashing slot (not the owner's)."""
    held = 0
    while attempts._waiting.acquire(blocking=False):
        held += 1
    try:
        yield held
    finally:
        for _ in range(held):
            attempts._waiting.release()


def test_five_failures_lock_an_address_for_exactly_the_window(lan, clock):
    g = Guest(lan)
    assert [g.login(f"guess{i}") for i in range(5)] == [401] * 5
    assert g.login(PASSWORD) == 429
    clock["t"] += attempts.WINDOW_S - 0.5
    assert g.login(PASSWORD) == 429  # still inside the window of the first failure
    clock["t"] += 0.5
    assert g.login(PASSWORD) == 302  # the window has passed: the owner gets in
    assert attempts.WINDOW_S == 300.0 and attempts.MAX_FAILS == 5  # what the 429 page tells ("wait five minutes")
    assert attempts.MAX_FAILS_NEW == 30  # what the README tells


def test_the_limit_slides_failure_by_failure(lan, clock):
    g = Guest(lan)
    for _ in range(5):
        assert g.login("nope") == 401
        clock["t"] += 60.0
    # the first failure (300 s ago) has left the window, the other four have not
    assert g.login("nope") == 401
    assert g.login("nope") == 429


def test_the_window_runs_from_each_failure_also_just_after_boot(lan, monkeypatch):
    """The page starts at boot, and time.monotonic counts from boot, so on a
    Pi that has just started the failures carry small stamps: the window is
    still five minutes from each one, no longer (the owner is let in once
    they are old) and no shorter (those within it still count)."""
    now = {"t": 30.0}  # 30 s after boot
    monkeypatch.setattr(time, "monotonic", lambda: now["t"])
    g = Guest(lan)
    for _ in range(5):  # failures at 30, 40, 50, 60 and 70 s
        assert g.login("guess") == 401
        now["t"] += 10.0
    assert g.login(PASSWORD) == 429
    now["t"] = 30.0 + attempts.WINDOW_S  # the first has left the window, four are within it
    assert g.login("guess") == 401  # so this is the fifth in the window, not the sixth
    assert g.login(PASSWORD) == 429  # and those four with it still count
    now["t"] = 30.0 + 2 * attempts.WINDOW_S  # ten minutes after boot, every failure is older than the window
    assert g.login(PASSWORD) == 302


def test_one_address_guessing_does_not_lock_out_another(lan, clock):
    guesser, owner = Guest(lan), Guest(lan)
    assert [guesser.login(f"g{i}") for i in range(6)] == [401] * 5 + [429]
    assert owner.login("typo") == 401 and owner.login(PASSWORD) == 302
    assert guesser.login(PASSWORD) == 429


def test_the_right_password_does_not_use_up_the_budget(lan, clock):
    g = Guest(lan)
    assert [g.login("x") for _ in range(4)] == [401] * 4
    assert g.login(PASSWORD) == 302
    g2 = Guest(lan, g.addr)  # logged out again, same address
    assert g2.login("x") == 401  # the fifth failure, not the sixth
    assert g2.login(PASSWORD) == 429


def test_quiet_addresses_are_forgotten(lan, clock):
    for _ in range(3):
        Guest(lan).login("x")
    clock["t"] += attempts.WINDOW_S
    Guest(lan).login("x")
    assert len(attempts._fails) == 1  # the table of addresses does not grow for ever


def test_a_busy_check_is_503_and_costs_a_new_browser_an_attempt_but_not_the_owners(lan, clock, monkeypatch):
    # free busy replies let a flood from a dozen addresses fill the queue for ever
    g = Guest(lan)
    monkeypatch.setattr(attempts, "HASH_WAIT_S", 0.01)
    with attempts._hashing:  # another check holds the one hashing slot
        assert [g.login(PASSWORD) for _ in range(6)] == [503] * 5 + [429]
    owner = Guest(lan)
    assert owner.login(PASSWORD) == 302  # this browser is now known (its device cookie)
    owner.tok = _token(owner.get("/login").get_data(as_text=True))  # the new session's
    with attempts._hashing:
        assert [owner.login(PASSWORD) for _ in range(6)] == [503] * 6
    assert [owner.login("x") for _ in range(5)] == [401] * 5


def test_a_flood_of_guesses_cannot_keep_the_owners_browser_out(lan, clock):
    owner = Guest(lan)
    assert owner.login(PASSWORD) == 302
    owner.tok = _token(owner.get("/login").get_data(as_text=True))
    owner.c.post("/logout", data={"csrf_token": owner.tok}, environ_base={"REMOTE_ADDR": owner.addr})
    owner.tok = _token(owner.get("/login").get_data(as_text=True))
    with queue_full() as held:
        assert Guest(lan).login(PASSWORD) == 503  # a new browser waits its turn like them
        assert owner.login(PASSWORD) == 302  # the owner's has a place kept for it
        forged = Guest(lan)
        forged.c.set_cookie(attempts.DEVICE_COOKIE, "made-up", domain="localhost")
        assert forged.login(PASSWORD) == 503  # the cookie must be the page's own
    assert held == attempts.MAX_WAITING + 1


def test_a_copied_device_cookie_is_a_new_browser_elsewhere_and_ends_with_log_out_everywhere(lan, clock):
    owner = Guest(lan)
    assert owner.login(PASSWORD) == 302
    owner.tok = _token(owner.get("/login").get_data(as_text=True))
    copy = owner.c.get_cookie(attempts.DEVICE_COOKIE).value  # the page is plain HTTP: it can be sniffed
    thief = Guest(lan)
    thief.c.set_cookie(attempts.DEVICE_COOKIE, copy, domain="localhost")
    assert [thief.login("guess") for _ in range(6)] == [401] * 5 + [429]  # its own address's budget...
    assert owner.login(PASSWORD) == 302  # ...not the owner's
    owner.tok = _token(owner.get("/login").get_data(as_text=True))
    r = owner.c.post("/logout/all", data={"csrf_token": owner.tok}, environ_base={"REMOTE_ADDR": owner.addr})
    assert r.status_code == 302
    owner.tok = _token(owner.get("/login").get_data(as_text=True))
    with queue_full():  # after "log out everywhere" no device cookie is known: the owner's browser waits too
        assert owner.login(PASSWORD) == 503


def test_new_browsers_locked_together_are_told_why_and_the_owners_sessions_mark_their_browser(lan, clock):
    owner = Guest(lan)
    assert owner.login(PASSWORD) == 302
    owner.c.delete_cookie(attempts.DEVICE_COOKIE, domain="localhost")  # as a browser logged in before the cookies
    assert owner.get("/api/nights").status_code == 200
    assert owner.c.get_cookie(attempts.DEVICE_COOKIE) is not None  # marked on its next page
    for _ in range(attempts.MAX_FAILS_NEW):
        Guest(lan).login("guess")
    g = Guest(lan)
    r = g.c.post("/login", data={"password": PASSWORD, "csrf_token": g.tok}, environ_base={"REMOTE_ADDR": g.addr})
    assert r.status_code == 429 and "from other devices" in r.get_data(as_text=True)


def test_a_device_cookie_lasts_its_400_days_and_no_longer(lan, clock, monkeypatch):
    owner = Guest(lan)
    assert owner.login(PASSWORD) == 302
    owner.tok = _token(owner.get("/login").get_data(as_text=True))
    cookie = owner.c.get_cookie(attempts.DEVICE_COOKIE)
    assert len(cookie.value) > 40
    real = time.time
    with queue_full():
        monkeypatch.setattr(time, "time", lambda: real() + 10 * 86400)  # ten days on: still the owner's
        assert owner.login(PASSWORD) == 302
        monkeypatch.setattr(time, "time", lambda: real() + 401 * 86400)
        again = Guest(lan, owner.addr)  # the session has long expired; the first device cookie is shown
        again.c.set_cookie(attempts.DEVICE_COOKIE, cookie.value, domain="localhost")
        assert again.login(PASSWORD) == 503  # expired: a new browser again


def test_a_device_id_is_unguessable_and_odd_addresses_count_as_themselves(lan, clock):
    owner = Guest(lan)
    r = owner.c.post("/login", data={"password": PASSWORD, "csrf_token": owner.tok},
                     environ_base={"REMOTE_ADDR": owner.addr})
    set_cookie = [h for h in r.headers.getlist("Set-Cookie") if h.startswith(attempts.DEVICE_COOKIE + "=")]
    assert len(set_cookie) == 1 and f"Max-Age={400 * 86400};" in set_cookie[0]  # the browser keeps it 400 days
    with lan.test_request_context():
        value = attempts._device_signer().loads(owner.c.get_cookie(attempts.DEVICE_COOKIE).value)
        gen = lan.get_store().session_generation()
        # signed by the page, but for a generation the store has not reached (a database restored from a backup)
        newer = attempts._device_signer().dumps({**value, "gen": gen + 1})
    assert len(value["id"]) >= 22 and value["at"] == owner.addr  # 128 random bits; the address it was given at
    assert value["gen"] == gen
    again = Guest(lan, owner.addr)
    again.c.set_cookie(attempts.DEVICE_COOKIE, newer, domain="localhost")
    with queue_full():
        assert again.login(PASSWORD) == 503  # not the owner's browser
    assert attempts._address_block("unix-socket") == "unix-socket" and attempts._address_block("?") == "?"


def test_a_form_token_is_256_random_bits(lan, clock):
    assert len(Guest(lan).tok) >= 43  # secrets.token_urlsafe(32)


def test_the_journal_hears_of_a_locked_door_once_a_window(lan, clock, capsys):
    attempts._locked_said[0] = float("-inf")
    said = []

    def heard():
        said.append(capsys.readouterr().err.count("new browsers are refused"))
        return sum(said)

    for _ in range(attempts.MAX_FAILS_NEW):
        Guest(lan).login("guess")
    for _ in range(3):
        assert Guest(lan).login("guess") == 429
    assert heard() == 1
    clock["t"] += attempts.WINDOW_S - 1  # the guesses go on: still within the window of the first line
    for _ in range(attempts.MAX_FAILS_NEW):
        Guest(lan).login("guess")
    assert heard() == 1
    clock["t"] += 1  # exactly a window after the first line: said again
    for _ in range(attempts.MAX_FAILS_NEW + 1):
        Guest(lan).login("guess")
    assert heard() == 2


def test_guesses_from_many_addresses_stop_together_but_not_the_owners_browser(lan, clock):
    owner = Guest(lan)
    assert owner.login(PASSWORD) == 302
    owner.tok = _token(owner.get("/login").get_data(as_text=True))
    codes = [Guest(lan).login("guess") for _ in range(attempts.MAX_FAILS_NEW + 3)]  # one guess from each address
    assert codes == [401] * attempts.MAX_FAILS_NEW + [429] * 3  # was 9 guesses a second from 20 addresses
    assert Guest(lan).login(PASSWORD) == 429  # a new browser waits the window out too
    assert owner.login(PASSWORD) == 302  # the owner's does not
    clock["t"] += attempts.WINDOW_S
    assert Guest(lan).login(PASSWORD) == 302


def test_the_addresses_of_one_ipv6_64_share_one_budget(lan, clock):
    # one host takes any number of addresses in its /64; few IPv4 ones on a home network
    guesses = [Guest(lan, f"fd00:1:2:3::{i:x}").login("nope") for i in range(1, 8)]
    assert guesses == [401] * 5 + [429] * 2
    assert Guest(lan, "fd00:1:2:4::1").login("nope") == 401  # the next /64 is another visitor
    assert attempts._address_block("::ffff:10.1.2.3") == "10.1.2.3" and attempts._address_block("10.1.2.3") == "10.1.2.3"


def test_check_password_answers_and_refuses_when_the_queue_is_full():
    h = generate_password_hash("pw", method="pbkdf2:sha256:1000")
    assert attempts.check_password(h, "pw") is True and attempts.check_password(h, "pW") is False
    held = []
    for _ in range(attempts.MAX_WAITING + 1):
        assert attempts._waiting.acquire(blocking=False)
        held.append(1)
    try:
        assert not attempts._waiting.acquire(blocking=False)  # the queue holds MAX_WAITING + the one hashing
        assert attempts.check_password(h, "pw") is None
    finally:
        for _ in held:
            attempts._waiting.release()
    assert attempts.check_password(h, "pw") is True
    assert attempts.MAX_WAITING == 4 and attempts.HASH_WAIT_S == 10.0


def test_a_check_waits_its_turn_rather_than_failing(monkeypatch):
    h = generate_password_hash("pw", method="pbkdf2:sha256:1000")
    got = []
    attempts._hashing.acquire()
    t = threading.Thread(target=lambda: got.append(attempts.check_password(h, "pw")))
    t.start()
    attempts._hashing.release()  # well within HASH_WAIT_S
    t.join(30)
    assert got == [True]


def test_next_after_login_stays_on_this_site(lan, clock):
    # browsers drop tabs and newlines from a URL and read a backslash as a
    # slash, so "/<tab>/evil.example" and "/\\evil.example" go off-site too
    for nxt, where in [("/diary", "/diary"), ("//evil.example/", "/"), ("https://evil.example/", "/"),
                       ("diary", "/"), ("/%09/evil.example", "/"), ("/%0A/evil.example", "/"),
                       ("/%5Cevil.example", "/"), ("/%5C/evil.example", "/"), ("/night/3?x=1", "/night/3?x=1"),
                       # every control character and DEL, but a space or a letter beyond ASCII is a path's
                       ("/%1F/evil.example", "/"), ("/%7F/evil.example", "/"), ("/diary%20x", "/diary%20x"),
                       ("/caf%C3%A9", "/caf%C3%A9")]:
        g = Guest(lan)
        r = g.c.post(f"/login?next={nxt}", data={"password": PASSWORD, "csrf_token": g.tok},
                     environ_base={"REMOTE_ADDR": g.addr})
        assert r.status_code == 302 and r.headers["Location"] == where, nxt


def test_the_login_leads_back_to_the_page_asked_for_with_its_query(lan, clock):
    g = Guest(lan)
    r = g.get("/export.csv?night=1")
    assert r.status_code == 302
    nxt = r.headers["Location"]
    assert g.c.post(nxt, data={"password": PASSWORD, "csrf_token": g.tok},
                    environ_base={"REMOTE_ADDR": g.addr}).headers["Location"] == "/export.csv?night=1"


def test_a_session_lives_until_the_generation_moves(lan, clock):
    a, b = Guest(lan), Guest(lan)
    assert a.login(PASSWORD) == 302 and b.login(PASSWORD) == 302
    assert a.get("/api/nights").status_code == 200 and b.get("/api/nights").status_code == 200
    page = a.get("/diary").get_data(as_text=True)
    r = a.c.post("/logout/all", data={"csrf_token": _token(page)}, environ_base={"REMOTE_ADDR": a.addr})
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")
    assert a.get("/api/nights").status_code == 401 and b.get("/api/nights").status_code == 401
    c = Guest(lan)
    assert c.login(PASSWORD) == 302 and c.get("/api/nights").status_code == 200  # new sessions work


def test_log_out_ends_the_session_even_for_a_copy_of_its_cookie(lan, clock):
    a, b = Guest(lan), Guest(lan)
    assert a.login(PASSWORD) == 302 and b.login(PASSWORD) == 302
    stolen = a.c.get_cookie("session").value  # copied before "log out" (the page is plain HTTP)
    page = a.get("/diary").get_data(as_text=True)
    r = a.c.post("/logout", data={"csrf_token": _token(page)}, environ_base={"REMOTE_ADDR": a.addr})
    assert r.status_code == 302
    thief = Guest(lan)
    thief.c.set_cookie("session", stolen, domain="localhost")
    assert thief.get("/api/settings").status_code == 401  # the signed cookie was good for 31 days
    assert b.get("/api/nights").status_code == 200  # the owner's other sessions go on
    assert Guest(lan).login(PASSWORD) == 302  # and logging in again works


def test_a_logged_out_session_stays_refused_to_the_last_second_of_its_cookie(lan, clock, monkeypatch):
    import datetime as dt
    t0 = dt.datetime(2027, 1, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
    now = {"t": t0}

    class Clock(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return now["t"]

    monkeypatch.setattr(auth.dt, "datetime", Clock)
    a, b = Guest(lan), Guest(lan)
    assert a.login(PASSWORD) == 302 and b.login(PASSWORD) == 302
    copy = a.c.get_cookie("session").value
    for g in (a, b):
        g.tok = _token(g.get("/login").get_data(as_text=True))
    a.c.post("/logout", data={"csrf_token": a.tok}, environ_base={"REMOTE_ADDR": a.addr})
    # b logs out at the very second a's cookie would expire (itsdangerous still takes a cookie that
    # old), which prunes the list: a's entry must stay
    now["t"] = t0 + lan.permanent_session_lifetime
    b.c.post("/logout", data={"csrf_token": b.tok}, environ_base={"REMOTE_ADDR": b.addr})
    st = open_store(lan.config["DATA_DIR"])
    assert len(auth._revoked(st)) == 2
    st.close()
    thief = Guest(lan)
    thief.c.set_cookie("session", copy, domain="localhost")
    assert thief.get("/api/settings").status_code == 401


def test_a_session_of_a_newer_generation_does_not_count(lan, clock):
    # the database restored from an older backup: sessions made since are not the owner's
    g = Guest(lan)
    with lan.app_context():
        gen = lan.get_store().session_generation()
    with g.c.session_transaction() as s:
        s.update(owner=True, gen=gen + 1, sid="from-the-future")
    assert g.get("/api/settings").status_code == 401


def test_an_address_that_spent_its_own_budget_is_told_so_and_the_journal_hears_nothing(lan, clock, capsys):
    attempts._locked_said[0] = float("-inf")
    g = Guest(lan)
    for _ in range(5):
        g.login("guess")
    r = g.c.post("/login", data={"password": PASSWORD, "csrf_token": g.tok}, environ_base={"REMOTE_ADDR": g.addr})
    body = r.get_data(as_text=True)
    assert r.status_code == 429 and "wait five minutes" in body and "other devices" not in body
    assert "new browsers are refused" not in capsys.readouterr().err  # one visitor's own lock is no alarm


def test_the_login_page_names_the_passwd_command_for_its_data_dir(tmp_path):
    app = create_app({"DATA_DIR": str(tmp_path / "my data"), "HOST": "0.0.0.0", "TESTING": True})
    html = app.test_client().get("/login", environ_base={"REMOTE_ADDR": next(_addr)}).get_data(as_text=True)
    assert f"twitchmon passwd --data-dir &#39;{tmp_path / 'my data'}&#39;" in html
    from firmware_host.paths import SYSTEM_DIR
    with app.test_request_context():
        app.config["DATA_DIR"] = str(SYSTEM_DIR)
        assert auth.passwd_command() == "sudo twitchmon passwd"


# -- names and addresses ------------------------------------------------------------

@pytest.mark.parametrize("host,loop", [("localhost", True), ("", True), ("127.0.0.1", True), ("127.3.2.1", True),
                                       ("::1", True), ("0.0.0.0", False), ("192.168.1.5", False),
                                       ("twitchmon.local", False), ("localhost.evil", False)])
def test_is_loopback(host, loop):
    assert auth.is_loopback(host) is loop


def test_allowed_hosts_on_loopback_and_on_the_lan(monkeypatch):
    monkeypatch.setattr("socket.gethostname", lambda: "BedPi")
    assert auth.allowed_hosts("127.0.0.1", ("x.home",)) == (".localhost",)
    names = auth.allowed_hosts("0.0.0.0", ("Twitchmon.Home", "bedpi"))
    assert names == (".localhost", "bedpi", "bedpi.local", "twitchmon.home")
    assert auth.allowed_hosts("pi.lan") == (".localhost", "bedpi", "bedpi.local", "pi.lan")
    assert auth.allowed_hosts("192.168.1.5") == auth.allowed_hosts("::") == auth.allowed_hosts("0.0.0.0")


@pytest.mark.parametrize("header,bound,ok", [
    ("127.0.0.1:8080", "127.0.0.1", True), ("localhost:8080", "127.0.0.1", True),
    ("[::1]:8080", "127.0.0.1", True), ("a.localhost", "127.0.0.1", True),
    ("evil.example:8080", "127.0.0.1", False), ("192.168.1.5:8080", "127.0.0.1", False),
    ("[2001:db8::1]:80", "127.0.0.1", False),
    ("192.168.1.5:8080", "0.0.0.0", True), ("[fe80::1]:8080", "0.0.0.0", True), ("fe80::1", "0.0.0.0", True),
    ("bedpi.local:8080", "0.0.0.0", True), ("BEDPI:8080", "0.0.0.0", True), ("evil.example", "0.0.0.0", False),
    ("bedpi.local.evil.example", "0.0.0.0", False)])
def test_host_ok(header, bound, ok):
    names = (".localhost", "bedpi", "bedpi.local")
    assert auth.host_ok(header, bound, names) is ok


def test_a_request_to_another_name_is_refused_first(lan):
    r = lan.test_client().get("/login", headers={"Host": "rebind.example"})
    assert r.status_code == 400 and b"rebind.example" in r.data


# -- the signing key ---------------------------------------------------------------

def test_secret_key_is_made_once_owner_only_and_kept(tmp_path):
    key = auth.load_secret_key(tmp_path)
    p = tmp_path / auth.SECRET_FILE
    assert len(key) == 64 and p.read_text() == key + "\n"
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert auth.load_secret_key(tmp_path) == key
    os.chmod(p, 0o644)  # a hand copy widened it
    assert auth.load_secret_key(tmp_path) == key and stat.S_IMODE(p.stat().st_mode) == 0o600
    assert [f.name for f in tmp_path.iterdir()] == [auth.SECRET_FILE]  # no temporary file left


def test_a_short_or_empty_key_file_is_replaced(tmp_path):
    p = tmp_path / auth.SECRET_FILE
    p.write_text("x" * 31 + "\n")
    key = auth.load_secret_key(tmp_path)
    assert len(key) == 64 and p.read_text().strip() == key
    p.write_text("y" * 32)
    assert auth.load_secret_key(tmp_path) == "y" * 32  # 32 characters is long enough


def test_an_unwritable_key_file_still_gives_a_key_for_this_run(tmp_path, capsys):
    (tmp_path / auth.SECRET_FILE).mkdir()  # cannot be read as a key nor replaced by one, even by root
    key = auth.load_secret_key(tmp_path)
    assert len(key) == 64 and auth.load_secret_key(tmp_path) != key  # a new one each run
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "logins end when the page restarts" in err[0] and str(tmp_path) in err[0]
    assert sorted(f.name for f in tmp_path.iterdir()) == [auth.SECRET_FILE]  # no temporary file left


def test_sessions_work_at_any_generation(tmp_path, clock):
    """Generations are compared by value: past 256 they are no longer
    Python's cached small ints."""
    d = tmp_path / "data"
    st = open_store(d)
    st.set_setting("password_hash", generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"))
    st.set_setting("session_generation", 100_000)
    st.close()
    app = create_app({"DATA_DIR": str(d), "HOST": "0.0.0.0", "TESTING": True})
    g = Guest(app)
    assert g.login(PASSWORD) == 302 and g.get("/api/nights").status_code == 200


def test_failures_older_than_the_window_do_not_count_while_newer_ones_do(lan, clock):
    g = Guest(lan)
    assert g.login("x") == 401
    clock["t"] += 200.0
    assert [g.login("x") for _ in range(4)] == [401] * 4  # five failures within 300 s
    clock["t"] += 150.0  # the first is now 350 s old, the other four 150 s
    assert g.login("x") == 401
    assert g.login("x") == 429


def test_with_no_password_set_no_password_logs_in_from_the_lan(tmp_path, clock):
    d = tmp_path / "data"
    open_store(d).close()
    app = create_app({"DATA_DIR": str(d), "HOST": "0.0.0.0", "TESTING": True})
    g = Guest.__new__(Guest)  # the page offers no form then: a session with a token, as a crafted request has
    g.addr, g.c, g.tok = next(_addr), app.test_client(), "t" * 43
    with g.c.session_transaction() as sess:
        sess["csrf"] = g.tok
    for pw in ("", "anything", "correct horse"):
        assert g.login(pw) == 401
    assert g.get("/api/nights").status_code == 401


def test_the_page_offers_log_out_on_the_lan_and_no_login_on_loopback(lan, clock, client):
    g = Guest(lan)
    assert "Log out" not in g.get("/login").get_data(as_text=True)
    assert g.login(PASSWORD) == 302
    assert "Log out" in g.get("/").get_data(as_text=True)
    home = client.get("/").get_data(as_text=True)  # loopback: everyone is the owner, nobody logs in
    assert "Log out" not in home and "Log in" not in home
