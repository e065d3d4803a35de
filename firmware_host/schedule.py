"""The nightly schedule: the night window, rollover, retention, the disk
guard, the health check and clock sanity.

The rules are plain functions of (now, settings) so they can be tested with
any clock (the window's in :mod:`firmware_host.window`, which the page uses
too); :class:`NightScheduler` hangs them on an APScheduler 3
``BackgroundScheduler`` inside the daemon (not in the web process).
"""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from .config import Config
from .window import CLOCK_VALID_FROM, clock_is_set, in_window, window_for, window_hours  # noqa: F401 - public here too

#: APScheduler's default misfire grace is 1 s: a job late by more (the Pi
#: was busy, or asleep, or the clock jumped) is silently skipped.  An hour
#: lets a late rollover or retention still run once, coalesced.
MISFIRE_GRACE_S = 3600


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
        tz = cfg.tz
        s, e = cfg.night_start, cfg.night_end
        self.scheduler.reschedule_job("night-open", trigger=CronTrigger(hour=s.hour, minute=s.minute, timezone=tz))
        self.scheduler.reschedule_job("night-close", trigger=CronTrigger(hour=e.hour, minute=e.minute, timezone=tz))
        self.scheduler.reschedule_job("retention", trigger=CronTrigger(hour=12, minute=0, timezone=tz))

    def shutdown(self) -> None:
        self.scheduler.shutdown(wait=False)

    def job(self, job_id: str):
        return self.scheduler.get_job(job_id)
