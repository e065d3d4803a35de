"""From a recording to a report, and from a report to a stored night.

``analyse`` streams a trace through the detector (the same code the daemon
runs live) and builds the ``replay --json`` report of contracts section 3,
plus a night summary: counts per channel and per hour, rest, movements,
sensor faults and heart rate.
"""
from __future__ import annotations

import datetime as dt
import os

from . import injection, pins
from .detector import Detector, DetectorConfig, Events
from .events import PEAK_UNIT, counts, night_date, per_rest_hour
from .events import rounded as _rounded
from .heart import HeartTrack
from .traces import TraceError, open_trace


def build_report(source: str, rate_hz: float, channels: int, n_samples: int, events: Events,
                 det: Detector, *, channel_names: list[str] | None = None,
                 start_unix: float | None = None, truncated: bool = False, heart=None) -> dict:
    """``heart``: the :class:`~.heart.HeartTrack` that watched ``det`` (for the lowest 10-minute rate)."""
    twitches = [tw.as_dict() for tw in sorted(events.twitches, key=lambda t: t.t)]
    movements = [m.as_dict() for m in sorted(events.movements, key=lambda m: m.t)]
    duration = n_samples / rate_hz
    return {
        "source": source,
        "rate_hz": float(rate_hz),
        "channels": int(channels),
        "duration_s": round(duration, 3),
        "rest_s": round(det.rest_s, 1),
        "twitches": twitches,
        "movements": movements,
        "counts": counts(twitches, channels, duration),
        "channel_names": channel_names or pins.site_names(channels),
        "faults": events.faults,
        "heart_rate_bpm": det.heart_rate_bpm,
        "heart_rate_lowest_10min_bpm": heart.lowest_10min_bpm() if heart is not None else None,
        "mains_hz": det.mains_hz,
        "sensitivity": det.cfg.sensitivity,
        "peak_unit": PEAK_UNIT,
        "start_unix": start_unix,
        "truncated": truncated,
        "twitches_per_rest_hour": _rounded(per_rest_hour(len(twitches), det.rest_s)),
    }


def analyse(path: str | os.PathLike, *, rate_hz: float | None = None, sensitivity: float = 5.0,
            block_samples: int | None = None, progress=None, check: bool = False) -> dict:
    """Run the detector over a trace file as fast as it can; return the report.
    ``block_samples`` (default: as many as the detector's front end takes at
    once) changes the speed, never the events.  ``progress(samples)``, when
    given, is called after each block with the samples it held.  ``check``
    adds the injection-recovery check (firmware_host.injection: one more pass)."""
    heart = HeartTrack()
    with open_trace(path, rate_hz) as reader:
        info = reader.info
        det = Detector(DetectorConfig(rate_hz=info.rate_hz, channels=info.channels, sensitivity=sensitivity,
                                      gain=info.gain))
        events = Events()
        n = 0
        for block in reader.code_blocks(block_samples or det.batch_chunks * det.chunk_raw):
            n += len(block)
            events.extend(det.process(block))
            heart.update(det)
            if progress is not None:
                progress(len(block))
        if n == 0:  # cut before its first whole record: there is nothing to count
            raise TraceError(f"{path}: no whole record of signal in the file")
        events.extend(det.finish())
        heart.update(det)
        report = build_report(os.path.basename(str(path)), info.rate_hz, info.channels, n, events, det,
                              channel_names=info.channel_names or None, start_unix=info.start_unix,
                              truncated=info.truncated, heart=heart)
    if check:
        report["check"] = injection.check(path, report, det, block_samples=block_samples)
    return report


def night_summary(report: dict) -> dict:
    """What a stored night keeps beside its events: counts (total, per
    channel, per hour), sensor faults, the sensitivity used, the unit of
    ``peak``, whether the recording was cut, twitches per rest hour, the
    lowest 10-minute heart rate and, after ``replay --check``, the check
    (the doctor's report says how sure the count is from it)."""
    return {k: report[k] for k in ("counts", "faults", "sensitivity", "peak_unit", "truncated",
                                   "twitches_per_rest_hour", "heart_rate_lowest_10min_bpm", "check") if k in report}


def save_report(store, report: dict, *, source: str) -> tuple[int, bool]:
    """Store a finished report as a night; returns its id, and False when
    the same recording (source and start) was stored before: that night's
    id, nothing stored twice (its twitches would count twice in the trends)."""
    start_unix = report.get("start_unix")
    start = dt.datetime.fromtimestamp(start_unix, dt.timezone.utc) if start_unix else \
        dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=report["duration_s"])
    end = start + dt.timedelta(seconds=report["duration_s"])
    start_utc = start.isoformat(timespec="seconds")
    if start_unix:
        before = store.night_saved_from(source, start_utc)
        if before is not None:
            return before, False
    nid = store.add_night(date=night_date(start), start_utc=start_utc,
                          source=source, rate_hz=report["rate_hz"], channels=report["channels"],
                          channel_names=report["channel_names"], status="complete")
    store.add_events(nid, report["twitches"], report["movements"])
    store.add_health(nid, report.get("faults", []))
    summary = night_summary(report)
    store.update_night(nid, end_utc=end.isoformat(timespec="seconds"), duration_s=report["duration_s"],
                       rest_s=report["rest_s"], heart_rate_bpm=report.get("heart_rate_bpm"),
                       mains_hz=report.get("mains_hz"), summary=summary)
    store.refresh_counts(nid)
    return nid, True
