"""Who may see and change what.

* On loopback (the demo, or a page only the Pi itself reaches) nobody is
  asked for a password: every visitor is the owner.
* Bound to any other address, the page asks for the owner's password
  (``twitchmon passwd``, stored as a werkzeug hash).  With the setting
  ``lan_read_only`` on, anyone on the LAN may look; changing anything still
  needs the password.
* Every write (POST) needs the session's CSRF token, in the form field
  ``csrf_token`` or the ``X-CSRF-Token`` header, also on loopback.
* Failed logins are limited per client address: ``MAX_FAILS`` in
  ``WINDOW_S``, then 429 until the window has passed.
"""
from __future__ import annotations

import hmac
import ipaddress
import secrets
import threading
import time

from flask import (Blueprint, abort, current_app, g, jsonify, redirect, render_template, request, session,
                   url_for)
from werkzeug.security import check_password_hash

bp = Blueprint("auth", __name__)

MAX_FAILS = 5
WINDOW_S = 300.0
_fails: dict[str, list[float]] = {}
_fails_lock = threading.Lock()


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def csrf_token() -> str:
    tok = session.get("csrf")
    if not tok:
        tok = session["csrf"] = secrets.token_urlsafe(32)
    return tok


def _is_owner() -> bool:
    return is_loopback(current_app.config["HOST"]) or session.get("owner") is True


def _read_only_lan() -> bool:
    return bool(current_app.get_store().get_setting("lan_read_only", False))


def _deny(code: int, message: str):
    if request.path.startswith("/api/"):
        return jsonify({"error": message}), code
    if code == 401:
        return redirect(url_for("auth.login", next=request.path))
    abort(code, description=message)


def init_app(app) -> None:
    app.register_blueprint(bp)

    @app.before_request
    def _guard():
        if request.endpoint in ("static", "auth.login"):
            if request.method == "POST":
                _check_csrf()
            return None
        g.owner = _is_owner()
        if request.method in ("GET", "HEAD", "OPTIONS"):
            if not g.owner and not _read_only_lan():
                return _deny(401, "log in first")
            return None
        if not g.owner:
            return _deny(401, "log in to change anything")
        _check_csrf()
        return None

    @app.context_processor
    def _auth_globals():
        return {"csrf_token": csrf_token, "is_owner": g.get("owner", False),
                "needs_login": not is_loopback(app.config["HOST"])}


def _check_csrf() -> None:
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    if not session.get("csrf") or not hmac.compare_digest(sent, session["csrf"]):
        abort(400, description="missing or stale form token: reload the page and try again")


def _too_many(addr: str) -> bool:
    now = time.monotonic()
    with _fails_lock:
        recent = [t for t in _fails.get(addr, []) if now - t < WINDOW_S]
        _fails[addr] = recent
        return len(recent) >= MAX_FAILS


def _failed(addr: str) -> None:
    with _fails_lock:
        _fails.setdefault(addr, []).append(time.monotonic())


def passwd_command() -> str:
    """The command that sets the password for the data dir this page serves."""
    import os  # noqa: PLC0415
    import shlex  # noqa: PLC0415

    from firmware_host.paths import SYSTEM_DIR  # noqa: PLC0415
    d = os.path.abspath(current_app.config["DATA_DIR"])
    if d == str(SYSTEM_DIR):
        return "sudo twitchmon passwd"  # install.sh puts it on PATH
    return f"twitchmon passwd --data-dir {shlex.quote(d)}"


@bp.route("/login", methods=["GET", "POST"])
def login():
    store = current_app.get_store()
    has_password = store.get_setting("password_hash") is not None
    error = None
    status = 200
    if request.method == "POST":
        addr = request.remote_addr or "?"
        if _too_many(addr):
            return render_template("login.html", error="Too many attempts: wait five minutes.",
                                   has_password=has_password, passwd_command=passwd_command()), 429
        pw = request.form.get("password", "")
        h = store.get_setting("password_hash")
        if h and check_password_hash(h, pw):
            session.clear()
            session["owner"] = True
            csrf_token()
            nxt = request.args.get("next", "/")
            return redirect(nxt if nxt.startswith("/") and not nxt.startswith("//") else "/")
        _failed(addr)
        error, status = "That is not the password.", 401
    return render_template("login.html", error=error, has_password=has_password,
                           passwd_command=passwd_command()), status


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("auth.login"))
