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
  ``WINDOW_S``, then 429 until the window has passed.  An attempt takes its
  place in the budget before its password is checked, so simultaneous
  guesses cannot overrun it; passwords are checked one at a time (a scrypt
  check holds ~32 MB), and at most ``MAX_WAITING`` wait, the rest get 503.
* A login session carries the store's session generation; logging out
  everywhere and a new password bump it, and older sessions are logged out
  (sessions are signed cookies that would otherwise live 31 days).
* Only requests naming this device in their Host header are answered:
  loopback names when bound to loopback (a DNS-rebinding page reaches a
  loopback-bound server with its own name in Host), and on the LAN also
  any IP address, this machine's name (``name`` and ``name.local``) and
  the names in the settings file's ``[web] hosts``.
* The key that signs the cookies is in its own owner-only file in the data
  dir, not in the database it guards.
"""
from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import os
import secrets
import shlex
import socket
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, g, jsonify, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.sansio.utils import host_is_trusted

from firmware_host.log import get_logger
from firmware_host.paths import SYSTEM_DIR
from firmware_host.store import private

from .attempts import _address_block, _give_back, _known_device, _set_device_cookie, _take_attempt, check_password

bp = Blueprint("auth", __name__)

SECRET_FILE = "secret_key"  #: in the data dir, mode 0600
LOOPBACK_NAMES = (".localhost",)  #: localhost and its subdomains (addresses are judged apart)
REVOKED_KEY = "revoked_sessions"  #: the store setting of sessions logged out before their cookie expires


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(bound: str, configured=()) -> tuple[str, ...]:
    """The names (Werkzeug ``host_is_trusted`` patterns) the page answers to
    when bound to ``bound``; IP addresses are allowed apart (see ``host_ok``)."""
    if is_loopback(bound):
        return LOOPBACK_NAMES
    me = socket.gethostname().lower()
    names = [*LOOPBACK_NAMES, me, f"{me}.local", *(h.lower() for h in configured)]
    if not _is_ip(bound) and bound not in ("", "0.0.0.0", "::"):
        names.append(bound.lower())
    return tuple(dict.fromkeys(names))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def host_ok(host_header: str, bound: str, names) -> bool:
    """Whether a request's Host is this device.  A DNS-rebinding page always
    sends its own domain name, so on the LAN an IP address is safe; on
    loopback only loopback addresses and names are."""
    host = host_header.lower()
    if host.startswith("[") and "]" in host:
        bare = host[1:host.index("]")]
    else:
        bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if _is_ip(bare):
        return not is_loopback(bound) or ipaddress.ip_address(bare).is_loopback
    return host_is_trusted(host, list(names))


def load_secret_key(data_dir) -> str:
    """The key that signs the session cookies, from ``SECRET_FILE`` (made
    once, 0600): outside the database, so a copy of the nights (a backup, a
    bug report) lets nobody forge the owner's session."""
    p = Path(data_dir) / SECRET_FILE
    try:
        key = p.read_text().strip()
        if len(key) >= 32:
            private(p)
            return key
    except OSError:  # none yet, or unreadable (made by another user): a new one
        pass
    key = secrets.token_hex(32)
    tmp = p.with_name(f".{SECRET_FILE}.{os.getpid()}")
    try:
        tmp.unlink(missing_ok=True)  # a crash's leftover may have another mode
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except OSError as exc:  # a read-only data dir still shows its nights; logins last until a restart
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        get_logger(__name__).warning(f"cannot write {p} ({exc.strerror}): this run's logins end when the page "
                                     "restarts")
    return key


def start_session(store) -> None:
    """The owner has just given the password: a fresh session of the current generation."""
    session.clear()
    session["owner"] = True
    session["gen"] = store.session_generation()
    session["sid"] = secrets.token_urlsafe(16)  # what "log out" revokes (see logout)
    csrf_token()


def csrf_token() -> str:
    tok = session.get("csrf")
    if not tok:
        tok = session["csrf"] = secrets.token_urlsafe(32)
    return tok


def is_owner() -> bool:
    if is_loopback(current_app.config["HOST"]):
        return True
    if session.get("owner") is not True or not session.get("sid"):
        return False
    store = current_app.get_store()
    return session.get("gen") == store.session_generation() and session["sid"] not in _revoked(store)


def read_only_lan() -> bool:
    return bool(current_app.get_store().get_setting("lan_read_only", False))


def _deny(code: int, message: str):
    if request.path.startswith("/api/"):
        return jsonify({"error": message}), code
    if code == 401:
        # the query too: the login leads back to the very page asked for (/export.csv?night=3);
        # after a form, to the page it is on (its own address takes only POST: a 405 after the login)
        nxt = request.full_path.rstrip("?") if request.method in ("GET", "HEAD") else _form_page(request.path)
        return redirect(url_for("auth.login", next=nxt))
    abort(code, description=message)


def _form_page(path: str) -> str:
    """The page a form that posts to ``path`` is on: the longest leading part
    of the path that is a page (/tonight/cramp -> /tonight, /diary/2026-05-01
    -> /diary, /settings -> /settings), else "/".  Not the Referer: every page
    is sent with "Referrer-Policy: no-referrer", so browsers leave it out."""
    urls = current_app.create_url_adapter(request)
    parts = path.rstrip("/").split("/")
    while len(parts) > 1:
        page = "/".join(parts)
        try:
            urls.match(page, method="GET")
            return page
        except HTTPException:  # not a page (404), POST only (405), or one with a slash (308)
            parts.pop()
    return "/"


