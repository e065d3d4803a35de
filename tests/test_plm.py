"""Periodic limb movements (WASM 2016) on hand-built movement lists, at
each rule's boundaries, against indices worked out by hand in the comments;
and the index stored with a night and shown where the issue asks."""
import pytest

from firmware_host import plm

LEGS = ["left", "left", "right", "right"]  # channels 0-1 left calf/thigh, 2-3 right
L, R, BOTH = [0], [2], [0, 2]
REST_1H = 3600.0


def mv(t, dur, channels=L):
    return {"t": t, "end": round(t + dur, 3), "channels": channels}


def series(onsets, dur=2.0, channels=L):
    return [mv(t, dur, channels) for t in onsets]


def index(movements, rest_s=REST_1H):
    return plm.plm_index(movements, LEGS, rest_s)


# -- duration: an LM is >= 0.5 s; a monolateral CLM at most 10 s ---------------

@pytest.mark.parametrize("dur,expected", [
    # 0.49 s is not an LM at all, so it breaks nothing: 0, 20, 60, 80 are four CLMs with
    # intervals 20, 40, 20 s, one series -> 4 PLM in 1 h of rest
    (0.49, 4.0),
    (0.5, 5.0),    # an LM and a CLM: 0, 20, 40, 60, 80 in series -> 5
    (10.0, 5.0),   # the longest monolateral CLM -> 5
    (10.1, 0.0),   # too long: not a CLM, and it ends the series -> 0, 20 and 60, 80: no series of 4
])
def test_the_middle_movement_s_duration_decides(dur, expected):
    ms = series([0, 20, 40, 60, 80])
    ms[2] = mv(40, dur)
    assert index(ms) == expected


# -- the onset-to-onset interval: 10-90 s inside a series ----------------------

@pytest.mark.parametrize("imi,expected", [
    (9.9, 0.0),    # every interval too short: no series
    (10.0, 4.0),   # exactly 10 s: 4 CLMs in series -> 4 per hour
    (90.0, 4.0),   # exactly 90 s -> 4
    (90.1, 0.0),   # too long -> none
])
def test_intervals_at_the_edges(imi, expected):
    assert index(series([round(i * imi, 3) for i in range(4)])) == expected


def test_one_short_interval_breaks_a_series_into_two_too_short_ones():
    # 0, 20, 40 | 45 (5 s after 40: breaks), 65, 85: two runs of 3 -> 0 PLM
    assert index(series([0, 20, 40, 45, 65, 85])) == 0.0
    # one more on the second run: 45, 65, 85, 105 is a series of 4 -> 4 PLM
    assert index(series([0, 20, 40, 45, 65, 85, 105])) == 4.0


def test_three_is_not_a_series_four_is():
    assert index(series([0, 30, 60])) == 0.0
    assert index(series([0, 30, 60, 90])) == 4.0


# -- bilateral merging -----------------------------------------------------------

def test_two_legs_overlapping_are_one_movement():
    # each of the 4 at 0, 20, 40, 60 is a left and a right LM that overlap: 4 bilateral CLMs -> 4 PLM
    # (scored apart they would be 8 LMs with 0-s intervals: no series at all)
    ms = []
    for t in (0, 20, 40, 60):
        ms += [mv(t, 2.0, L), mv(t + 1.0, 2.0, R)]
    s = plm.score(ms, LEGS)
    assert [m.bilateral for m in s.movements] == [True] * 4
    assert s.plm == 4 and index(ms) == 4.0


@pytest.mark.parametrize("gap,expected", [(0.49, 4.0), (0.5, 0.0)])
def test_two_legs_under_half_a_second_apart_are_one_movement(gap, expected):
    # right begins `gap` s after left ends: 0.49 s -> merged (4 bilateral CLMs, 20 s apart: 4 PLM);
    # 0.5 s -> two movements 2.5 s apart each time: intervals 2.5, 17.5, ... break every series
    ms = []
    for t in (0, 20, 40, 60):
        ms += [mv(t, 2.0, L), mv(round(t + 2.0 + gap, 3), 2.0, R)]
    assert index(ms) == expected


def test_one_span_over_both_legs_is_bilateral_and_may_last_15_s():
    # the detector reports one span with the channels it moved: 12 s over both legs is a bilateral CLM
    ms = series([0, 30, 60, 90], dur=12.0, channels=BOTH)
    assert index(ms) == 4.0
    # 12 s on one leg is too long for a monolateral CLM
    assert index(series([0, 30, 60, 90], dur=12.0, channels=L)) == 0.0
    # and over 15 s even bilateral is not a candidate
    assert index(series([0, 30, 60, 90], dur=15.1, channels=BOTH)) == 0.0
    assert index(series([0, 30, 60, 90], dur=15.0, channels=BOTH)) == 4.0


def test_index_is_per_hour_of_rest_and_none_without_rest():
    ms = series([0, 20, 40, 60, 80, 100])  # 6 PLM
    assert index(ms, rest_s=1800.0) == 12.0  # 6 in half an hour of rest
    assert index(ms, rest_s=0) is None
    assert index([], rest_s=3600.0) == 0.0


def test_a_worked_night_with_every_rule_at_once():
    """By hand: 
    A: 100, 120, 140, 160 (left, 2 s)            -> a series of 4
    B: 300 (left 11 s: not a CLM, breaks)        -> -
    C: 320, 340, 360 (3 only)                    -> none
    D: 1000 L+R overlapping, 1030, 1060, 1090, 1120 (bilateral each) -> a series of 5
    E: 2000, 2005 (IMI 5 s), 2025, 2045, 2065    -> 2005, 2025, 2045, 2065 is a series of 4
    PLM = 4 + 5 + 4 = 13 over 2 h of rest -> 6.5 per hour."""
    ms = series([100, 120, 140, 160]) + [mv(300, 11.0)] + series([320, 340, 360])
    for t in (1000, 1030, 1060, 1090, 1120):
        ms += [mv(t, 3.0, L), mv(t + 0.5, 3.0, R)]
    ms += series([2000, 2005, 2025, 2045, 2065], dur=1.0, channels=R)
    s = plm.score(ms, LEGS)
    assert [len(x) for x in s.series] == [4, 5, 4]
    assert plm.plm_index(ms, LEGS, 7200.0) == 6.5
