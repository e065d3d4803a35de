"""Night window, DST, APScheduler triggers, catch-up, retention, disk guard
and clock sanity, all on a fake clock."""
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from twitchmon_testkit import needs
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_host.config import Config, ConfigError, load_config, parse_config
from firmware_host.daemon import NightRecorder, recover
from firmware_host.schedule import (MISFIRE_GRACE_S, NightScheduler, clock_is_set, free_mb, in_window, retention,
                                    window_for, window_hours)
from firmware_host.simulator import Night
from firmware_host.store import open_store

LONDON = ZoneInfo("Europe/London")
UTC = dt.timezone.utc
CFG = Config(night_start=dt.time(22, 0), night_end=dt.time(7, 30), timezone="Europe/London")


def at(y, mo, d, h, mi=0, tz=LONDON):
    return dt.datetime(y, mo, d, h, mi, tzinfo=tz)


def test_window_across_midnight():
    start, end = window_for(at(2026, 1, 15, 3), CFG)
    assert (start, end) == (at(2026, 1, 14, 22), at(2026, 1, 15, 7, 30))
    assert in_window(at(2026, 1, 15, 3), CFG) and in_window(at(2026, 1, 14, 22), CFG)
    assert not in_window(at(2026, 1, 15, 7, 30), CFG) and not in_window(at(2026, 1, 15, 12), CFG)
    assert window_for(at(2026, 1, 15, 12), CFG)[0] == at(2026, 1, 15, 22)  # the next one
    assert window_hours(start, end) == 9.5


@pytest.mark.parametrize("evening,hours", [((2026, 3, 28), 8.5),   # clocks go forward at 01:00
                                           ((2026, 10, 24), 10.5),  # and back at 02:00
                                           ((2026, 6, 1), 9.5)])
def test_window_is_as_long_as_the_wall_clock_says_across_dst(evening, hours):
    start, end = window_for(at(*evening, 23), CFG)
    assert start == at(*evening, 22)
    assert window_hours(start, end) == hours
    # an instant inside the short or long night is in the window, in any zone
    mid = start.astimezone(UTC) + dt.timedelta(hours=hours - 0.25)
    assert in_window(mid, CFG) and not in_window(mid + dt.timedelta(hours=0.5), CFG)


@given(st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2030, 12, 31)),
       st.times(), st.times())
@settings(max_examples=200, deadline=None)
def test_window_always_contains_now_or_is_next(naive, s, e):
    if s.replace(second=0, microsecond=0) == e.replace(second=0, microsecond=0):
        return
    cfg = Config(night_start=s.replace(second=0, microsecond=0), night_end=e.replace(second=0, microsecond=0),
                 timezone="Europe/London")
    now = naive.replace(tzinfo=UTC)
    start, end = window_for(now, cfg)
    assert now < end and start < end
    assert window_hours(start, end) <= 25
    # the window is the first one not yet over: every window from a week
    # around, built here from the wall clock alone, that ends after now ends
    # no earlier than this one
    local = now.astimezone(LONDON).date()
    ends = []
    for k in range(-7, 8):
        day = local + dt.timedelta(days=k)
        w_start = dt.datetime.combine(day, cfg.night_start, tzinfo=LONDON)
        w_end = dt.datetime.combine(day, cfg.night_end, tzinfo=LONDON)
        if w_end <= w_start:
            w_end = dt.datetime.combine(day + dt.timedelta(days=1), cfg.night_end, tzinfo=LONDON)
        if w_end > now:
            ends.append((w_end, w_start))
    assert (end, start) == min(ends)


def _scheduler(cfg):
    from apscheduler.schedulers.background import BackgroundScheduler

    calls = []
    sch = NightScheduler(cfg, open_night=lambda: calls.append("open"), close_night=lambda: calls.append("close"),
                         retention_job=lambda: None, disk_guard=lambda: None, health=lambda: None,
                         scheduler=BackgroundScheduler(timezone=cfg.tz))
    return sch, calls