def init_app(app) -> None:
    app.register_blueprint(bp)
    names = allowed_hosts(app.config["HOST"], app.config.get("ALLOWED_HOSTS", ()))

    @app.before_request
    def _host():  # first: nothing else runs for a request to another name
        if not host_ok(request.host, app.config["HOST"], names):
            abort(400, description=f"this page does not answer to the name {request.host!r}: open it by its "
                                   "address, or add the name to [web] hosts in its settings file")

    @app.before_request
    def _guard():
        if request.routing_exception is not None:
            # no such page, or not by this method (DELETE /nights/1): Flask's own 404 or 405 (JSON under /api/)
            # follows, and no view runs, so there is nothing to log in or hold a token for
            return None
        if request.endpoint in ("static", "auth.login"):
            if request.method == "POST":
                _check_csrf()
            return None
        g.owner = is_owner()
        if request.method in ("GET", "HEAD", "OPTIONS"):
            if not g.owner and not read_only_lan():
                return _deny(401, "log in first")
            return None
        if not g.owner:
            return _deny(401, "log in to change anything")
        _check_csrf()
        return None

    @app.after_request
    def _mark_device(resp):  # an owner's browser logged in before device cookies existed, or since moved
        # (still the owner after the request: not the answer to "log out" or "log out everywhere")
        if g.get("owner") and session.get("owner") and not is_loopback(app.config["HOST"]):
            store, where = app.get_store(), _address_block(request.remote_addr or "?")
            if _known_device(store, where) is None:
                _set_device_cookie(resp, store, where)
        return resp

    @app.context_processor
    def _auth_globals():
        return {"csrf_token": csrf_token, "is_owner": g.get("owner", False),
                "needs_login": not is_loopback(app.config["HOST"])}


def _check_csrf() -> None:
    # the header first: a script's write then needs no form parsing at all
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    if not session.get("csrf") or not hmac.compare_digest(sent, session["csrf"]):
        abort(400, description="missing or stale form token: reload the page and try again")


def passwd_command() -> str:
    """The command that sets the password for the data dir this page serves."""
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
        where = _address_block(request.remote_addr or "?")
        device = _known_device(store, where)
        addr = f"device:{device}" if device else where
        stamp, shared = _take_attempt(addr)
        if stamp is None:
            error = ("Too many wrong passwords from other devices in the last five minutes: log in from a "
                     "browser you have logged in from before, or wait five minutes." if shared else
                     "Too many attempts: wait five minutes.")
            return render_template("login.html", error=error,
                                   has_password=has_password, passwd_command=passwd_command()), 429
        pw = request.form.get("password", "")
        h = store.get_setting("password_hash")
        ok = check_password(h, pw, known_device=device is not None) if h else False
        if ok is None:
            if device:  # the owner's browser is not charged for a busy moment; a guesser is
                _give_back(addr, stamp)
            return render_template("login.html", error="Busy: try again in a moment.",
                                   has_password=has_password), 503
        if ok:
            _give_back(addr, stamp)
            start_session(store)
            resp = redirect(_same_site(request.args.get("next", "/")))
            _set_device_cookie(resp, store, where, device)
            return resp
        error, status = "That is not the password.", 401
    return render_template("login.html", error=error, has_password=has_password,
                           passwd_command=passwd_command()), status


def _same_site(nxt: str) -> str:
    """``nxt`` if it is a path on this site, else "/".  Browsers drop tabs
    and newlines from a URL and read a backslash as a slash, so "/\t/evil"
    and "/\\evil" would leave the site: any control character or
    backslash makes it "/"."""
    if any(c == "\\" or ord(c) < 0x20 or ord(c) == 0x7F for c in nxt):
        return "/"
    parts = urlsplit(nxt)
    if parts.scheme or parts.netloc or not nxt.startswith("/") or nxt.startswith("//"):
        return "/"
    return nxt


def _revoked(store) -> dict:
    """Sessions logged out (id -> when their cookie would have expired, ISO
    UTC): a signed cookie is valid until it expires, so a copy taken before
    "log out" would still work without this list."""
    value = store.get_setting(REVOKED_KEY, {})
    return value if isinstance(value, dict) else {}


@bp.post("/logout")
def logout():
    sid = session.get("sid")
    if sid:
        store = current_app.get_store()
        now = dt.datetime.now(dt.timezone.utc)
        now_s = now.isoformat(timespec="seconds")
        keep = {k: v for k, v in _revoked(store).items() if isinstance(v, str) and v >= now_s}
        keep[sid] = (now + current_app.permanent_session_lifetime).isoformat(timespec="seconds")
        store.set_setting(REVOKED_KEY, keep)
    session.clear()
    return redirect(url_for("auth.login"))


@bp.post("/logout/all")
def logout_all():
    """Every session on every device, including copies of this one's cookie."""
    current_app.get_store().end_sessions()
    session.clear()
    return redirect(url_for("auth.login"))
