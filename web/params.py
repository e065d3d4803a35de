"""Query parameters, checked: a bad one is a 400 with one line saying why."""
from __future__ import annotations

import re

from flask import abort, request

#: a whole number as people type it: ASCII digits and an optional sign
#: (Python's int() also takes "5_0" and other scripts' digits, which no form sends)
_WHOLE = re.compile(r"[+-]?[0-9]+")
#: digits past every bound the page checks (2**63 - 1, an id, has 19)
_LONGEST = 20


def whole_number(text: str) -> int:
    """``text`` as a whole number; ValueError unless it is plain digits.  One
    of more than ``_LONGEST`` digits is read as ±10**_LONGEST: out of every
    range here all the same, without int() reading thousands of digits (it
    refuses more than 4300)."""
    t = text.strip()
    if not _WHOLE.fullmatch(t):
        raise ValueError(f"{text[:20]!r} is not a whole number")
    if len(t.lstrip("+-").lstrip("0")) > _LONGEST:
        return -10 ** _LONGEST if t.startswith("-") else 10 ** _LONGEST
    return int(t)


def int_arg(name: str, default: int, lo: int, hi: int) -> int:
    """``?name=`` as a whole number in lo..hi; ``default`` when absent."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        v = whole_number(raw)
    except ValueError:
        abort(400, description=f"{name} must be a whole number")
    if not lo <= v <= hi:
        abort(400, description=f"{name} must be {lo}..{hi}")
    return v