def test_apscheduler_fires_the_window_at_local_time_on_both_sides_of_dst():
    sch, _ = _scheduler(CFG)
    trig = sch.job("night-open").trigger
    winter = trig.get_next_fire_time(None, at(2026, 3, 27, 12))
    summer = trig.get_next_fire_time(None, at(2026, 3, 29, 12))
    assert winter.astimezone(UTC).hour == 22 and summer.astimezone(UTC).hour == 21  # 22:00 GMT, 22:00 BST
    close = sch.job("night-close").trigger.get_next_fire_time(None, at(2026, 3, 28, 23))
    assert close == at(2026, 3, 29, 7, 30) and close.astimezone(UTC).hour == 6


def test_jobs_run_late_rather_than_being_skipped():
    sch, _ = _scheduler(CFG)
    for job_id in ("night-open", "night-close", "retention", "disk-guard", "health"):
        job = sch.job(job_id)
        assert job.misfire_grace_time == MISFIRE_GRACE_S >= 600 and job.coalesce


def test_config_file_round_trip_and_one_line_errors(tmp_path):
    f = tmp_path / "t.toml"
    f.write_text('[night]\nstart = "21:30"\nend = "06:45"\ntimezone = "America/New_York"\n'
                 '[detector]\nsensitivity = 7\n[storage]\nraw_retention_days = 14\nmin_free_mb = 200\n')
    cfg = load_config(f)
    assert (cfg.night_start, cfg.night_end, cfg.sensitivity, cfg.raw_retention_days) == \
        (dt.time(21, 30), dt.time(6, 45), 7.0, 14)
    assert cfg.tz == ZoneInfo("America/New_York")
    for text in ['[night]\nstart = "7pm"', '[night]\ntimezone = "Mars/Olympus"', "[detector]\nsensitivity = 0",
                 "[storage]\nraw_retention_days = true", "[nope]\nx = 1", "[night]\nbogus = 1", "not toml ==",
                 '[night]\nstart = "22:00"\nend = "22:00"']:
        with pytest.raises(ConfigError) as e:
            parse_config(text, "t.toml")
        assert "\n" not in str(e.value) and str(e.value).startswith("t.toml: ")
    with pytest.raises(ConfigError):
        load_config(tmp_path / "missing.toml")


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_config_parser_only_ever_raises_config_error(text):
    """Any text is a Config or one line that names the file; no other exception."""
    try:
        cfg = parse_config(text, "any.toml")
    except ConfigError as exc:
        assert str(exc).startswith("any.toml: ") and "\n" not in str(exc)
    else:
        assert isinstance(cfg, Config) and cfg.night_start != cfg.night_end


def _record(store, tmp_path, seconds, clock=None, **kw):
    night = Night(seconds / 60, seed=3)
    rec = NightRecorder(store, tmp_path, night.rate_hz, night.channels, "sim", clock=clock, **kw)
    for b in night.blocks(1000):
        rec.feed(b)
    return rec


def test_catch_up_stores_a_summary_for_a_night_a_power_cut_ended(tmp_path):
    store = open_store(tmp_path)
    rec = _record(store, tmp_path, 90)
    rec.writer.sync()
    nid = rec.night_id  # no close(): the power went
    store.close()
    store = open_store(tmp_path)
    assert recover(store, tmp_path) >= 1
    night = store.night(nid)
    assert night["status"] == "recovered"
    assert night["summary"]["counts"]["total"] == night["total"] == len(store.twitches(nid))
    assert recover(store, tmp_path) == 0  # idempotent: nothing left to do


def test_retention_deletes_old_raw_files_and_keeps_counts(tmp_path):
    store = open_store(tmp_path)
    old = _record(store, tmp_path, 40, clock=lambda: dt.datetime(2026, 1, 1, 23, tzinfo=UTC))
    old.close()
    new = _record(store, tmp_path, 40, clock=lambda: dt.datetime(2026, 3, 1, 23, tzinfo=UTC))
    new.close()
    old_files = [tmp_path / r["path"] for r in store.recordings(old.night_id)]
    new_files = [tmp_path / r["path"] for r in store.recordings(new.night_id)]
    assert all(p.exists() for p in old_files + new_files)
    before = store.night(old.night_id)["total"]
    gone = retention(store, tmp_path, dt.datetime(2026, 3, 2, 12, tzinfo=UTC), days=30)
    assert sorted(gone) == sorted(str(p.relative_to(tmp_path)) for p in old_files)
    assert not any(p.exists() for p in old_files) and all(p.exists() for p in new_files)
    assert store.night(old.night_id)["total"] == before and store.recordings(old.night_id) == []


