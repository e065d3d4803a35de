"""The detector: block-size independence and what it must refuse."""
import numpy as np
import pytest

from firmware_host.detector import Detector, DetectorConfig, run_detector
from firmware_host.scoring import score
from firmware_host.simulator import Night


def events_for(codes, block):
    det = Detector(DetectorConfig(rate_hz=1000, channels=codes.shape[1]))
    tw, mv = [], []
    for i in range(0, len(codes), block):
        ev = det.process(codes[i:i + block])
        tw += [t.as_dict() for t in ev.twitches]
        mv += [m.as_dict() for m in ev.movements]
    ev = det.finish()
    tw += [t.as_dict() for t in ev.twitches]
    mv += [m.as_dict() for m in ev.movements]
    return tw, mv, det.rest_s


def test_same_events_for_any_block_size():
    night = Night(1.5, seed=5, profile="hard", twitches_per_min=8)
    codes = np.concatenate(list(night.blocks(10_000)))
    whole = events_for(codes, len(codes))  # all three chunks through the front end at once
    assert whole[0], "the test night must have twitches"
    assert events_for(codes, 37) == whole
    assert events_for(codes, 1) == whole
    # the codes as int16 (as replay reads an EDF) give the same events
    assert events_for(codes.astype(np.int16), 7919) == whole


def test_same_events_when_blocks_overrun_the_front_end_batch(monkeypatch):
    # a block longer than the front end takes at once leaves whole chunks and
    # a part-chunk behind in the buffer; they must carry over exactly
    night = Night(1.5, seed=5, profile="hard", twitches_per_min=8)
    codes = np.concatenate(list(night.blocks(10_000)))
    whole = events_for(codes, len(codes))
    monkeypatch.setattr(Detector, "batch_chunks", 2)
    assert events_for(codes, len(codes)) == whole
    assert events_for(codes, 45_001) == whole


@pytest.mark.parametrize("seed", [31, 32])
def test_night_without_twitches_counts_zero(seed):
    night = Night(8, seed=seed, profile="quiet")
    assert not night.twitches
    ev, det = run_detector(night.blocks(20_000), night.rate_hz, night.channels)
    assert ev.twitches == []
    assert det.heart_rate_bpm == pytest.approx(night.hr_bpm, abs=3)


def test_heartbeat_as_large_as_twitches_is_not_counted():
    night = Night(6, seed=33, profile="quiet")
    night.hb_amp[:] = 14.0  # larger than the smallest twitches
    ev, det = run_detector(night.blocks(20_000), night.rate_hz, night.channels)
    assert ev.twitches == []


def test_counts_twitches_on_a_normal_night():
    night = Night(8, seed=34)
    ev, det = run_detector(night.blocks(20_000), night.rate_hz, night.channels)
    s = score([t.as_dict() for t in ev.twitches], night.truth()["twitches"])
    assert s["true"] > 10
    assert s["f1"] >= 0.9
    assert det.mains_hz == night.mains_hz


def test_glitches_and_hum_alone_count_zero():
    rng = np.random.default_rng(0)
    n = 120_000
    t = np.arange(n) / 1000
    x = 512 + 30 * np.sin(2 * np.pi * 50 * t)[:, None] * [1, 0.5] + rng.normal(0, 0.6, (n, 2))
    x[rng.integers(0, n, 300), rng.integers(0, 2, 300)] = rng.choice([0, 1023], 300)
    ev, det = run_detector([np.clip(np.rint(x), 0, 1023)], 1000, 2)
    assert ev.twitches == []
    assert det.mains_hz == 50.0


def test_railed_and_unplugged_channels_are_flagged_and_never_count():
    night = Night(4, seed=35, twitches_per_min=6)
    codes = np.concatenate(list(night.blocks(20_000))).astype(float)
    codes[60_000:180_000, 0] = 1023  # railed for two minutes
    codes[60_000:180_000, 2] = 512  # unplugged, flat
    ev, det = run_detector([codes], 1000, 4)
    statuses = {(f["channel"], f["status"]) for f in ev.faults}
    assert (0, "railed") in statuses and (2, "unplugged") in statuses
    assert not [t for t in ev.twitches if t.channel in (0, 2) and 60 <= t.t <= 183]


def test_movement_is_listed_and_nothing_counts_during_it():
    night = Night(6, seed=36, profile="hard")
    ev, det = run_detector(night.blocks(20_000), night.rate_hz, night.channels)
    assert night.movements and ev.movements
    for m in ev.movements:
        assert not [t for t in ev.twitches if m.t - 0.5 <= t.t <= m.end + 5]
    assert det.rest_s < night.duration_s - sum(m.end - m.t for m in night.movements)


# -- the numeric helpers the detector uses in place of numpy's slower calls ----

def test_helpers_match_numpy():
    from firmware_host.detector import arrays as d
    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 8, 9, 250, 251):
        x = rng.standard_normal((4, n)) * 30
        assert np.array_equal(d.median_rows(x.copy()), np.median(x, axis=1)), n
        if n >= 2:
            assert np.array_equal(d.second_smallest(x.T.copy()), np.sort(x.T, axis=0)[1]), n
        if n >= 3:
            assert np.array_equal(d.gradient(x), np.gradient(x, axis=1)), n
            ref = np.stack([[np.median(r[i:i + 3]) for i in range(n - 2)] for r in x])
            assert np.array_equal(d.median3(x), ref), n
    x = rng.standard_normal((4, 300)) * 30
    for w in (2, 5, 6):
        ref = np.stack([np.convolve(r, np.ones(w) / w, mode="same") for r in x])
        np.testing.assert_allclose(d.moving_mean(x, w), ref, rtol=0, atol=1e-12)
    vals = rng.standard_normal((50, 4))
    mask = rng.random((50, 4)) > 0.3
    mask[0] = False
    got = d.masked_median(vals, mask)
    for row, m, g in zip(vals, mask, got):
        assert g == (np.median(row[m]) if m.any() else 0.0)
