"""Diary: what was different about each night, and twitch rates on nights
with and without each factor."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, url_for

from firmware_host.cramps import LEGS
from firmware_host.figures import FACTOR_KEYS, FACTORS, comparison

from .params import whole_number

bp = Blueprint("diary", __name__)

MAX_NOTES = 2000
MAX_CRAMPS = 20  #: cramps one diary entry may report for a night


def _store():
    return current_app.get_store()


#: the diary's days: from this year to a week ahead (a clock set wrong, or a
#: typed URL, must not file entries under 0001-01-01 or 9999-12-31)
FIRST_YEAR, DAYS_AHEAD = 2000, 7


def _date_or_404(text: str) -> str:
    try:
        d = dt.date.fromisoformat(text)
    except ValueError:
        abort(404)
    if not dt.date(FIRST_YEAR, 1, 1) <= d <= dt.date.today() + dt.timedelta(days=DAYS_AHEAD):
        abort(404)
    return d.isoformat()


def _data():
    store = _store()
    nights = store.nights(1000)
    diary = store.diary()
    return nights, diary, comparison(nights, diary)


MAX_ROWS = 60


def rows(nights: list[dict], diary: dict[str, dict], today: str, cramps: list[dict] = ()) -> list[dict]:
    """The dates the page offers for an entry, newest first: today (so the
    evening's coffee can go in before the night is recorded), every recorded
    night, and every date that already has an entry; at most ``MAX_ROWS``.
    ``cramps``: every cramp (``Store.cramps``), for what the diary said and
    how many the button and the page logged in the night."""
    totals: dict[str, int] = {}
    for n in nights:
        totals[n["date"]] = totals.get(n["date"], 0) + n["total"]
    said: dict[str, dict] = {}
    timed: dict[str, int] = {}
    for c in cramps:
        if c["source"] == "diary":
            e = said.setdefault(c["date"], {"count": 0, "leg": c["leg"], "severity": c["severity"]})
            e["count"] += 1
        else:
            timed[c["date"]] = timed.get(c["date"], 0) + 1
    dates = sorted({today, *totals, *diary, *said}, reverse=True)[:MAX_ROWS]
    return [{"date": d, "total": totals.get(d), "entry": diary.get(d, {}),
             "cramps": said.get(d, {"count": 0, "leg": None, "severity": None}), "timed_cramps": timed.get(d, 0)}
            for d in dates]


def _cramp_form(form) -> tuple[int, str | None, int | None] | None:
    """(how many, leg, how bad) from the diary form; None when the form has no
    cramp fields (a client that only ticks factors leaves them as they are)."""
    if "cramps" not in form:
        return None
    raw = form.get("cramps", "").strip() or "0"
    try:
        count = whole_number(raw)
    except ValueError:
        abort(400, description=f"cramps: {raw[:20]!r} is not a whole number")
    if not 0 <= count <= MAX_CRAMPS:
        abort(400, description=f"cramps: from 0 to {MAX_CRAMPS}")
    leg = form.get("cramp_leg", "").strip() or None
    if leg is not None and leg not in LEGS:
        abort(400, description="cramp leg: left, right or both")
    sev_raw = form.get("cramp_severity", "").strip()
    severity = None
    if sev_raw:
        try:
            severity = whole_number(sev_raw)
        except ValueError:
            abort(400, description=f"how bad: {sev_raw[:20]!r} is not a whole number")
        if not 0 <= severity <= 10:
            abort(400, description="how bad: from 0 (hardly) to 10 (the worst)")
    return count, (leg if count else None), (severity if count else None)


@bp.get("/diary")
def page():
    nights, diary, comp = _data()
    today = dt.date.today().isoformat()
    return render_template("diary.html", rows=rows(nights, diary, today, _store().cramps()), today=today,
                           factors=FACTORS, comparison=comp, max_notes=MAX_NOTES, max_cramps=MAX_CRAMPS)


@bp.get("/api/diary")
def api():
    nights, diary, comp = _data()
    said: dict[str, dict] = {}
    for c in _store().cramps():
        if c["source"] == "diary":
            said.setdefault(c["date"], {"count": 0, "leg": c["leg"], "severity": c["severity"]})["count"] += 1
    return jsonify({"entries": [{"date": d, **e, **({"cramps": said[d]} if d in said else {})}
                                for d, e in sorted(diary.items())], "comparison": comp,
                    "factors": [{"key": k, "label": v} for k, v in FACTORS]})


@bp.post("/diary/<date>")
def save(date: str):
    date = _date_or_404(date)
    factors = request.form.getlist("factor")
    unknown = [f for f in factors if f not in FACTOR_KEYS]
    if unknown:
        abort(400, description=f"unknown factor {unknown[0]!r}")
    notes = request.form.get("notes", "")
    if len(notes) > MAX_NOTES:
        abort(400, description=f"notes are limited to {MAX_NOTES} characters")
    cramps = _cramp_form(request.form)  # checked before anything is saved
    _store().set_diary(date, sorted(set(factors)), notes.strip(),
                       dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    if cramps is not None:
        _store().set_diary_cramps(date, *cramps)
    if request.headers.get("Accept", "").startswith("application/json"):
        return jsonify({"date": date, "factors": sorted(set(factors)), "notes": notes.strip()})
    return redirect(url_for("diary.page") + f"#d-{date}")
