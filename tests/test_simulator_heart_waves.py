"""The simulator's pulse with a second wave (``Night(second_wave=True)``):
each beat's pulse followed by a later wave (the reflected wave after the
dicrotic notch) at ``wave2_delay_s``, ``wave2_share`` of the first; drawn
from a stream of its own, so the rest of the night is as without it.  Not
in the family's figures yet: benchmarks/detector_heart_waves.py measures
what it does to the count."""
import numpy as np
import pytest

from firmware_host.simulator import Night


def _pair(seed=21, profile="family", channels=2, rate_hz=500.0):
    one = Night(1.0, seed=seed, profile=profile, channels=channels, rate_hz=rate_hz)
    two = Night(1.0, seed=seed, profile=profile, channels=channels, rate_hz=rate_hz, second_wave=True)
    return one, two


def test_the_second_wave_follows_each_beat_at_its_delay_and_share():
    one, two = _pair()
    assert 0.3 <= two.wave2_share <= 0.8
    codes1 = one.render(0, one.n_samples).astype(float)
    codes2 = two.render(0, two.n_samples).astype(float)
    diff = codes2 - codes1  # the second waves alone (and their rounding)
    fs = two.rate_hz
    checked = 0
    for c in range(two.channels):
        for k in range(5, 40):
            centre = two.beats[k] + two.hb_delay[c] + 0.08 + two.beat_shift[k, c] + two.wave2_delay_s
            lo, hi = int((centre - 0.25) * fs), int((centre + 0.25) * fs)
            seg = np.abs(diff[lo:hi, c])
            if seg.max() < 3:  # rounding would hide where it peaks
                continue
            peak_s = (lo + int(seg.argmax())) / fs
            # a burst under a Gaussian envelope: its largest swing lies within
            # a couple of its widths of the centre, and is at most its size
            assert abs(peak_s - centre) < 2.5 * two.hb_sigma[c]
            assert seg.max() <= two.wave2_share * two.beat_gain[k, c] * two.hb_amp[c] + 1.0
            checked += 1
    assert checked >= 20
    # and nothing but the beats changed: away from every beat's waves the codes are the same
    t = np.arange(one.n_samples) / fs
    near = np.zeros(one.n_samples, dtype=bool)
    for b in two.beats:
        near |= (t > b - 0.3) & (t < b + 0.08 + 0.1 + two.wave2_delay_s + 0.4)
    assert np.array_equal(codes1[~near], codes2[~near])
    assert np.abs(diff[near]).max() > 0


def test_the_delay_shortens_as_the_heart_speeds_up_as_systole_does():
    # at 60 bpm 0.25-0.45 s, times the square root of the beat period (s):
    # over 500 nights the scaled delays fill that range and stay in it
    scaled, freq, share = [], [], []
    for seed in range(500):
        n = Night(0.05, seed=seed, profile="family", channels=1, rate_hz=250.0, second_wave=True)
        scaled.append(n.wave2_delay_s / np.sqrt(60.0 / n.hr_bpm))
        freq.append(n.wave2_freq)
        share.append(n.wave2_share)
    assert 0.25 <= min(scaled) < 0.2505 and 0.4495 < max(scaled) <= 0.45
    assert 0.6 <= min(freq) < 0.61 and 1.19 < max(freq) <= 1.2
    assert 0.3 <= min(share) < 0.31 and 0.79 < max(share) <= 0.8


def test_the_second_wave_has_a_random_stream_of_its_own():
    # pinned: night family 21 (2 channels, 500 Hz, 88.7 bpm) draws its
    # second wave from the stream [seed, 5] alone
    n = Night(0.05, seed=21, profile="family", channels=2, rate_hz=500.0, second_wave=True)
    assert (n.wave2_delay_s, n.wave2_share, n.wave2_freq) == pytest.approx((0.36808, 0.70797, 0.64359), abs=1e-5)


def test_the_rest_of_the_night_is_drawn_as_without_it():
    one, two = _pair(seed=33, profile="bursty", channels=4)
    t1, t2 = one.truth(), two.truth()
    assert t1 == t2
    assert one.wave2_share == 0.0 and two.wave2_share > 0


def test_only_the_familys_nights_take_a_second_wave():
    with pytest.raises(ValueError, match="family"):
        Night(0.2, seed=1, profile="normal", channels=1, rate_hz=250.0, second_wave=True)
