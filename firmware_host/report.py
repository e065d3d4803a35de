"""The doctor's report: the nights of a period as an A4 PDF.

``twitchmon report --from DATE --to DATE --out FILE.pdf`` and the page's
``/report?from=DATE&to=DATE`` both call :func:`gather` (one dict of
figures from the store, which is also the page's ``/api/report``) and
:func:`render_pdf` (fpdf2: pure Python, so it installs on a Pi).

Page one answers what a neurologist asks first: how often, where, is it
spreading, any cramps.  Page two holds the rest: cramps in detail, periodic
limb movements, heart rate, the diary's factors with the nights behind each
figure, typical twitch waveforms per site, how sure the count is, and how
it was measured.  A month fits on two pages.
"""
from __future__ import annotations

import datetime as dt
import statistics

from . import pins, plm
from .cramps import before_cramp
from .errors import TwitchmonError
from .figures import comparison, fault_spans, site_rates, spread_flags
from .waveforms import AFTER_S, BEFORE_S, decode

WEEK_DAYS = 7
MAX_DAYS = 366  #: the longest period a report covers
WAVES_PER_SITE = 3  #: typical twitch waveforms drawn per site


class ReportError(TwitchmonError, ValueError):
    """The period cannot be reported on; the message is one line."""


def parse_period(date_from: str | None, date_to: str | None) -> tuple[dt.date, dt.date]:
    """Both dates (YYYY-MM-DD, inclusive), in order, at most ``MAX_DAYS`` apart."""
    out = []
    for name, text in (("from", date_from), ("to", date_to)):
        if not text:
            raise ReportError(f"give --{name} as YYYY-MM-DD")
        try:
            out.append(dt.date.fromisoformat(str(text).strip()))
        except ValueError:
            raise ReportError(f"--{name} {str(text)[:30]!r} is not a date (YYYY-MM-DD)") from None
    a, b = out
    if a > b:
        raise ReportError(f"the period is reversed: --from {a} is after --to {b}")
    if (b - a).days + 1 > MAX_DAYS:
        raise ReportError(f"the period is {(b - a).days + 1} days; a report covers at most {MAX_DAYS}")
    return a, b


def _rate(count: float, rest_s: float) -> float | None:
    return round(count / (rest_s / 3600.0), 2) if rest_s > 0 else None


def _flag_history(all_nights: list[dict], a: str, b: str) -> list[dict]:
    """Each time the Trends page's "new site" flag fired (a site newly
    flagged on a night of [a, b], judged on the nights up to that one)."""
    nights = sorted(all_nights, key=lambda n: (n["date"], n["id"]))
    fired, up = [], set()
    for k, n in enumerate(nights):
        if n["date"] > b:
            break
        dates, names, rates = site_rates(nights[:k + 1])
        now = {f["channel"]: f for f in spread_flags(dates, names, rates)}
        if a <= n["date"] <= b:
            for c, f in now.items():
                if c not in up:
                    fired.append({"date": n["date"], "site": f["site"], "before_rate": f["before_rate"],
                                  "recent_rate": f["recent_rate"]})
        up = set(now)
    return fired


