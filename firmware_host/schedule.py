"""The nightly schedule: the night window, rollover, retention, the disk
guard, the health check and clock sanity.

The rules are plain functions of (now, settings) so they can be tested with
any clock; :class:`NightScheduler` hangs them on an APScheduler 3
``BackgroundScheduler`` inside the daemon (not in the web process).  Times
are aware datetimes; the window is in the configured zone (ZoneInfo), so a
window across midnight and across a DST change is as long as the wall clock
says (8 h on the spring night, 10 h in autumn for 22:00-07:00 in London).
"""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from .config import Config

#: A Raspberry Pi has no battery clock: until NTP sets it, it starts at the
#: last saved time or in 1970.  Before this year the clock is taken as unset.
CLOCK_VALID_FROM = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)

#: APScheduler's default misfire grace is 1 s: a job late by more (the Pi
#: was busy, or asleep, or the clock jumped) is silently skipped.  An hour
#: lets a late rollover or retention still run once, coalesced.
MISFIRE_GRACE_S = 3600


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


def free_mb(path: Path) -> float:
    return shutil.disk_usage(path).free / 1e6


def retention(store, data_dir: Path, now: dt.datetime, days: int) -> list[str]:
    """Delete raw EDF files of nights that started more than ``days`` ago;
    their nights, counts and events stay.  Returns the paths deleted."""
    cutoff = now - dt.timedelta(days=days)
    gone = []
    for rec in store.recordings():
        night = store.night(rec["night_id"])
        if night is None or dt.datetime.fromisoformat(night["start_utc"]) >= cutoff or not rec["finished"]:
            continue
        p = (Path(data_dir) / rec["path"]).resolve()
        if Path(data_dir).resolve() not in p.parents:
            continue  # never follow a path out of the data dir
        try:
            p.unlink()
        except FileNotFoundError:
            pass
        store.delete_recording(rec["id"])
        gone.append(rec["path"])
    return gone


class NightScheduler:
    """The daemon's jobs on an APScheduler ``BackgroundScheduler``.

    ``open_night``/``close_night`` run at the window's edges; ``rollover``
    at the window's end too (idempotent, keyed by night); ``retention`` at
    noon; ``disk_guard`` every minute and ``health`` every 30 s.  Pass a
    scheduler to test with.
    """

    def __init__(self, cfg: Config, *, open_night, close_night, retention_job, disk_guard, health,
                 scheduler=None):
        from apscheduler.schedulers.background import BackgroundScheduler  # noqa: PLC0415
        from apscheduler.triggers.cron import CronTrigger  # noqa: PLC0415
        from apscheduler.triggers.interval import IntervalTrigger  # noqa: PLC0415

        tz = cfg.tz
        self.scheduler = scheduler or BackgroundScheduler(
            timezone=tz, job_defaults={"misfire_grace_time": MISFIRE_GRACE_S, "coalesce": True,
                                       "max_instances": 1})
        s, e = cfg.night_start, cfg.night_end

        def add(func, trigger, id):  # noqa: A002 - APScheduler's name
            # explicit on every job: not left to the scheduler's defaults
            self.scheduler.add_job(func, trigger, id=id, misfire_grace_time=MISFIRE_GRACE_S, coalesce=True,
                                   max_instances=1)

        add(open_night, CronTrigger(hour=s.hour, minute=s.minute, timezone=tz), id="night-open")
        add(close_night, CronTrigger(hour=e.hour, minute=e.minute, timezone=tz), id="night-close")
        add(retention_job, CronTrigger(hour=12, minute=0, timezone=tz), id="retention")
        add(disk_guard, IntervalTrigger(seconds=60), id="disk-guard")
        add(health, IntervalTrigger(seconds=30), id="health")

    def start(self) -> None:
        self.scheduler.start()

    def reschedule(self, cfg: Config) -> None:
        """Move the window's edges (the owner changed them on the page)."""
        from apscheduler.triggers.cron import CronTrigger  # noqa: PLC0415

        tz = cfg.tz
        s, e = cfg.night_start, cfg.night_end
        self.scheduler.reschedule_job("night-open", trigger=CronTrigger(hour=s.hour, minute=s.minute, timezone=tz))
        self.scheduler.reschedule_job("night-close", trigger=CronTrigger(hour=e.hour, minute=e.minute, timezone=tz))
        self.scheduler.reschedule_job("retention", trigger=CronTrigger(hour=12, minute=0, timezone=tz))

    def shutdown(self) -> None:
        self.scheduler.shutdown(wait=False)

    def job(self, job_id: str):
        return self.scheduler.get_job(job_id)
