"""Night window, DST, APScheduler triggers, catch-up, retention, disk guard
and clock sanity, all on a fake clock."""
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_host.config import Config, ConfigError, load_config, parse_config
from firmware_host.daemon import NightRecorder, recover
from firmware_host.schedule import (MISFIRE_GRACE_S, NightScheduler, clock_is_set, in_window, retention,
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
    try:
        parse_config(text)
    except ConfigError:
        pass


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
    mne = pytest.importorskip("mne")
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
