"""Trends: each site's nightly twitch rate over weeks, and a flag when a
site starts twitching where it hardly did before (people worry about
"spreading"; the page says plainly that a flag is not a diagnosis)."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, jsonify, render_template

from firmware_host.events import per_rest_hour

from . import svg
from .nights import PHONE_W
from .params import int_arg

bp = Blueprint("trends", __name__)

RECENT_NIGHTS = 7  #: the last nights compared with the ones before
MIN_BASELINE = 5  #: nights needed before them for a comparison
QUIET_RATE = 0.5  #: at most this many twitches per rest hour before: a quiet site
NEW_RATE = 2.0  #: at least this many per rest hour lately: a site that started
NEW_NIGHTS = 3  #: on at least this many of the recent nights


def site_rates(nights: list[dict]) -> tuple[list[str], list[str], list[list[float | None]]]:
    """(dates oldest first, site names, rates[site][night] twitches per rest
    hour; None for a night without rest)."""
    nights = sorted(nights, key=lambda n: (n["date"], n["id"]))
    C = max((len(n["per_channel"]) for n in nights), default=0)
    names = [f"channel {c}" for c in range(C)]
    for n in nights:  # the newest names win
        for c, nm in enumerate(n["channel_names"][:C]):
            names[c] = nm
    rates = [[per_rest_hour(n["per_channel"][c], n.get("rest_s")) if c < len(n["per_channel"]) else None
              for n in nights] for c in range(C)]
    return [n["date"] for n in nights], names, rates


def spread_flags(dates: list[str], names: list[str], rates: list[list[float | None]]) -> list[dict]:
    """Sites quiet over the earlier nights that twitch on several recent ones."""
    flags = []
    for c, series in enumerate(rates):
        rated = [(d, r) for d, r in zip(dates, series) if r is not None]
        recent, before = rated[-RECENT_NIGHTS:], rated[:-RECENT_NIGHTS]
        if len(before) < MIN_BASELINE or len(recent) < NEW_NIGHTS:
            continue
        base = sum(r for _, r in before) / len(before)
        now = sum(r for _, r in recent) / len(recent)
        active = [d for d, r in recent if r >= NEW_RATE]
        if base <= QUIET_RATE and now >= NEW_RATE and len(active) >= NEW_NIGHTS:
            flags.append({"channel": c, "site": names[c], "since": active[0], "before_rate": round(base, 2),
                          "recent_rate": round(now, 2), "before_nights": len(before), "recent_nights": len(recent)})
    return flags


def _data():
    weeks = int_arg("weeks", 12, 1, 104)
    since = (dt.date.today() - dt.timedelta(weeks=weeks)).isoformat()
    nights = [n for n in current_app.get_store().nights(5000) if n["date"] >= since]
    dates, names, rates = site_rates(nights)
    return weeks, dates, names, rates, spread_flags(dates, names, rates)


@bp.get("/trends")
def page():
    weeks, dates, names, rates, flags = _data()
    chart = svg.lines(list(zip(names, rates)), [d[5:] for d in dates], width=PHONE_W,
                      title=f"Twitches per rest hour at each site, last {weeks} weeks")
    return render_template("trends.html", weeks=weeks, dates=dates, names=names, rates=rates, flags=flags,
                           chart=chart)


@bp.get("/api/trends")
def api():
    weeks, dates, names, rates, flags = _data()
    return jsonify({"weeks": weeks, "dates": dates, "unit": "twitches per rest hour",
                    "sites": [{"channel": c, "site": names[c],
                               "rates": [None if r is None else round(r, 2) for r in rates[c]]}
                              for c in range(len(names))],
                    "new_sites": flags})