def test_disk_guard_stops_raw_recording_but_counting_goes_on(tmp_path):
    store = open_store(tmp_path)
    night = Night(1.0, seed=5)
    rec = NightRecorder(store, tmp_path, night.rate_hz, night.channels, "sim")
    blocks = list(night.blocks(1000))
    for b in blocks[:20]:
        rec.feed(b)
    rec.stop_raw("disk nearly full (under 500 MB free)")
    size = sum(p.stat().st_size for p in tmp_path.glob("recordings/*/*.edf"))
    for b in blocks[20:]:
        rec.feed(b)
    rec.close()
    assert sum(p.stat().st_size for p in tmp_path.glob("recordings/*/*.edf")) == size
    n = store.night(rec.night_id)
    assert n["duration_s"] == pytest.approx(60.0) and n["status"] == "complete"
    assert store.get_setting(f"night.{rec.night_id}.raw_stopped").startswith("disk nearly full")


def test_a_night_begun_before_the_clock_was_set_is_dated_once_it_is(tmp_path):
    store = open_store(tmp_path)
    wall = {"now": dt.datetime(1970, 1, 1, 0, 0, 5, tzinfo=UTC)}
    rec = _record(store, tmp_path, 30, clock=lambda: wall["now"])
    assert not clock_is_set(wall["now"]) and not rec.fix_clock()
    wall["now"] = dt.datetime(2026, 5, 4, 23, 10, tzinfo=UTC)  # NTP arrives
    assert rec.fix_clock()
    n = store.night(rec.night_id)
    assert n["start_utc"] == "2026-05-04T23:09:30+00:00" and n["date"] == "2026-05-04"
    wall["now"] = dt.datetime(2026, 5, 4, 22, 0, tzinfo=UTC)  # and then jumps back an hour
    assert not rec.fix_clock()
    rec.close()
    n = store.night(rec.night_id)
    assert n["duration_s"] == pytest.approx(30.0)  # from samples, not from the wall clock
    # the raw file, opened on the 1970 clock, is dated too: MNE reads the right start
    mne = needs.module("mne")
    raw = mne.io.read_raw_edf(tmp_path / store.recordings(rec.night_id)[0]["path"], verbose="error")
    assert raw.info["meas_date"] == dt.datetime(2026, 5, 4, 23, 9, 30, tzinfo=UTC)


def test_health_check_drives_the_led_state_and_the_page_banner(tmp_path):
    import json
    import types

    from firmware_host.daemon import health_state
    from web import sensor_banner

    assert health_state(None) == "idle"
    rec = types.SimpleNamespace(det=types.SimpleNamespace(status=["ok", "ok", "ok", "ok"]))
    assert health_state(rec) == "recording"
    rec.det.status[2] = "unplugged"
    assert health_state(rec) == "fault"
    store = open_store(tmp_path)
    now = dt.datetime(2026, 5, 5, 2, 0, tzinfo=UTC)
    store.set_setting("health", json.dumps({"t": now.isoformat(), "status": rec.det.status}))
    assert sensor_banner(store, now=now) == ["Right calf sensor: unplugged"]
    assert sensor_banner(store, now=now + dt.timedelta(minutes=10)) == []  # stale: the daemon is not running
    store.set_setting("health", "{broken")
    assert sensor_banner(store, now=now) == []


