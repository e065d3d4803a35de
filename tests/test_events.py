"""firmware_host/events.py: the page's numpy-free counting, and the facts it
keeps beside the detector's (which the page must not import)."""
import datetime as dt

from firmware_host import events
from firmware_host.detector import FAULT_KINDS, DetectorConfig


def test_the_detector_facts_the_page_shows_agree_with_the_detector():
    assert events.DETECTOR_STEP_S == DetectorConfig.chunk_s
    assert tuple(events.SENSOR_STATES) == tuple(FAULT_KINDS)


def test_hourly_counts_put_each_twitch_in_its_hour_and_the_last_hour_may_be_short():
    tw = [{"t": 0.0}, {"t": 3599.9}, {"t": 3600.0}, {"t": 7300.0}]
    assert events.hourly_counts(tw, 7300.0) == [2, 1, 1]
    assert events.hourly_counts([], 0) == [0]


def test_counts_total_is_the_sum_per_channel():
    tw = [{"t": 1.0, "channel": 0}, {"t": 2.0, "channel": 3}, {"t": 3.0, "channel": 3}]
    c = events.counts(tw, 4, 60.0)
    assert c == {"total": 3, "per_channel": [1, 0, 0, 2], "per_hour": [3]}


def test_rate_per_rest_hour_is_none_without_rest():
    assert events.per_rest_hour(10, 7200.0) == 5.0
    assert events.per_rest_hour(10, 0) is None and events.per_rest_hour(3, None) is None
    assert events.rounded(1 / 3) == 0.33 and events.rounded(None) is None


def test_a_night_belongs_to_the_evening_it_began():
    assert events.night_date(dt.datetime(2026, 3, 2, 2, 0).astimezone()) == "2026-03-01"
    assert events.night_date(dt.datetime(2026, 3, 1, 23, 0).astimezone()) == "2026-03-01"
    assert events.night_date(dt.datetime(2026, 3, 1, 13, 0).astimezone()) == "2026-03-01"
