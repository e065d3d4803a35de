"""twitchmon's web page: nights, counts and the JSON API over the store.

``create_app(config)`` is the app factory (Flask's tutorial pattern); every
page has a JSON twin under ``/api/`` (datasette's habit).  Nothing loads from
outside the Pi: no CDN, no external fonts.
"""
from __future__ import annotations

import datetime as dt
import errno
import logging
import os
import sqlite3
import threading

from flask import Flask, g, jsonify, request
from markupsafe import escape
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from firmware_host import pins
from firmware_host.errors import ListenError
from firmware_host.mqtt import banner as mqtt_banner
from firmware_host.store import DB_NAME, Store, describe, open_store, unavailable

from . import auth, diary, hardware_page, nights, report, settings, tonight, trends
from .auth import load_secret_key
from .server import MAX_BODY_BYTES
from .server import make_server as make_guarded_server

DISCLAIMER = ("twitchmon is not a medical device and does not diagnose. Persistent or spreading "
              "twitching, weakness or muscle wasting are reasons to see a doctor.")


def sensor_banner(store, now=None, max_age_s: float = 300.0) -> list[str]:
    """Lines for the page's banner from the daemon's last health check
    (:meth:`Store.daemon_health`): each sensor that is not ok, if the check is recent."""
    try:
        h = store.daemon_health()
        t = dt.datetime.fromisoformat(h["t"])
        status = list(h["status"])
    except (TypeError, ValueError, KeyError, sqlite3.Error):  # a damaged store: no banner, the page says the rest
        return []
    now = now or dt.datetime.now(dt.timezone.utc)
    if (now - t).total_seconds() > max_age_s:
        return []
    try:
        names = store.site_names(len(status))  # the owner's names, as Tonight shows them
    except sqlite3.Error:
        names = pins.site_names(len(status))
    lines = [f"{names[i]} sensor: {st}" for i, st in enumerate(status) if st != "ok"]
    if h.get("spi_errors"):
        lines.append(f"the ADC did not answer {h['spi_errors']} time(s) in the last check (SPI read errors)")
    if h.get("realtime") is False:
        lines.append(f"the sampler runs without real-time priority ({h.get('sampler_priority', '')}): "
                     "some samples may be late")
    return lines


class IdConverter(IntegerConverter):
    """<int:...> in every route: 0 .. 2**63-1, what SQLite can hold
    (a longer number is a 404, not an OverflowError), in ASCII digits
    (Werkzeug's ``\\d+`` also matches other scripts' digits: /nights/١ was night 1)."""

    regex = r"[0-9]+"

    def __init__(self, url_map, **kw):
        kw.setdefault("max", 2 ** 63 - 1)
        super().__init__(url_map, **kw)


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(DATA_DIR=os.environ.get("TWITCHMON_DATA", "."), HOST="127.0.0.1")
    app.config.update(config or {})
    _open_data_dir(app)
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict")
    # the same bound as the server's, for any other WSGI server or the test client: a
    # bigger body is 413 before request.form reads it (Werkzeug's max_form_memory_size
    # does not apply to urlencoded forms, only MAX_CONTENT_LENGTH does)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, MAX_FORM_MEMORY_SIZE=MAX_BODY_BYTES, MAX_FORM_PARTS=100)
    _store_per_request(app)
    _page_globals(app)
    _error_pages(app)
    app.url_map.converters["int"] = IdConverter
    # set when the server stops (web.server.stop): open live streams end at their next tick
    app.extensions["twitchmon.stopping"] = threading.Event()
    auth.init_app(app)
    for bp in (nights.bp, tonight.bp, diary.bp, trends.bp, hardware_page.bp, settings.bp, report.bp):
        app.register_blueprint(bp)
    return app


def _open_data_dir(app: Flask) -> None:
    """Create and migrate the store once (StoreError if damaged); the signing key."""
    st = open_store(app.config["DATA_DIR"], check=True)
    # the signing key once lived in the database it guards: a new one in its own file
    # (those sessions end once), and none left where a copy of the nights would carry it
    # (a read-only data dir keeps its old row until it is writable again)
    if not st.readonly and st.get_setting("secret_key") is not None:
        st.delete_setting("secret_key")
    st.close()
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = load_secret_key(app.config["DATA_DIR"])


def _store_per_request(app: Flask) -> None:
    """``app.get_store()``: one store connection per request (flaskr's get_db)."""
    def get_store():
        if "store" not in g:
            g.store = Store(os.path.join(app.config["DATA_DIR"], DB_NAME), app.config.get("DB_BUSY_S", 10.0))
        return g.store

    app.get_store = get_store

    @app.teardown_appcontext
    def _close(_exc):
        store = g.pop("store", None)
        if store is not None:
            store.close()


