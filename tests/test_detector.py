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
    whole = events_for(codes, len(codes))
    assert whole[0], "the test night must have twitches"
    assert events_for(codes, 37) == whole
    assert events_for(codes, 1) == whole


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
