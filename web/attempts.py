"""Login attempts: how many, from whom, and the one password check at a
time (web/auth.py's login uses them).

Five failures per address (an IPv6 /64) per five minutes, 30 from all new
browsers together; a browser the owner has logged in from carries a signed
device cookie (it grants no access) with its own budget and a place kept in
the queue for the hashing slot, so a flood of guesses cannot keep the owner
out.  A busy reply costs a new browser an attempt."""
from __future__ import annotations

import ipaddress
import secrets
import threading
import time

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.security import check_password_hash

from firmware_host.log import get_logger

MAX_FAILS = 5
MAX_FAILS_NEW = 30  #: failed logins from all browsers not known as the owner's together, per window
WINDOW_S = 300.0
MAX_WAITING = 4  #: password checks that may queue for the one hashing slot; more get 503
HASH_WAIT_S = 10.0  #: the longest a password check waits for the slot, s
#: a browser the owner has logged in from carries this signed cookie (it grants no access)
DEVICE_COOKIE, DEVICE_DAYS = "twitchmon_device", 400
_fails: dict[str, list[float]] = {}
_fails_lock = threading.Lock()
_hashing = threading.Lock()
_waiting = threading.BoundedSemaphore(MAX_WAITING + 1)
_owner_waiting = threading.BoundedSemaphore(1)


def check_password(password_hash: str, password: str, known_device: bool = False) -> bool | None:
    """``check_password_hash`` one at a time: None when too many are already
    waiting or the wait is too long (the caller answers 503).  A browser the
    owner logged in from before (``known_device``) waits in a place of its own."""
    gate = _owner_waiting if known_device else _waiting
    if not gate.acquire(blocking=False):
        return None
    try:
        if not _hashing.acquire(timeout=HASH_WAIT_S):
            return None
        try:
            return check_password_hash(password_hash, password)
        finally:
            _hashing.release()
    finally:
        gate.release()


def _take_attempt(addr: str) -> tuple[float | None, bool]:
    """Count an attempt as failed before it is checked: its stamp, to give
    back if the password was right; None when the budget is spent, and
    whether it was the one all new browsers share (``MAX_FAILS_NEW``: guesses
    from many addresses stop there, and the owner's browsers are not in it)
    rather than this address's own (said in the journal once a window)."""
    now = time.monotonic()
    with _fails_lock:
        for a in [a for a, ts in _fails.items() if not ts or now - ts[-1] >= WINDOW_S]:
            del _fails[a]  # forget quiet addresses, so the table stays small
        recent = [t for t in _fails.get(addr, []) if now - t < WINDOW_S]
        together = 0 if addr.startswith("device:") else sum(
            1 for a, ts in _fails.items() if not a.startswith("device:") for t in ts if now - t < WINDOW_S)
        if len(recent) >= MAX_FAILS or together >= MAX_FAILS_NEW:
            _fails[addr] = recent
            shared = len(recent) < MAX_FAILS
            if shared:
                _say_new_browsers_locked()
            return None, shared
        _fails[addr] = [*recent, now]
        return now, False


def _give_back(addr: str, stamp: float) -> None:
    with _fails_lock:
        ts = _fails.get(addr, [])
        if stamp in ts:
            ts.remove(stamp)


def _device_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="twitchmon-device")


_locked_said = [float("-inf")]


def _say_new_browsers_locked() -> None:
    """Once a window, in the journal: someone is guessing the password."""
    now = time.monotonic()
    if now - _locked_said[0] >= WINDOW_S:
        _locked_said[0] = now
        get_logger(__name__).warning(f"login: {MAX_FAILS_NEW} wrong passwords from new browsers in five "
                                     "minutes: new browsers are refused for now (the owner's known ones are not)")


def _set_device_cookie(resp, store, where: str, device: str | None = None) -> None:
    """Mark this browser as one the owner logs in from: its id, the address
    it did so from and the session generation, signed."""
    value = {"id": device or secrets.token_urlsafe(16), "at": where, "gen": store.session_generation()}
    resp.set_cookie(DEVICE_COOKIE, _device_signer().dumps(value), max_age=DEVICE_DAYS * 86400, httponly=True,
                    samesite="Strict")


def _known_device(store, where: str) -> str | None:
    """The id in this browser's device cookie, if it is ours, not too old,
    from before no "log out everywhere" or new password, and shown from the
    address it was given at: a copy of it (the page is plain HTTP) sent from
    another address is a new browser, and cannot spend the owner's budget."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        value = _device_signer().loads(raw, max_age=DEVICE_DAYS * 86400)
    except BadSignature:  # forged, from another key, or expired
        return None
    if not isinstance(value, dict) or value.get("at") != where or value.get("gen") != store.session_generation():
        return None
    return str(value.get("id"))


def _address_block(addr: str) -> str:
    """What one visitor's attempts count against: an IPv4 address, or an
    IPv6 address's /64 (one host on a home network can take any number of
    addresses in its /64, and only a few IPv4 ones)."""
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return addr
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