def test_serve_refuses_a_bad_settings_file_in_one_line(tmp_path, capsys):
    from firmware_host.cli import main
    bad = tmp_path / "bad.toml"
    bad.write_text('[night]\nstart = "25:00"\n')
    assert main(["serve", "--config", str(bad), "--data-dir", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "night.start" in err[0]


# -- the rules people rely on, pinned one by one --------------------------------

DAY = Config(night_start=dt.time(1, 0), night_end=dt.time(5, 0), timezone="Europe/London")  # a nap-like window


def test_after_a_same_day_window_the_next_one_is_tomorrows():
    assert window_for(at(2026, 1, 15, 6), DAY) == (at(2026, 1, 16, 1), at(2026, 1, 16, 5))
    assert window_for(at(2026, 1, 15, 0, 30), DAY) == (at(2026, 1, 15, 1), at(2026, 1, 15, 5))
    assert window_for(at(2026, 1, 15, 3), DAY) == (at(2026, 1, 15, 1), at(2026, 1, 15, 5))


def test_at_the_very_end_of_a_window_the_next_one_is_given():
    assert window_for(at(2026, 1, 15, 7, 30), CFG) == (at(2026, 1, 15, 22), at(2026, 1, 16, 7, 30))
    assert window_for(at(2026, 1, 15, 5), DAY) == (at(2026, 1, 16, 1), at(2026, 1, 16, 5))
    assert not in_window(at(2026, 1, 15, 5), DAY) and in_window(at(2026, 1, 15, 1), DAY)


def test_the_window_is_in_the_configured_zone_whatever_zone_now_is_in():
    ny = Config(night_start=dt.time(22, 0), night_end=dt.time(6, 0), timezone="America/New_York")
    now = dt.datetime(2026, 1, 15, 4, 0, tzinfo=UTC)  # 23:00 the evening before in New York
    start, end = window_for(now, ny)
    assert start == dt.datetime(2026, 1, 14, 22, 0, tzinfo=ZoneInfo("America/New_York"))
    assert start.astimezone(UTC) == dt.datetime(2026, 1, 15, 3, 0, tzinfo=UTC) and window_hours(start, end) == 8


def test_the_clock_counts_as_set_from_2025_on():
    assert clock_is_set(dt.datetime(2025, 1, 1, tzinfo=UTC))
    assert clock_is_set(dt.datetime(2025, 6, 1, tzinfo=UTC))
    assert not clock_is_set(dt.datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC))
    assert not clock_is_set(dt.datetime(1970, 1, 1, tzinfo=UTC))


def test_free_mb_is_megabytes_of_free_space(tmp_path):
    import os
    st_ = os.statvfs(tmp_path)
    expected_mb = st_.f_bavail * st_.f_frsize / 1_000_000  # what an unprivileged writer may still use
    assert free_mb(tmp_path) == pytest.approx(expected_mb, rel=0.01, abs=50)


class _Recs:
    """A store with just what retention reads: nights and their raw files."""

    def __init__(self, rows):
        self.nights = {i: {"start_utc": start} for i, (start, _, _) in enumerate(rows)}
        self.recs = [{"id": 100 + i, "night_id": i, "path": path, "finished": fin}
                     for i, (_, path, fin) in enumerate(rows)]
        self.deleted = []

    def recordings(self):
        return list(self.recs)

    def night(self, night_id):
        return self.nights.get(night_id)

    def delete_recording(self, rec_id):
        self.deleted.append(rec_id)


def test_retention_keeps_a_night_exactly_n_days_old_and_deletes_one_a_second_older(tmp_path):
    now = dt.datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    edge = (now - dt.timedelta(days=30)).isoformat()
    older = (now - dt.timedelta(days=30, seconds=1)).isoformat()
    for name in ("edge.edf", "older.edf", "open.edf"):
        (tmp_path / name).write_bytes(b"x")
    store = _Recs([(edge, "edge.edf", 1), (older, "older.edf", 1), (older, "open.edf", 0)])
    assert retention(store, tmp_path, now, days=30) == ["older.edf"]
    assert store.deleted == [101]
    assert (tmp_path / "edge.edf").exists() and not (tmp_path / "older.edf").exists()
    assert (tmp_path / "open.edf").exists()  # still being written: never deleted


def test_retention_never_deletes_outside_the_data_dir(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    outside = tmp_path / "precious.edf"
    outside.write_bytes(b"keep me")
    (data / "mine.edf").write_bytes(b"x")
    old = "2020-01-01T00:00:00+00:00"
    store = _Recs([(old, "../precious.edf", 1), (old, str(outside), 1), (old, "mine.edf", 1)])
    store.recs.append({"id": 103, "night_id": 9, "path": "mine.edf", "finished": 1})
    assert retention(store, data, dt.datetime(2026, 1, 1, tzinfo=UTC), days=30) == ["mine.edf"]
    assert outside.read_bytes() == b"keep me" and store.deleted == [102]


def test_retention_forgets_a_raw_file_already_gone(tmp_path):
    store = _Recs([("2020-01-01T00:00:00+00:00", "gone.edf", 1)])
    assert retention(store, tmp_path, dt.datetime(2026, 1, 1, tzinfo=UTC), days=1) == ["gone.edf"]
    assert store.deleted == [100]


def test_daily_and_periodic_jobs_run_when_documented():
    sch, _ = _scheduler(CFG)
    noon = sch.job("retention").trigger.get_next_fire_time(None, at(2026, 7, 1, 9))
    assert noon == at(2026, 7, 1, 12) and noon.astimezone(UTC).hour == 11  # local noon, BST
    after = at(2026, 7, 1, 9)
    assert sch.job("disk-guard").trigger.interval == dt.timedelta(seconds=60)
    assert sch.job("health").trigger.interval == dt.timedelta(seconds=30)
    assert sch.job("night-close").trigger.get_next_fire_time(None, after) == at(2026, 7, 2, 7, 30)
    assert sch.job("night-open").trigger.get_next_fire_time(None, after) == at(2026, 7, 1, 22)
    for job_id in ("night-open", "night-close", "retention", "disk-guard", "health"):
        assert sch.job(job_id).max_instances == 1


def test_jobs_may_be_an_hour_late():
    assert MISFIRE_GRACE_S == 3600  # "an hour lets a late rollover or retention still run once"


def test_reschedule_moves_the_window_edges():
    sch, _ = _scheduler(CFG)
    sch.reschedule(Config(night_start=dt.time(23, 15), night_end=dt.time(6, 45), timezone="Europe/London"))
    after = at(2026, 7, 1, 9)
    assert sch.job("night-open").trigger.get_next_fire_time(None, after) == at(2026, 7, 1, 23, 15)
    assert sch.job("night-close").trigger.get_next_fire_time(None, after) == at(2026, 7, 2, 6, 45)
    assert sch.job("retention").trigger.get_next_fire_time(None, after) == at(2026, 7, 1, 12)


def test_the_default_scheduler_is_in_the_configured_zone_with_late_jobs_run_once():
    sch = NightScheduler(CFG, open_night=lambda: None, close_night=lambda: None, retention_job=lambda: None,
                         disk_guard=lambda: None, health=lambda: None)
    assert sch.scheduler.timezone == LONDON
    sch.start()
    try:
        assert sch.scheduler.running and sch.job("health") is not None
        # a job added later (by the daemon) gets the same rules as the window's jobs
        sch.scheduler.add_job(lambda: None, "interval", hours=1, id="later")
        later = sch.job("later")
        assert (later.misfire_grace_time, later.coalesce, later.max_instances) == (MISFIRE_GRACE_S, True, 1)
    finally:
        sch.shutdown()
    assert not sch.scheduler.running


def test_free_mb_keeps_the_fraction(monkeypatch):
    import shutil
    import types
    monkeypatch.setattr(shutil, "disk_usage", lambda p: types.SimpleNamespace(total=0, used=0, free=500_700_000))
    assert free_mb("/") == 500.7  # 500.7 MB is not under a 500.5 MB floor


def test_scheduler_jobs_are_named_not_positional():
    with pytest.raises(TypeError):
        NightScheduler(CFG, lambda: None, lambda: None, lambda: None, lambda: None, lambda: None)
