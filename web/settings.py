"""Settings: sensor sites' names, the night window, sensitivity, retention,
LAN access, the MQTT broker (:mod:`firmware_host.mqtt`) and the owner's
password.  Stored in the store (setting
``config``, the settings file's structure, on top of the file the daemon
was started with); the daemon picks changes up within a minute (window)
or at the next night (sensitivity, names)."""
from __future__ import annotations

import datetime as dt
import os

from flask import Blueprint, abort, current_app, g, jsonify, redirect, render_template, request, session, url_for
from werkzeug.security import generate_password_hash

from firmware_host import pins
from firmware_host.config import ConfigError, config_from_dict, decimal_number, effective_config, load_raw, merge
from firmware_host.lan import page_urls
from firmware_host.mqtt import KEYS, default_device_id, settings_for
from firmware_host.sites import site_name_problem

from .auth import check_password, passwd_command
from .params import whole_number

bp = Blueprint("settings", __name__)

MIN_PASSWORD = 8


def _store():
    return current_app.get_store()


@bp.context_processor
def _phone():
    """The addresses a phone on the home network opens this page at (none on loopback)."""
    port = int(request.environ.get("SERVER_PORT") or 80)
    return {"phone_urls": page_urls(current_app.config["HOST"], port), "passwd_command": passwd_command()}


def current(store) -> dict:
    try:
        cfg = effective_config(current_app.config.get("CONFIG_FILE"), store)
    except ConfigError as exc:
        abort(500, description=str(exc))
    return {"channel_names": store.site_names(len(pins.SITES)), "night_start": cfg.night_start.strftime("%H:%M"),
            "night_end": cfg.night_end.strftime("%H:%M"), "timezone": cfg.timezone or "",
            "sensitivity": cfg.sensitivity, "raw_retention_days": cfg.raw_retention_days,
            "lan_read_only": bool(store.get_setting("lan_read_only", False)),
            "button_press": store.button_press(),
            "password_set": store.get_setting("password_hash") is not None,
            # the broker, its user and the password file are the owner's: a LAN read-only viewer sees only
            # whether nights are sent anywhere
            "mqtt": _mqtt_current(cfg, store) if g.get("owner") else {"enabled": settings_for(cfg, store) is not None}}


def _mqtt_current(cfg, store) -> dict:
    m = cfg.mqtt
    out = {k: (getattr(m, k, None) if m else None) or "" for k in KEYS}
    out["device_id"] = out["device_id"] or default_device_id()
    out["topic_prefix"] = out["topic_prefix"] or "twitchmon"
    out.update(enabled=settings_for(cfg, store) is not None,
               remote_control=bool(store.get_setting("mqtt_remote_control", False)))
    return out


def _mqtt_form(form) -> dict | None:
    """The [mqtt] override from the form's MQTT section; None when no broker is named."""
    sec = {k: form.get(f"mqtt_{k}", "").strip() for k in KEYS}
    if not sec["host"]:
        if form.get("mqtt_enabled") == "on":
            raise ValueError("MQTT: name the broker (host) to publish to")
        return None
    if sec["port"]:
        try:
            sec["port"] = whole_number(sec["port"])
        except ValueError:
            raise ValueError(f"MQTT port: {sec['port']!r} is not a number") from None
    return {k: v for k, v in sec.items() if v != ""}


def _save_mqtt_password(form, over: dict) -> None:
    """A password typed on the page goes to a file only the service reads (0600)."""
    pw = form.get("mqtt_password", "")
    if pw and "mqtt" in over:
        path = os.path.join(current_app.config["DATA_DIR"], "mqtt-password")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(pw + "\n")
        os.chmod(path, 0o600)
        over["mqtt"]["password_file"] = path


def _validate(form) -> tuple[dict, list[str]]:
    """The override dict and site names from the form; ConfigError/ValueError on bad input."""
    names = [form.get(f"name{c}", "").strip() for c in range(len(pins.SITES))]
    problem = site_name_problem(names)
    if problem:
        raise ValueError(problem)
    if form.get("button_press", "cramp") not in ("cramp", "mark"):  # what the bedside button's short press logs
        raise ValueError("button press: cramp or mark")

    def num(key, kind=decimal_number):
        raw = form.get(key, "")
        try:
            return kind(raw)
        except ValueError:
            raise ValueError(f"{key.replace('_', ' ')}: {raw!r} is not a number") from None

    over = {"night": {"start": form.get("night_start", ""), "end": form.get("night_end", "")},
            "detector": {"sensitivity": num("sensitivity")},
            "storage": {"raw_retention_days": num("raw_retention_days", whole_number)}}
    tz = form.get("timezone", "").strip()
    if tz:
        over["night"]["timezone"] = tz
    mq = _mqtt_form(form)
    if mq:
        over["mqtt"] = mq
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
    store = _store()
    try:
        over, names = _validate(request.form)
    except (ConfigError, ValueError) as exc:
        msg = str(exc).replace("settings: ", "")
        if request.headers.get("Accept", "").startswith("application/json"):
            return jsonify({"error": msg}), 400
        return render_template("settings.html", s=current(store), error=msg, saved=None,
                               sites=pins.SITES), 400
    _save_mqtt_password(request.form, over)
    store.save_settings(config=over, channel_names=names,
                        lan_read_only=request.form.get("lan_read_only") == "on",
                        mqtt_enabled=request.form.get("mqtt_enabled") == "on",
                        mqtt_remote_control=request.form.get("mqtt_remote_control") == "on",
                        # what the bedside button's short press logs: a cramp unless the owner chose a plain mark
                        button_press=request.form.get("button_press", "cramp"),
                        saved_utc=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    if request.headers.get("Accept", "").startswith("application/json"):
        return jsonify(current(store))
    return redirect(url_for("settings.page", saved=1))


@bp.post("/settings/password")
def password():
    store = _store()
    old = store.get_setting("password_hash")
    new, again = request.form.get("new_password", ""), request.form.get("new_password2", "")
    error = None
    ok = check_password(old, request.form.get("current_password", "")) if old else True
    if ok is None:
        error = "Busy: try again in a moment."
    elif not ok:
        error = "The current password is not right."
    elif len(new) < MIN_PASSWORD:
        error = f"Use at least {MIN_PASSWORD} characters."
    elif new != again:
        error = "The two new passwords differ."
    if error:
        return render_template("settings.html", s=current(store), error=error, saved=None, sites=pins.SITES), \
            (503 if ok is None else 400)
    gen = store.set_password_hash(generate_password_hash(new))
    if session.get("owner"):
        session["gen"] = gen  # this browser stays logged in; every other session ends
    return redirect(url_for("settings.page", saved="password"))
