"""Diary: what was different about each night, and twitch rates on nights
with and without each factor."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, url_for

from firmware_host.events import per_rest_hour

bp = Blueprint("diary", __name__)

#: (key, label): the factors people with benign fasciculations are asked
#: about, and medicines known to cause twitching.
FACTORS = (
    ("caffeine", "Caffeine"), ("alcohol", "Alcohol"), ("smoking", "Smoking"), ("exercise", "Exercise"),
    ("fatigue", "Fatigue"), ("stress", "Stress or anxiety"),
    ("beta_agonist", "Beta-adrenergic agonist (e.g. salbutamol inhaler)"),
    ("chlorpheniramine", "Chlorpheniramine"), ("dimenhydrinate", "Dimenhydrinate"),
    ("diphenhydramine", "Diphenhydramine"), ("nortriptyline", "Nortriptyline"),
    ("methylphenidate", "Methylphenidate"), ("pseudoephedrine", "Pseudoephedrine"),
)
FACTOR_KEYS = {k for k, _ in FACTORS}
MAX_NOTES = 2000


def _store():
    return current_app.get_store()


def _date_or_404(text: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        abort(404)


def rate_per_rest_hour(n: dict) -> float | None:
    return per_rest_hour(n["total"], n.get("rest_s"))


def comparison(nights: list[dict], diary: dict[str, dict]) -> list[dict]:
    """Per factor: mean twitches per rest hour on nights with it and without
    it (nights with rest only), and how many nights are behind each mean."""
    rated = [(n["date"], rate_per_rest_hour(n)) for n in nights]
    rated = [(d, r) for d, r in rated if r is not None]
    out = []
    for key, label in FACTORS:
        with_f = [r for d, r in rated if key in diary.get(d, {}).get("factors", [])]
        without = [r for d, r in rated if key not in diary.get(d, {}).get("factors", [])]
        out.append({"factor": key, "label": label,
                    "with": {"nights": len(with_f), "rate": round(sum(with_f) / len(with_f), 2) if with_f else None},
                    "without": {"nights": len(without),
                                "rate": round(sum(without) / len(without), 2) if without else None}})
    return out


def _data():
    store = _store()
    nights = store.nights(1000)
    diary = store.diary()
    return nights, diary, comparison(nights, diary)


MAX_ROWS = 60


def rows(nights: list[dict], diary: dict[str, dict], today: str) -> list[dict]:
    """The dates the page offers for an entry, newest first: today (so the
    evening's coffee can go in before the night is recorded), every recorded
    night, and every date that already has an entry; at most ``MAX_ROWS``."""
    totals: dict[str, int] = {}
    for n in nights:
        totals[n["date"]] = totals.get(n["date"], 0) + n["total"]
    dates = sorted({today, *totals, *diary}, reverse=True)[:MAX_ROWS]
    return [{"date": d, "total": totals.get(d), "entry": diary.get(d, {})} for d in dates]


@bp.get("/diary")
def page():
    nights, diary, comp = _data()
    today = dt.date.today().isoformat()
    return render_template("diary.html", rows=rows(nights, diary, today), today=today, factors=FACTORS,
                           comparison=comp, max_notes=MAX_NOTES)


@bp.get("/api/diary")
def api():
    nights, diary, comp = _data()
    return jsonify({"entries": [{"date": d, **e} for d, e in sorted(diary.items())], "comparison": comp,
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
    _store().set_diary(date, sorted(set(factors)), notes.strip(),
                       dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    if request.headers.get("Accept", "").startswith("application/json"):
        return jsonify({"date": date, "factors": sorted(set(factors)), "notes": notes.strip()})
    return redirect(url_for("diary.page") + f"#d-{date}")
