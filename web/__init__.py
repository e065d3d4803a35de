"""twitchmon's web page: nights, counts and the JSON API over the store.

``create_app(config)`` is the app factory (Flask's tutorial pattern); every
page has a JSON twin under ``/api/`` (datasette's habit).  Nothing loads from
outside the Pi: no CDN, no external fonts.
"""
from __future__ import annotations

import os

from flask import Flask, g, jsonify, request

from firmware_host.store import open_store

DISCLAIMER = ("twitchmon is not a medical device and does not diagnose. Persistent or spreading "
              "twitching, weakness or muscle wasting are reasons to see a doctor.")


def sensor_banner(store, now=None, max_age_s: float = 300.0) -> list[str]:
    """Lines for the page's banner from the daemon's last health check
    (setting ``health``): each sensor that is not ok, if the check is recent."""
    import datetime as dt  # noqa: PLC0415
    import json  # noqa: PLC0415

    from firmware_host import pins  # noqa: PLC0415

    try:
        h = json.loads(store.get_setting("health", "null") or "null")
        t = dt.datetime.fromisoformat(h["t"])
        status = list(h["status"])
    except (TypeError, ValueError, KeyError):
        return []
    now = now or dt.datetime.now(dt.timezone.utc)
    if (now - t).total_seconds() > max_age_s:
        return []
    names = pins.site_names(len(status))
    lines = [f"{names[i]} sensor: {st}" for i, st in enumerate(status) if st != "ok"]
    if h.get("spi_errors"):
        lines.append(f"the ADC did not answer {h['spi_errors']} time(s) in the last check (SPI read errors)")
    if h.get("realtime") is False:
        lines.append(f"the sampler runs without real-time priority ({h.get('sampler_priority', '')}): "
                     "some samples may be late")
    return lines


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(DATA_DIR=os.environ.get("TWITCHMON_DATA", "."), HOST="127.0.0.1")
    app.config.update(config or {})
    os.makedirs(app.config["DATA_DIR"], exist_ok=True)
    st = open_store(app.config["DATA_DIR"])  # create and migrate once
    secret = st.get_setting("secret_key")
    if not secret:  # made once per data dir, so sessions survive a restart
        import secrets  # noqa: PLC0415
        secret = secrets.token_hex(32)
        st.set_setting("secret_key", secret)
    st.close()
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict")

    def get_store():
        if "store" not in g:
            from firmware_host.store import Store, DB_NAME  # noqa: PLC0415
            g.store = Store(os.path.join(app.config["DATA_DIR"], DB_NAME))
        return g.store

    app.get_store = get_store

    @app.teardown_appcontext
    def _close(_exc):
        store = g.pop("store", None)
        if store is not None:
            store.close()

    @app.context_processor
    def _globals():
        import datetime as dt  # noqa: PLC0415
        hour = dt.datetime.now().hour
        # dark by default at night, whatever the phone's setting: a bright page at 3 a.m. wakes you
        return {"disclaimer": DISCLAIMER, "sensor_banner": sensor_banner(get_store()),
                "night_theme": hour >= 19 or hour < 8}

    @app.template_filter("dur")
    def _dur(seconds) -> str:
        """A duration for people: "2.3 h", or "26 min" under an hour."""
        s = float(seconds or 0)
        return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.0f} min"

    @app.after_request
    def _headers(resp):
        resp.headers["Content-Security-Policy"] = ("default-src 'self'; img-src 'self' data:; "
                                                   "style-src 'self'; script-src 'self'; "
                                                   "connect-src 'self'; frame-ancestors 'none'")
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        return resp

    def _api_error(code, message):
        return jsonify({"error": message}), code

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

    from werkzeug.routing import IntegerConverter  # noqa: PLC0415

    class IdConverter(IntegerConverter):
        """<int:...> in every route: 0 .. 2**63-1, what SQLite can hold
        (a longer number is a 404, not an OverflowError)."""

        def __init__(self, url_map, **kw):
            kw.setdefault("max", 2 ** 63 - 1)
            super().__init__(url_map, **kw)

    app.url_map.converters["int"] = IdConverter

    from . import auth, diary, hardware_page, nights, settings, tonight, trends  # noqa: PLC0415
    auth.init_app(app)
    app.register_blueprint(nights.bp)
    app.register_blueprint(tonight.bp)
    app.register_blueprint(diary.bp)
    app.register_blueprint(trends.bp)
    app.register_blueprint(hardware_page.bp)
    app.register_blueprint(settings.bp)
    return app


def serve(app: Flask, host: str, port: int, threads: int = 12) -> None:
    """Serve with waitress (production WSGI server, pure Python)."""
    from waitress import serve as waitress_serve  # noqa: PLC0415

    print(f"twitchmon: serving http://{host}:{port}/", flush=True)
    waitress_serve(app, host=host, port=port, threads=threads, ident="twitchmon")
