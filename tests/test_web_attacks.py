"""A LAN visitor against the real server (``twitchmon serve``, waitress, on
127.0.0.1 and a free port): big bodies, spooled uploads, huge headers,
slowloris.  Each attack is bounded in bytes, sockets and seconds; the
figures under attack (peak RSS, the sampler's timing) come from
benchmarks/bench_attacks.py."""
import socket
import threading
import time

import pytest

from twitchmon_testkit import attacklib


@pytest.fixture
def page(tmp_path):
    p, port = attacklib.start_page(tmp_path / "data", env={"TMPDIR": str(_spool(tmp_path))})
    yield p, port
    attacklib.stop_page(p)


def _spool(tmp_path):
    d = tmp_path / "spool"
    d.mkdir(exist_ok=True)
    return d


def _headers(port, extra="", declared=None, chunked=False):
    s = socket.create_connection(("127.0.0.1", port), 10)
    h = (f"POST /login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
         "Content-Type: application/x-www-form-urlencoded\r\n" + extra)
    h += "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {declared}\r\n"
    s.sendall((h + "\r\n").encode())
    return s


def test_a_300_mb_form_is_refused_from_its_headers_before_any_of_it_is_read(page):
    _, port = page
    s = _headers(port, declared=300 * 2 ** 20)
    s.settimeout(5.0)  # the old page waited for the body (and then read all of it into memory)
    try:
        assert attacklib.status_of(s) == 413
    finally:
        s.close()
    assert attacklib.timed_get(port)[0] == 200  # and goes on serving


def test_a_chunked_body_without_a_length_is_cut_off_at_the_limit(page):
    _, port = page
    s = _headers(port, chunked=True)
    chunk = b"a" * 65536
    sent = 0
    try:
        while sent < 4 * 2 ** 20:  # 4 MB offered; the old page read it all
            s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        s.settimeout(5.0)
        code = attacklib.status_of(s)
    except OSError:  # closed on us mid-body: it stopped reading
        code = 413
    finally:
        s.close()
    assert code == 413


def test_an_upload_held_open_is_never_spooled_to_disk(page, tmp_path):
    """Waitress writes a body over ``inbuf_overflow`` to a temp file; held
    open on the SD card's filesystem they filled the data dir's disk."""
    p, port = page
    s = _headers(port, declared=50 * 2 ** 20)
    spooled = []
    try:
        s.settimeout(5.0)
        try:
            for _ in range(32):  # 2 MB, 4 x waitress's default inbuf_overflow
                s.sendall(b"a" * 65536)
        except OSError:
            pass  # refused and closed: nothing to spool
        time.sleep(0.5)
        spooled = attacklib.open_files_under(p.pid, _spool(tmp_path))
    finally:
        s.close()
    assert spooled == []


def test_huge_request_headers_are_refused(page):
    _, port = page
    status, _ = attacklib.timed_get(port, headers={"Cookie": "x=" + "a" * 100_000})
    assert status == 431
    assert attacklib.timed_get(port)[0] == 200


@pytest.mark.skipif(not attacklib.second_loopback_works(), reason="127.0.0.2 not routable here")
def test_slowloris_from_one_address_leaves_the_page_to_the_others(page):
    """105 half-sent requests from 127.0.0.2 (one header line a second): the
    old page's 100 connections were all taken and every request timed out."""
    _, port = page
    attack = attacklib.Slowloris(port, 105, interval_s=1.0).start()
    try:
        time.sleep(2.0)
        codes = [attacklib.timed_get(port, timeout_s=8.0)[0] for _ in range(3)]
    finally:
        attack.stop()
    assert codes == [200, 200, 200]


from web.server import stop  # noqa: E402 - beside the in-process servers it stops


def _in_process(tmp_path, **limits):
    from web import create_app
    from web.server import make_server

    app = create_app({"DATA_DIR": str(tmp_path / "data")})
    server = make_server(app, "127.0.0.1", 0, **limits)
    threading.Thread(target=server.run, daemon=True).start()
    return server


@pytest.mark.skipif(not attacklib.second_loopback_works(), reason="127.0.0.2 not routable here")
def test_slowloris_from_many_addresses_does_not_keep_a_whole_request_waiting(tmp_path):
    """Past the connection limit the oldest half-sent request makes room (waitress
    itself stops accepting, so a request waited for the 10-s deadline)."""
    server = _in_process(tmp_path, connection_limit=20, request_s=60.0)
    port = int(server.effective_port)
    attacks = [attacklib.Slowloris(port, 20, source=f"127.0.0.{2 + i}", interval_s=1.0).start() for i in range(5)]
    try:
        time.sleep(1.5)
        codes = [attacklib.timed_get(port, timeout_s=5.0)[0] for _ in range(3)]
    finally:
        for a in attacks:
            a.stop()
        stop(server)
    assert codes == [200, 200, 200]


def test_a_half_sent_request_is_closed_after_the_deadline_even_if_it_drips(tmp_path):
    """waitress's channel_timeout counts idleness, so one byte every second
    keeps a connection for ever; the page closes a request not complete in
    ``request_s``.  (In-process server with a 1.5-s deadline, so it is quick.)"""
    server = _in_process(tmp_path, request_s=1.5, cleanup_s=1)
    port = int(server.effective_port)
    s = socket.create_connection(("127.0.0.1", port), 5)
    closed_after = None
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        t0 = time.monotonic()
        while time.monotonic() - t0 < 15:
            time.sleep(0.5)
            try:
                s.sendall(b"X: y\r\n")
                s.settimeout(0.01)
                if s.recv(1) == b"":
                    closed_after = time.monotonic() - t0
                    break
            except TimeoutError:
                continue
            except OSError:
                closed_after = time.monotonic() - t0
                break
    finally:
        s.close()
        stop(server)
    assert closed_after is not None
