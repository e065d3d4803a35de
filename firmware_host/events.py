"""Counting the events of a night: pure functions over the event dicts the
store and the ``replay --json`` report hold (contracts section 3).

No numpy, no detector: the page imports this module, and so do the
analysis, the daemon and the MQTT summary, so a count is made one way.
"""
from __future__ import annotations

import datetime as dt
import math

#: the unit of a twitch's ``peak`` (the detector's working signal)
PEAK_UNIT = "codes, 3-35 Hz band, heartbeat removed"

#: how much signal the detector analyses at a time, s (its ``DetectorConfig.chunk_s``;
#: tests/test_events.py fails if the two part): the page's Tonight says when the
#: first count can come (two steps in) without importing the detector
DETECTOR_STEP_S = 30.0

#: the states a sensor can be in, in the order their codes number them (the
#: detector's ``FAULT_KINDS``; tests/test_events.py fails if the two part):
#: the live ring, the page and the MQTT discovery name them without the detector
SENSOR_STATES = ("ok", "unplugged", "railed", "hum")


def hourly_counts(twitches: list[dict], duration_s: float) -> list[int]:
    """Twitches in each hour from the first sample (the last hour may be short)."""
    hours = max(1, math.ceil(duration_s / 3600)) if duration_s > 0 else 1
    out = [0] * hours
    for tw in twitches:
        out[min(int(tw["t"] // 3600), hours - 1)] += 1
    return out


def per_channel_counts(twitches: list[dict], channels: int) -> list[int]:
    """Twitches on each channel 0..channels-1."""
    per = [0] * channels
    for tw in twitches:
        per[tw["channel"]] += 1
    return per


def per_rest_hour(count: int, rest_s: float | None) -> float | None:
    """``count`` per hour at rest; None for a night with no rest."""
    return count / (rest_s / 3600) if rest_s and rest_s > 0 else None


def rounded(v: float | None) -> float | None:
    """A rate as stored and published: two decimals, None kept."""
    return round(v, 2) if v is not None else None


def how_many(n: int, one: str, many: str) -> str:
    """``n`` with its noun, for people: "1 twitch", "3 twitches", "0 movements"."""
    return f"{n} {one if n == 1 else many}"


def counts(twitches: list[dict], channels: int, duration_s: float) -> dict:
    """The report's and the summary's ``counts``: total, per channel, per hour."""
    return {"total": len(twitches), "per_channel": per_channel_counts(twitches, channels),
            "per_hour": hourly_counts(twitches, duration_s)}


def night_date(start: dt.datetime) -> str:
    """The evening a night belongs to: before noon counts as the day before."""
    local = start.astimezone()
    if local.hour < 12:
        local -= dt.timedelta(days=1)
    return local.date().isoformat()


def summary_from_detector(det, twitches: list[dict], faults: list[dict], duration_s: float, heart=None) -> dict:
    """The same summary for a night recorded live (``twitchmon run``);
    ``heart``: the :class:`~.heart.HeartTrack` that watched ``det``."""
    return {"counts": counts(twitches, det.cfg.channels, duration_s), "faults": faults,
            "sensitivity": det.cfg.sensitivity, "peak_unit": PEAK_UNIT, "truncated": False,
            "twitches_per_rest_hour": rounded(per_rest_hour(len(twitches), det.rest_s)),
            "heart_rate_lowest_10min_bpm": heart.lowest_10min_bpm() if heart is not None else None}


def summary_from_store(store, night_id: int, duration_s: float) -> dict:
    """The summary of a night rebuilt from what the store holds (a night a
    power cut ended: the detector's state is gone, its events are not)."""
    twitches = store.twitches(night_id)
    night = store.night(night_id)
    return {"counts": counts(twitches, int(night["channels"]), duration_s), "faults": store.health(night_id),
            "peak_unit": PEAK_UNIT, "truncated": True,
            "twitches_per_rest_hour": rounded(per_rest_hour(len(twitches), night.get("rest_s")))}
