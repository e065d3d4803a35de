"""Trends: each site's nightly twitch rate over weeks, and a flag when a
site starts twitching where it hardly did before (people worry about
"spreading"; the page says plainly that a flag is not a diagnosis)."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, jsonify, render_template

from firmware_host.figures import site_rates, spread_flags

from . import svg
from .nights import PHONE_W
from .params import int_arg

bp = Blueprint("trends", __name__)

def night_extras(nights: list[dict]) -> tuple[list[float | None], list[float | None]]:
    """Per night, oldest first (as :func:`site_rates`): the PLM index
    (PLMs per rest hour) and the resting heart rate (bpm: the lowest
    10-minute median, None where the detector had no confident heart rate)."""
    nights = sorted(nights, key=lambda n: (n["date"], n["id"]))
    plm = [n.get("plm_index") for n in nights]
    hr = [n["summary"].get("heart_rate_lowest_10min_bpm") if n.get("heart_rate_bpm") is not None else None
          for n in nights]
    return plm, hr


def _data():
    weeks = int_arg("weeks", 12, 1, 104)
    since = (dt.date.today() - dt.timedelta(weeks=weeks)).isoformat()
    nights = [n for n in current_app.get_store().nights(5000) if n["date"] >= since]
    dates, names, rates = site_rates(nights)
    plm, hr = night_extras(nights)
    return weeks, dates, names, rates, spread_flags(dates, names, rates), plm, hr


@bp.get("/trends")
def page():
    weeks, dates, names, rates, flags, plm, hr = _data()
    labels = [d[5:] for d in dates]
    chart = svg.lines(list(zip(names, rates)), labels, width=PHONE_W,
                      title=f"Twitches per rest hour at each site, last {weeks} weeks")
    plm_chart = svg.lines([("PLM index", plm)], labels, width=PHONE_W, height=120,
                          title="Periodic limb movements per rest hour, each night")
    hr_chart = svg.lines([("Resting heart rate", hr)], labels, width=PHONE_W, height=120,
                         title="Resting heart rate (lowest 10-minute median, bpm), each night")
    return render_template("trends.html", weeks=weeks, dates=dates, names=names, rates=rates, flags=flags,
                           chart=chart, plm=plm, hr=hr, plm_chart=plm_chart, hr_chart=hr_chart)


@bp.get("/api/trends")
def api():
    weeks, dates, names, rates, flags, plm, hr = _data()
    return jsonify({"weeks": weeks, "dates": dates, "unit": "twitches per rest hour",
                    "sites": [{"channel": c, "site": names[c],
                               "rates": [None if r is None else round(r, 2) for r in rates[c]]}
                              for c in range(len(names))],
                    "new_sites": flags, "plm_index": plm, "resting_heart_rate_bpm": hr})
