"""The night window and clock sanity: plain functions of (now, settings).

The daemon's scheduler (:mod:`firmware_host.schedule`) opens and closes the
night with them, and the page's Tonight shows the window with them, without
the scheduler.  Times are aware datetimes; the window is in the configured
zone (ZoneInfo), so a window across midnight and across a DST change is as
long as the wall clock says (8 h on the spring night, 10 h in autumn for
22:00-07:00 in London).
"""
from __future__ import annotations

import datetime as dt

from .config import Config

#: A Raspberry Pi has no battery clock: until NTP sets it, it starts at the
#: last saved time or in 1970.  Before this year the clock is taken as unset.
CLOCK_VALID_FROM = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)


def clock_is_set(now: dt.datetime) -> bool:
    return now >= CLOCK_VALID_FROM


def window_for(now: dt.datetime, cfg: Config) -> tuple[dt.datetime, dt.datetime]:
    """The night window containing ``now``, else the next one, as aware
    datetimes in the configured zone."""
    tz = cfg.tz
    d = now.astimezone(tz).date()
    crosses = cfg.night_end <= cfg.night_start
    for day in (d - dt.timedelta(days=1), d, d + dt.timedelta(days=1)):
        start = dt.datetime.combine(day, cfg.night_start, tzinfo=tz)
        end = dt.datetime.combine(day + dt.timedelta(days=1) if crosses else day, cfg.night_end, tzinfo=tz)
        if now < end:  # windows come in order: the first not yet over contains now or is next
            return start, end
    raise AssertionError("unreachable: a window starts every day")


def in_window(now: dt.datetime, cfg: Config) -> bool:
    start, end = window_for(now, cfg)
    return start <= now < end


def window_hours(start: dt.datetime, end: dt.datetime) -> float:
    """Real elapsed hours of a window (UTC arithmetic: DST counts)."""
    return (end.astimezone(dt.timezone.utc) - start.astimezone(dt.timezone.utc)).total_seconds() / 3600
