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

from . import pins
from .adc import TwitchmonError

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
    from web.trends import site_rates, spread_flags  # noqa: PLC0415 - the page's rule, one source of truth
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


def gather(store, date_from: dt.date, date_to: dt.date, *, data_dir=None, waveforms: bool = True) -> dict:
    """Every figure of the report for evenings in [date_from, date_to]
    (JSON-able).  ``data_dir``: where the raw recordings are, for the
    typical waveforms (``waveforms``; they need scipy).  ReportError when
    no night was recorded in the period."""
    from . import plm as plm_mod  # noqa: PLC0415
    from .cramps import before_cramp  # noqa: PLC0415

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

    # weeks: 7-day blocks from the first day (the last may be shorter)
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

    # cramps: every one of the period, timed ones with the 30 minutes before them
    by_id = {n["id"]: n for n in nights}
    cramp_rows = []
    for cr in store.cramps(date_from=a, date_to=b):
        n = by_id.get(cr["night_id"])
        before = None
        if n is not None and cr["t"] is not None:
            before = before_cramp(cr, n, store.twitches(n["id"]), store.movements(n["id"]), pins.legs(n["channels"]))
        when = None
        if n is not None and cr["t"] is not None:
            when = (dt.datetime.fromisoformat(n["start_utc"]) + dt.timedelta(seconds=cr["t"])).astimezone()
        cramp_rows.append({"date": cr["date"], "time": when.strftime("%H:%M") if when else None,
                           "leg": cr["leg"], "severity": cr["severity"], "source": cr["source"], "before": before})
    sev = [c["severity"] for c in cramp_rows if c["severity"] is not None]
    cramp_dates = sorted({c["date"] for c in cramp_rows})

    # periodic limb movements, counted from the stored movements
    plm_count = 0
    for n in nights:
        plm_count += plm_mod.score(store.movements(n["id"]), pins.legs(n["channels"])).plm
    # heart rate: only nights the detector was sure of
    hr = [n["heart_rate_bpm"] for n in nights if n["heart_rate_bpm"] is not None]
    low = [n["summary"].get("heart_rate_lowest_10min_bpm") for n in nights if n["heart_rate_bpm"] is not None]
    low = [v for v in low if v is not None]

    from web.diary import comparison  # noqa: PLC0415 - the diary page's figures, one source of truth
    diary = store.diary()
    factors = [f for f in comparison(nights, diary) if f["with"]["nights"]]

    from web.nights import fault_spans  # noqa: PLC0415
    faults = []
    for n in nights:
        spans = fault_spans(store.health(n["id"]), n["duration_s"] or 0.0)
        faults.append(sum(e - s for s, e in spans))
    checks = [n["summary"].get("check") for n in nights if isinstance(n["summary"].get("check"), dict)]
    check = None
    if checks:  # the injection-recovery check (replay --check): found / injected per site over the period
        inj = [sum(ch["per_channel"][c]["injected"] for ch in checks if c < len(ch.get("per_channel", [])))
               for c in range(C)]
        found = [sum(ch["per_channel"][c]["found"] for ch in checks if c < len(ch.get("per_channel", [])))
                 for c in range(C)]
        a50 = [[ch["per_channel"][c].get("amp50_codes") for ch in checks if c < len(ch.get("per_channel", []))]
               for c in range(C)]
        check = {"nights": len(checks), "injected": inj, "found": found,
                 "amp50_codes": [statistics.median([v for v in x if v is not None]) if any(v is not None for v in x)
                                 else None for x in a50]}

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
        "cramps": {"count": len(cramp_rows), "nights_with": len(cramp_dates),
                   "by_leg": {lg: sum(1 for c in cramp_rows if (c["leg"] or "not said") == lg)
                              for lg in ("left", "right", "both", "not said")},
                   "severity_mean": round(statistics.mean(sev), 1) if sev else None,
                   "list": cramp_rows},
        "plm": {"count": plm_count, "index": _rate(plm_count, rest_s)},
        "heart": {"nights": len(hr), "median_bpm": round(statistics.median(hr), 1) if hr else None,
                  "lowest_10min_bpm": min(low) if low else None},
        "diary": factors,
        "quality": {"sensitivity": sorted({n["summary"].get("sensitivity") for n in nights
                                           if n["summary"].get("sensitivity") is not None}),
                    "fault_h": round(sum(faults) / 3600, 2),
                    "recovered_nights": sum(1 for n in nights if n["status"] == "recovered"),
                    "rest_share": round(rest_s / max(1e-9, sum(n["duration_s"] or 0 for n in nights)), 3),
                    "check": check},
        "measured": {"sites": [{"site": names[c], "leg": legs[c],
                                "placement": pins.SITES[c].placement if c < len(pins.SITES) else ""}
                               for c in range(C)],
                     "rate_hz": sorted({n["rate_hz"] for n in nights})},
        "night_dates": [n["date"] for n in nights],
    }
    out["waveforms"] = _typical_waveforms(store, data_dir, nights, C) if waveforms and data_dir else []
    return out


def _typical_waveforms(store, data_dir, nights: list[dict], C: int) -> list[dict]:
    """Per site, up to ``WAVES_PER_SITE`` twitches whose peak is nearest the
    site's median peak in the period (typical, not the biggest), from the
    newest nights whose raw recording is still on the device."""
    try:
        from .waveforms import AFTER_S, BEFORE_S, Snippets  # noqa: PLC0415 - scipy: only for the drawings
    except ImportError:
        return []
    out = []
    for c in range(C):
        found = []
        for n in reversed(nights):
            tws = [t for t in store.twitches(n["id"]) if t["channel"] == c and t["peak"] is not None]
            if not tws:
                continue
            snip = Snippets(store, data_dir, n)
            if not snip.has_raw:
                continue
            med = statistics.median(t["peak"] for t in tws)
            for tw in sorted(tws, key=lambda t: abs(t["peak"] - med))[:WAVES_PER_SITE - len(found)]:
                y = snip.get(tw["t"], c)
                if y is not None:
                    step = max(1, len(y) // 200)  # a drawing's worth of points
                    found.append({"date": n["date"], "peak": tw["peak"], "rate_hz": n["rate_hz"] / step,
                                  "before_s": BEFORE_S, "after_s": AFTER_S,
                                  "y": [round(float(v), 2) for v in y[::step]]})
            if len(found) >= WAVES_PER_SITE:
                break
        out.append({"channel": c, "waves": found})
    return out