def gather(store, date_from: dt.date, date_to: dt.date, *, waveforms: bool = True) -> dict:
    """Every figure of the report for evenings in [date_from, date_to]
    (JSON-able); with ``waveforms``, typical twitch waveforms from the
    snippets the daemon stored at each night's end (the page reads no EDF).
    ReportError when no night was recorded in the period."""
    a, b = date_from.isoformat(), date_to.isoformat()
    everything = [n for n in store.nights(100000) if n["status"] != "recording"]
    nights = sorted((n for n in everything if a <= n["date"] <= b), key=lambda n: (n["date"], n["id"]))
    if not nights:
        raise ReportError(f"no nights were recorded from {a} to {b}: nothing to report")
    C = max(len(n["per_channel"]) for n in nights)
    names = pins.site_names(C)
    for n in nights:  # the newest names win, as on the Trends page
        for c, nm in enumerate(n["channel_names"][:C]):
            names[c] = nm
    legs = pins.legs(C)
    rest_s = sum(n["rest_s"] or 0.0 for n in nights)
    per = [sum(n["per_channel"][c] for n in nights if c < len(n["per_channel"])) for c in range(C)]
    weeks = _weeks(nights, date_from, date_to, C)
    rated = [w for w in weeks if w["rest_h"] > 0]
    out = {
        "from": a, "to": b, "days": (date_to - date_from).days + 1,
        "generated": dt.date.today().isoformat(),
        "nights": len(nights), "nights_with_rest": sum(1 for n in nights if (n["rest_s"] or 0) > 0),
        "rest_h": round(rest_s / 3600, 2), "total": sum(per), "rate": _rate(sum(per), rest_s),
        # "spreading" at a glance: the first and the last week that has rest
        "sites": [{"channel": c, "site": names[c], "leg": legs[c], "twitches": per[c], "rate": _rate(per[c], rest_s),
                   "first_week": rated[0]["rates"][c] if rated else None,
                   "last_week": rated[-1]["rates"][c] if len(rated) > 1 else None} for c in range(C)],
        "weeks": weeks,
        "new_site_flags": _flag_history(everything, a, b),
        "cramps": _cramps(store, nights, a, b),
        "plm": _plm(store, nights, rest_s),
        "heart": _heart(nights),
        # the diary page's figures, one source of truth
        "diary": [f for f in comparison(nights, store.diary()) if f["with"]["nights"]],
        "quality": _quality(store, nights, rest_s, C),
        "measured": {"sites": [{"site": names[c], "leg": legs[c],
                                "placement": pins.SITES[c].placement if c < len(pins.SITES) else ""}
                               for c in range(C)],
                     "rate_hz": sorted({n["rate_hz"] for n in nights})},
        "night_dates": [n["date"] for n in nights],
    }
    out["waveforms"] = _typical_waveforms(store, nights, C) if waveforms else []
    return out


def _weeks(nights: list[dict], date_from: dt.date, date_to: dt.date, C: int) -> list[dict]:
    """7-day blocks from the first day (the last may be shorter): nights, rest, rates, cramps."""
    weeks = []
    start = date_from
    while start <= date_to:
        end = min(date_to, start + dt.timedelta(days=WEEK_DAYS - 1))
        wn = [n for n in nights if start.isoformat() <= n["date"] <= end.isoformat()]
        wrest = sum(n["rest_s"] or 0.0 for n in wn)
        weeks.append({"from": start.isoformat(), "to": end.isoformat(), "nights": len(wn),
                      "rest_h": round(wrest / 3600, 2),
                      "rates": [_rate(sum(n["per_channel"][c] for n in wn if c < len(n["per_channel"])), wrest)
                                for c in range(C)],
                      "cramps": sum(n["cramps"] for n in wn)})
        start = end + dt.timedelta(days=1)
    return weeks


def _cramps(store, nights: list[dict], a: str, b: str) -> dict:
    """Every cramp of the period, timed ones with the 30 minutes before them."""
    by_id = {n["id"]: n for n in nights}
    rows = []
    for cr in store.cramps(date_from=a, date_to=b):
        n = by_id.get(cr["night_id"])
        before = when = None
        if n is not None and cr["t"] is not None:
            before = before_cramp(cr, n, store.twitches(n["id"]), store.movements(n["id"]), pins.legs(n["channels"]))
            when = (dt.datetime.fromisoformat(n["start_utc"]) + dt.timedelta(seconds=cr["t"])).astimezone()
        rows.append({"date": cr["date"], "time": when.strftime("%H:%M") if when else None,
                     "leg": cr["leg"], "severity": cr["severity"], "source": cr["source"], "before": before})
    sev = [c["severity"] for c in rows if c["severity"] is not None]
    return {"count": len(rows), "nights_with": len({c["date"] for c in rows}),
            "by_leg": {lg: sum(1 for c in rows if (c["leg"] or "not said") == lg)
                       for lg in ("left", "right", "both", "not said")},
            "severity_mean": round(statistics.mean(sev), 1) if sev else None,
            "list": rows}


