"""The page's HTTP server: waitress, with limits a LAN visitor cannot talk past.

waitress alone holds up to 100 connections, reads 1 GiB bodies (spooling
what passes 512 KiB to temp files, on a Pi the SD card that holds the data
dir) and closes only connections that are *idle* for 120 s, so a client
that drips one header line every few seconds keeps its connection for ever
(slowloris).  Here:

* bodies over ``MAX_BODY_BYTES`` are refused (413) from the Content-Length
  before any of it is read, and a chunked body is cut off at the limit;
  the limit is far below waitress's ``inbuf_overflow``, so no request body
  is ever spooled to disk;
* request headers over ``MAX_HEADER_BYTES`` are refused (431);
* one client address holds at most ``PER_ADDRESS`` connections; more are
  answered 503 and closed at once, so one device cannot take the page;
* past ``CONNECTION_LIMIT`` (raised from 100: an idle waitress connection
  costs a few KB) a new connection closes the oldest one that is idle or
  still sending its request, so many addresses dripping half requests
  cannot keep a whole one waiting (waitress itself stops accepting);
* a request must arrive whole within ``REQUEST_S`` of its first byte, and a
  kept-alive connection with no request is closed after ``IDLE_S``.

Why waitress with these few hooks and not another server: it is already
the page's server, pure Python (no build on a Pi), event-driven for
reading requests (a slow client costs a socket, not a thread), and well
kept; it has the size limits but neither a per-address cap nor a deadline
for a whole request, which are the two small hooks below (on its documented
``channel_class`` and ``HTTPChannel.readable``).  A reverse proxy (nginx's
``limit_conn`` and ``client_header_timeout``) would do the same from
outside at the cost of a second service to install and keep.
"""
from __future__ import annotations

import logging
import threading
import time

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server

from firmware_host.log import get_logger

MAX_BODY_BYTES = 64 * 1024  #: the largest form (settings; a diary note of 2000 characters) is a few KB
MAX_HEADER_BYTES = 16 * 1024  #: request line and headers; the page's cookie is under 200 bytes
PER_ADDRESS = 24  #: connections one client address may hold (a browser opens ~6 per site)
CONNECTION_LIMIT = 400  #: connections before the oldest waiting one is closed (systemd's soft limit is 1024 fds)
REQUEST_S = 10.0  #: a request's line, headers and body must arrive within this of its first byte, s
IDLE_S = 30  #: a kept-alive connection with nothing asked for this long is closed, s
CLEANUP_S = 2  #: how often idle connections are looked for, s

_REFUSED = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n"
            b"Content-Length: 41\r\n\r\ntoo many connections from your address.\r\n")


class GuardedChannel(HTTPChannel):
    """waitress's channel with a per-address cap, eviction at the connection
    limit and a whole-request deadline."""

    per_address = PER_ADDRESS
    request_s = REQUEST_S
    connection_limit = CONNECTION_LIMIT

    def __new__(cls, server, sock, addr, adj, map=None):
        # runs in waitress's accept, on its one event-loop thread, like its own maintenance
        channels = list(server.active_channels.values())
        host = addr[0] if isinstance(addr, tuple) and addr else None
        if host is not None and sum(1 for ch in channels if ch.addr and ch.addr[0] == host) >= cls.per_address:
            try:
                sock.setblocking(False)
                sock.send(_REFUSED)
            except OSError:
                pass
            sock.close()
            return None  # handle_accept drops it; __init__ is not called
        if len(channels) >= cls.connection_limit:
            # not one being served, nor one still sending a finished response (a download)
            waiting = [ch for ch in channels if not ch.requests and not ch.total_outbufs_len and not ch.will_close]
            if waiting:
                min(waiting, key=lambda ch: ch._request_started).will_close = True
        return super().__new__(cls)

    def __init__(self, server, sock, addr, adj, map=None):
        self._request_started = time.monotonic()  # idle or sending since
        super().__init__(server, sock, addr, adj, map)

    def received(self, data):
        if self.request is None and data:
            self._request_started = time.monotonic()
        return super().received(data)

    def readable(self):
        # asyncore asks every channel this on each turn of the loop (at least
        # once a second), so it is where a half-sent request meets its deadline
        if (self.request is not None and not self.requests
                and time.monotonic() - self._request_started > self.request_s):
            self.will_close = True
            return False
        return super().readable()


