"""Settings: sensor sites' names, the night window, sensitivity, retention,
LAN access and the owner's password.  Stored in the store (setting
``config``, the settings file's structure, on top of the file the daemon
was started with); the daemon picks changes up within a minute (window)
or at the next night (sensitivity, names)."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, url_for
from werkzeug.security import check_password_hash, generate_password_hash

from firmware_host import pins

bp = Blueprint("settings", __name__)

MAX_NAME = 32  #: characters in a site's name
MIN_PASSWORD = 8


def _store():
    return current_app.get_store()


@bp.context_processor
def _phone():
    """The addresses a phone on the home network opens this page at (none on loopback)."""
    from firmware_host.lan import page_urls  # noqa: PLC0415

    from .auth import passwd_command  # noqa: PLC0415
    port = int(request.environ.get("SERVER_PORT") or 80)
    return {"phone_urls": page_urls(current_app.config["HOST"], port), "passwd_command": passwd_command()}


def current(store) -> dict:
    from firmware_host.config import ConfigError, effective_config  # noqa: PLC0415
    from firmware_host.daemon import site_names  # noqa: PLC0415
    try:
        cfg = effective_config(current_app.config.get("CONFIG_FILE"), store)
    except ConfigError as exc:
        abort(500, description=str(exc))
    return {"channel_names": site_names(store, len(pins.SITES)), "night_start": cfg.night_start.strftime("%H:%M"),
            "night_end": cfg.night_end.strftime("%H:%M"), "timezone": cfg.timezone or "",
            "sensitivity": cfg.sensitivity, "raw_retention_days": cfg.raw_retention_days,
            "lan_read_only": bool(store.get_setting("lan_read_only", False)),
            "password_set": store.get_setting("password_hash") is not None}


def _validate(form) -> tuple[dict, list[str]]:
    """The override dict and site names from the form; ConfigError/ValueError on bad input."""
    from firmware_host.config import load_raw, config_from_dict, merge  # noqa: PLC0415
    names = [form.get(f"name{c}", "").strip() for c in range(len(pins.SITES))]
    for c, n in enumerate(names):
        if not n or len(n) > MAX_NAME or any(ch in n for ch in "\r\n\t"):
            raise ValueError(f"site {c + 1}: a name of 1 to {MAX_NAME} characters, on one line")
    if len(set(names)) != len(names):
        raise ValueError("each site needs its own name")

    def num(key, kind=float):
        raw = form.get(key, "")
        try:
            return kind(raw)
        except ValueError:
            raise ValueError(f"{key.replace('_', ' ')}: {raw!r} is not a number") from None

    over = {"night": {"start": form.get("night_start", ""), "end": form.get("night_end", "")},
            "detector": {"sensitivity": num("sensitivity")},
            "storage": {"raw_retention_days": num("raw_retention_days", int)}}
    tz = form.get("timezone", "").strip()
    if tz:
        over["night"]["timezone"] = tz
    config_from_dict(merge(load_raw(current_app.config.get("CONFIG_FILE")), over), "settings")
    return over, names


@bp.get("/settings")
def page():
    return render_template("settings.html", s=current(_store()), error=None, saved=request.args.get("saved"),
                           sites=pins.SITES)


@bp.get("/api/settings")
def api():
    return jsonify(current(_store()))


@bp.post("/settings")
def save():
    from firmware_host.config import ConfigError  # noqa: PLC0415
    store = _store()
    try:
        over, names = _validate(request.form)
    except (ConfigError, ValueError) as exc:
        msg = str(exc).replace("settings: ", "")
        if request.headers.get("Accept", "").startswith("application/json"):
            return jsonify({"error": msg}), 400
        return render_template("settings.html", s=current(store), error=msg, saved=None,
                               sites=pins.SITES), 400
    store.set_setting("config", over)
    store.set_setting("channel_names", names)
    store.set_setting("lan_read_only", request.form.get("lan_read_only") == "on")
    store.set_setting("config_rev", int(store.get_setting("config_rev", 0)) + 1)
    store.set_setting("config_saved_utc", dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    if request.headers.get("Accept", "").startswith("application/json"):
        return jsonify(current(store))
    return redirect(url_for("settings.page", saved=1))


@bp.post("/settings/password")
def password():
    store = _store()
    old = store.get_setting("password_hash")
    new, again = request.form.get("new_password", ""), request.form.get("new_password2", "")
    error = None
    if old and not check_password_hash(old, request.form.get("current_password", "")):
        error = "The current password is not right."
    elif len(new) < MIN_PASSWORD:
        error = f"Use at least {MIN_PASSWORD} characters."
    elif new != again:
        error = "The two new passwords differ."
    if error:
        return render_template("settings.html", s=current(store), error=error, saved=None, sites=pins.SITES), 400
    store.set_setting("password_hash", generate_password_hash(new))
    return redirect(url_for("settings.page", saved="password"))
