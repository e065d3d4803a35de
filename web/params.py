"""Query parameters, checked: a bad one is a 400 with one line saying why."""
from __future__ import annotations

from flask import abort, request


def int_arg(name: str, default: int, lo: int, hi: int) -> int:
    """``?name=`` as a whole number in lo..hi; ``default`` when absent."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        v = int(raw)
    except ValueError:
        abort(400, description=f"{name} must be a whole number")
    if not lo <= v <= hi:
        abort(400, description=f"{name} must be {lo}..{hi}")
    return v