class QueueNote(logging.Filter):
    """For the logger ``waitress.queue``: waitress warns "Task queue depth is N"
    for every request that waits for a free worker thread (72 lines for 200
    requests 20 at a time).  More requests than threads for a moment is no
    fault: said once, in twitchmon's words, then kept quiet.  waitress's
    errors are on its other loggers and still shown."""

    def __init__(self, threads: int):
        super().__init__()
        self.threads = threads
        self.said = False

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.said:
            self.said = True
            get_logger(__name__).info(f"the page is busy: requests wait for a free worker thread (it has "
                                      f"{self.threads}); said once")
        return False


def make_server(app, host: str, port: int, threads: int = 12, *, request_s: float = REQUEST_S,
                cleanup_s: int = CLEANUP_S, per_address: int = PER_ADDRESS,
                connection_limit: int = CONNECTION_LIMIT):
    """A waitress server for ``app`` bound to (host, port), not yet running
    (``.run()``); ``.effective_port`` is the port it got."""
    channel = type("Channel", (GuardedChannel,), {"request_s": request_s, "per_address": per_address,
                                                  "connection_limit": connection_limit})
    server = create_server(app, host=host, port=port, threads=threads, ident="twitchmon",
                           max_request_body_size=MAX_BODY_BYTES, max_request_header_size=MAX_HEADER_BYTES,
                           # waitress's own limit, above ours: it stops accepting there, we evict first
                           connection_limit=connection_limit + 64, channel_timeout=IDLE_S,
                           cleanup_interval=cleanup_s, asyncore_use_poll=True)
    # a name with IPv4 and IPv6 addresses gives one server per socket, in one map
    listeners = [server] if isinstance(server, BaseWSGIServer) else \
        [s for s in server.map.values() if isinstance(s, BaseWSGIServer)]
    for s in listeners:
        s.channel_class = channel
    server.twitchmon_app = app  # for stop(): waitress keeps only its proxy-headers wrapper of it
    queue_log = logging.getLogger("waitress.queue")
    for note in [f for f in queue_log.filters if isinstance(f, QueueNote)]:  # an earlier server's (tests)
        queue_log.removeFilter(note)
    queue_log.addFilter(QueueNote(threads))
    return server


def stop(server, app=None, timeout_s: float = 5.0) -> None:
    """Stop a server running in a thread of this process (tests, tools), in
    the one safe order: live streams told to end, the worker threads waited
    for, and only then the sockets and the trigger pipe closed.  waitress's
    own ``close()`` closes the trigger first, and a worker still streaming
    then writes its wake-up byte to the closed descriptor: once the number
    is reused by a file opened next, that byte lands in the file (it turned
    a copied database's "SQLite format 3" into "xQLite" in the test suite)."""
    app = app if app is not None else getattr(server, "twitchmon_app", None)
    if app is not None and "twitchmon.stopping" in getattr(app, "extensions", {}):
        app.extensions["twitchmon.stopping"].set()
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=timeout_s)
    # listeners, trigger and connections closed by the loop's own thread (a close from here races its
    # poll, which then dies on a closed descriptor: waitress#468); run() returns as the map empties
    the_map = getattr(server, "map", None) or server._map
    listener = server if isinstance(server, BaseWSGIServer) else \
        next(s for s in the_map.values() if isinstance(s, BaseWSGIServer))
    closed = threading.Event()

    def close_all() -> None:
        wasyncore.close_all(the_map)
        closed.set()

    woken = False
    if not listener.trigger._closed:  # never write to a closed trigger: its descriptor may be another file's now
        try:
            listener.trigger.pull_trigger(close_all)
            woken = True
        except OSError:  # the loop is gone and took its trigger with it
            pass
    if not (woken and closed.wait(timeout_s)):  # no loop to do it (never started, or gone): close from here
        wasyncore.close_all(the_map)