def _plm(store, nights: list[dict], rest_s: float) -> dict:
    """Periodic limb movements, counted from the stored movements."""
    count = sum(plm.score(store.movements(n["id"]), pins.legs(n["channels"])).plm for n in nights)
    return {"count": count, "index": _rate(count, rest_s)}


def _heart(nights: list[dict]) -> dict:
    """Heart rate: only nights the detector was sure of."""
    hr = [n["heart_rate_bpm"] for n in nights if n["heart_rate_bpm"] is not None]
    low = [n["summary"].get("heart_rate_lowest_10min_bpm") for n in nights if n["heart_rate_bpm"] is not None]
    low = [v for v in low if v is not None]
    return {"nights": len(hr), "median_bpm": round(statistics.median(hr), 1) if hr else None,
            "lowest_10min_bpm": min(low) if low else None}


def _quality(store, nights: list[dict], rest_s: float, C: int) -> dict:
    """How sure the count is: sensitivity, sensor faults, recovered nights, rest, the nights' checks."""
    faults = []
    for n in nights:
        spans = fault_spans(store.health(n["id"]), n["duration_s"] or 0.0)
        faults.append(sum(e - s for s, e in spans))
    return {"sensitivity": sorted({n["summary"].get("sensitivity") for n in nights
                                   if n["summary"].get("sensitivity") is not None}),
            "fault_h": round(sum(faults) / 3600, 2),
            "recovered_nights": sum(1 for n in nights if n["status"] == "recovered"),
            "rest_share": round(rest_s / max(1e-9, sum(n["duration_s"] or 0 for n in nights)), 3),
            "check": _check(nights, C)}


def _check(nights: list[dict], C: int) -> dict | None:
    """The injection-recovery checks (after each night, or replay --check):
    found / injected per site over the period; None when no night has one."""
    checks = [n["summary"].get("check") for n in nights if isinstance(n["summary"].get("check"), dict)]
    if not checks:
        return None

    def per_site(c: int, key: str) -> list:
        return [ch["per_channel"][c].get(key) for ch in checks if c < len(ch.get("per_channel", []))]
    a50 = [[v for v in per_site(c, "amp50_codes") if v is not None] for c in range(C)]
    return {"nights": len(checks), "injected": [sum(v or 0 for v in per_site(c, "injected")) for c in range(C)],
            "found": [sum(v or 0 for v in per_site(c, "found")) for c in range(C)],
            "amp50_codes": [statistics.median(x) if x else None for x in a50]}


def _typical_waveforms(store, nights: list[dict], C: int) -> list[dict]:
    """Per site, up to ``WAVES_PER_SITE`` twitches whose peak is nearest the
    site's median peak in the period (typical, not the biggest), from the
    newest nights whose waveforms are stored (the daemon makes them from the
    raw recording at a night's end; they go when retention deletes it)."""
    out = []
    for c in range(C):
        found = []
        for n in reversed(nights):
            tws = [t for t in store.twitches(n["id"]) if t["channel"] == c and t["peak"] is not None]
            snips = store.snippets(n["id"]) if tws else {}
            if not snips:
                continue
            med = statistics.median(t["peak"] for t in tws)
            for tw in sorted(tws, key=lambda t: abs(t["peak"] - med))[:WAVES_PER_SITE - len(found)]:
                if (tw["t"], c) in snips:
                    y = decode(snips[(tw["t"], c)][1])
                    step = max(1, len(y) // 200)  # a drawing's worth of points
                    found.append({"date": n["date"], "peak": tw["peak"], "rate_hz": n["rate_hz"] / step,
                                  "before_s": BEFORE_S, "after_s": AFTER_S,
                                  "y": [round(float(v), 2) for v in y[::step]]})
            if len(found) >= WAVES_PER_SITE:
                break
        out.append({"channel": c, "waves": found})
    return out
