"""The scorer: which detection is which true twitch."""
from firmware_host.scoring import score


def test_a_twitch_found_at_the_onset_of_another_unit_felt_as_it_is_found():
    # a scored twitch at 10.000 s and another motor unit's onset on its site
    # 13 ms later (closer than RESOLVE_S: one twitch, an onset of its own);
    # the detection at 10.012 s is that twitch found, not a miss plus an
    # excused detection (which the closest-first matching made of it when
    # the later onset was listed as not scored)
    truth = [{"t": 10.0, "channel": 1, "peak": 39.3, "also": [10.013]}]
    s = score([{"t": 10.012, "channel": 1}], truth, ignore=[{"t": 10.6, "channel": 1, "peak": 2.0}])
    assert (s["matched"], s["detected"], s["missed"]) == (1, 1, [])
    # found at the later onset only, beyond the tolerance of the first's
    late = [{"t": 10.0, "channel": 1, "peak": 39.3, "also": [10.12]}]
    s = score([{"t": 10.2, "channel": 1}], late)
    assert s["matched"] == 1 and s["precision"] == 1.0
    assert score([{"t": 10.2, "channel": 1}], [{"t": 10.0, "channel": 1}])["matched"] == 0
    # ... but not on another channel, nor past the tolerance of both
    assert score([{"t": 10.012, "channel": 2}], truth)["matched"] == 0
    assert score([{"t": 10.3, "channel": 1}], truth)["matched"] == 0
    # a second detection of the same twitch is a false alarm: one twitch, one count
    s = score([{"t": 10.0, "channel": 1}, {"t": 10.013, "channel": 1}], truth)
    assert (s["matched"], s["detected"], len(s["false_positives"])) == (1, 2, 1)


def test_truth_without_also_scores_as_before():
    truth = [{"t": 1.0, "channel": 0}, {"t": 2.0, "channel": 0}]
    s = score([{"t": 1.1, "channel": 0}, {"t": 2.2, "channel": 0}, {"t": 5.0, "channel": 0}], truth)
    assert (s["matched"], s["detected"], s["recall"], s["precision"]) == (1, 3, 0.5, round(1 / 3, 4))
