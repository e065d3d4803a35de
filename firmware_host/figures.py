"""The figures the page and the doctor's report both show, made one way:
a site's nightly rates and the "new site" flag (Trends), the factors'
comparison (Diary), and the spans a sensor was not ok (Night detail).

Pure Python over the store's night dicts: the page imports it (no numpy,
no detector), and so does :mod:`.report`, so the two never disagree.
"""
from __future__ import annotations

from .events import per_rest_hour

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


#: (key, label): the factors people with benign fasciculations are asked
#: about, and medicines known to cause twitching.
FACTORS = (
    ("caffeine", "Caffeine"), ("alcohol", "Alcohol"), ("smoking", "Smoking"), ("exercise", "Exercise"),
    ("fatigue", "Fatigue"), ("stress", "Stress"), ("anxiety", "Anxiety"),
    ("magnesium", "Magnesium supplement"), ("calcium", "Calcium supplement"),
    ("beta_agonist", "Beta-adrenergic agonist (e.g. salbutamol inhaler)"),
    ("chlorpheniramine", "Chlorpheniramine"), ("dimenhydrinate", "Dimenhydrinate"),
    ("diphenhydramine", "Diphenhydramine"), ("nortriptyline", "Nortriptyline"),
    ("methylphenidate", "Methylphenidate"), ("pseudoephedrine", "Pseudoephedrine"),
)
FACTOR_KEYS = {k for k, _ in FACTORS}
CRAMP_ROW = ("cramps", "Cramps (any logged)")  #: the comparison's row for nights with cramps


def rate_per_rest_hour(n: dict) -> float | None:
    return per_rest_hour(n["total"], n.get("rest_s"))


def comparison(nights: list[dict], diary: dict[str, dict]) -> list[dict]:
    """Per factor: mean twitches per rest hour on nights with it and without
    it (nights with rest only), and how many nights are behind each mean."""
    rated = [(n["date"], rate_per_rest_hour(n), n.get("cramps", 0) > 0) for n in nights]
    rated = [(d, r, c) for d, r, c in rated if r is not None]
    out = []
    for key, label in (*FACTORS, CRAMP_ROW):
        if key == CRAMP_ROW[0]:  # a night's cramps come from the cramps however logged, not a tick
            has = [c for _, _, c in rated]
        else:
            has = [key in diary.get(d, {}).get("factors", []) for d, _, _ in rated]
        with_f = [r for (_, r, _), h in zip(rated, has) if h]
        without = [r for (_, r, _), h in zip(rated, has) if not h]
        out.append({"factor": key, "label": label,
                    "with": {"nights": len(with_f), "rate": round(sum(with_f) / len(with_f), 2) if with_f else None},
                    "without": {"nights": len(without),
                                "rate": round(sum(without) / len(without), 2) if without else None}})
    return out


def fault_spans(changes: list[dict], duration_s: float) -> list[tuple[float, float]]:
    """(start, end) seconds where any sensor was not ok, from status changes."""
    bad: dict[int, float] = {}
    spans = []
    for c in changes:
        if c["status"] != "ok" and c["channel"] not in bad:
            bad[c["channel"]] = c["t"]
        elif c["status"] == "ok" and c["channel"] in bad:
            spans.append((bad.pop(c["channel"]), c["t"]))
    spans += [(t, duration_s) for t in bad.values()]
    return sorted(spans)
