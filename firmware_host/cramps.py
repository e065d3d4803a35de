"""Cramps: how they are logged, and what the twitching did before each.

A cramp is logged three ways (stored by :meth:`Store.add_cramp` and
:meth:`Store.set_diary_cramps`): the bedside button's short press (timed,
leg unknown), "Log a cramp" on the Tonight page (timed, leg chosen), and the
morning diary (how many, which leg, how bad 0-10; not timed).  For each
timed cramp the night's page compares the twitch rate on that leg in the
30 minutes before it with the same sites' rate over the whole night's rest.

Plain Python: the page and the report use it.
"""
from __future__ import annotations

LEGS = ("left", "right", "both")  #: what a cramp's ``leg`` may say (None: not said)
SOURCES = {"button": "bedside button", "page": "Tonight page", "diary": "morning diary"}
BEFORE_S = 1800.0  #: the window before a cramp, s
AFTER_MOVEMENT_S = 3.0  #: not at rest for this long after a movement (as the detector counts), s


def leg_channels(leg: str | None, legs: list[str]) -> list[int]:
    """The channels on ``leg`` (every channel when the leg is both or unknown)."""
    if leg in ("left", "right"):
        return [c for c, lg in enumerate(legs) if lg == leg]
    return list(range(len(legs)))


def _rest_in(a: float, b: float, movements: list[dict]) -> float:
    """Seconds of [a, b] not inside a movement (or just after one)."""
    spans = sorted((max(a, m["t"]), min(b, m["end"] + AFTER_MOVEMENT_S)) for m in movements)
    busy, cur_a, cur_b = 0.0, None, None
    for s, e in spans:
        if e <= s:
            continue
        if cur_b is None or s > cur_b:
            if cur_b is not None:
                busy += cur_b - cur_a
            cur_a, cur_b = s, e
        else:
            cur_b = max(cur_b, e)
    if cur_b is not None:
        busy += cur_b - cur_a
    return max(0.0, (b - a) - busy)


def before_cramp(cramp: dict, night: dict, twitches: list[dict], movements: list[dict],
                 legs: list[str]) -> dict | None:
    """For a timed cramp (``t`` s from the night's start): the twitches per
    rest hour on its leg's sites in the ``BEFORE_S`` before it, and over the
    night's rest; None for a cramp without a time."""
    t = cramp.get("t")
    if t is None:
        return None
    chans = set(leg_channels(cramp.get("leg"), legs))
    a = max(0.0, t - BEFORE_S)
    rest_before = _rest_in(a, t, movements)
    n_before = sum(1 for tw in twitches if tw["channel"] in chans and a <= tw["t"] < t)
    per = night.get("per_channel") or []
    n_night = sum(per[c] for c in chans if c < len(per))
    rest_night = night.get("rest_s") or 0.0
    return {"window_s": round(t - a, 1), "rest_before_s": round(rest_before, 1), "twitches_before": n_before,
            "rate_before": round(n_before / (rest_before / 3600), 2) if rest_before > 0 else None,
            "rate_night": round(n_night / (rest_night / 3600), 2) if rest_night > 0 else None,
            "sites": sorted(chans)}