def _page_globals(app: Flask) -> None:
    """What every page shows (the disclaimer, the banners, the theme) and the headers every response carries."""
    @app.context_processor
    def _globals():
        hour = dt.datetime.now().hour
        # dark by default at night, whatever the phone's setting: a bright page at 3 a.m. wakes you
        # the banners are the owner's (and the sensors' state a LAN read-only viewer's): a visitor at
        # the login page must not learn the site names, whether they are worn now, or the broker
        owner = g.owner if "owner" in g else auth.is_owner()  # the guard's answer, where it ran (not the login page)
        return {"disclaimer": DISCLAIMER,
                "sensor_banner": sensor_banner(app.get_store()) if owner or auth.read_only_lan() else [],
                "mqtt_banner": mqtt_banner(app.get_store()) if owner else None,
                "night_theme": app.config.get("THEME", "night" if hour >= 19 or hour < 8 else "day") == "night"}

    @app.template_filter("dur")
    def _dur(seconds) -> str:
        """A duration for people: "2.3 h", "26 min" under an hour, "40 s" under a minute."""
        s = float(seconds or 0)
        return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.0f} min" if s >= 59.5 else f"{s:.0f} s"

    @app.after_request
    def _headers(resp):
        resp.headers["Content-Security-Policy"] = ("default-src 'self'; img-src 'self' data:; "
                                                   "style-src 'self'; script-src 'self'; "
                                                   "connect-src 'self'; frame-ancestors 'none'")
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        # the nights, the diary and the settings are health data: no copy left in a phone's cache after
        # logging out; only the page's own files (static/) and a view's public drawing (a positive max-age:
        # the hardware schematics) may be kept
        if request.endpoint != "static" and not resp.cache_control.max_age:
            resp.headers["Cache-Control"] = "no-store"
        return resp


def _api_error(code, message):
    return jsonify({"error": message}), code


def _unavailable(msg):
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return _api_error(503, msg)
    return (f"<!doctype html><meta charset=utf-8><title>twitchmon</title><p role=alert>{escape(msg)}.</p>"
            f"<p><a href=\"/\">Back to the nights</a></p>", 503, {"Content-Type": "text/html; charset=utf-8"})


def _error_pages(app: Flask) -> None:
    """JSON errors under /api/; a busy, full, read-only or damaged store is a 503 line, never a 500."""
    @app.errorhandler(404)
    def _404(e):
        if request.path.startswith("/api/"):
            return _api_error(404, "not found")
        return e

    @app.errorhandler(400)
    def _400(e):
        if request.path.startswith("/api/"):
            return _api_error(400, getattr(e, "description", "bad request"))
        return e

    @app.errorhandler(HTTPException)
    def _api_http_error(e):
        """Every other HTTP error under /api/ (a 405 of a wrong method, a 503, a 500) in the
        same one JSON line, with its status and its headers (a 405's Allow); pages keep Flask's."""
        if not request.path.startswith("/api/") or e.code is None:
            return e
        if e.code == 405:
            msg = f"{request.method} is not allowed here (allowed: {', '.join(sorted(e.valid_methods or ()))})"
        elif e.description != type(e).description:  # the reason abort() gave
            msg = e.description
        else:
            msg = e.name.lower()
        resp, code = _api_error(e.code, msg)
        for k, v in e.get_headers():
            if k.lower() != "content-type":
                resp.headers[k] = v
        return resp, code

    @app.errorhandler(sqlite3.DatabaseError)
    def _db_unavailable(e):
        """Busy, full, read-only or damaged: say which, 503, never a 500 page."""
        if not unavailable(e):
            raise e
        return _unavailable(describe(e))

    @app.errorhandler(OSError)
    def _disk_unavailable(e):
        """A file beside the database (the MQTT password) on a read-only or full
        data dir: the same 503 line as the database's."""
        if e.errno not in (errno.EROFS, errno.ENOSPC, errno.EDQUOT):
            raise e
        return _unavailable(describe(e))


def make_server(app: Flask, host: str, port: int, threads: int = 12, **limits):
    """The waitress server with the limits in :mod:`web.server` (``limits``:
    its keyword overrides), already listening: a busy port or a bad host is a
    :class:`ListenError` here, before the caller starts anything else or says
    it is serving."""
    try:
        return make_guarded_server(app, host, port, threads, **limits)
    except OSError as exc:
        raise ListenError(exc.errno, exc.strerror or str(exc)) from exc
    except ValueError as exc:  # waitress's word for a host that does not resolve
        cause = exc.__context__ if isinstance(exc.__context__, OSError) else exc
        raise ListenError(getattr(cause, "errno", None), getattr(cause, "strerror", None) or str(exc)) from cause


def serve(app: Flask, host: str, port: int, threads: int = 12, server=None) -> None:
    """Serve with waitress until stopped (``server`` from :func:`make_server`, or made here)."""
    logging.basicConfig()  # waitress's warnings (connection limit, errors) to stderr, as waitress.serve does
    server = server or make_server(app, host, port, threads)
    # the port it really listens on: --port 0 asks the system for a free one
    port = getattr(server, "effective_port", None) or port
    print(f"twitchmon: serving http://{host}:{port}/", flush=True)
    server.run()
