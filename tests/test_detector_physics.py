"""The detector against the physics its first version assumed away, each on a
trace built for it (issue 12's diagnosis, points 1-5): every one of these
failed on the detector of 7b505e1.

The traces are the simulator's quiet nights (heartbeat, breathing, hum,
drift, noise; no twitches, no movements) with twitches and movements placed
by hand, so each test controls the one thing it is about.
"""
import numpy as np
import pytest

from firmware_host.simulator import Night
from twitchmon_testkit.nights import detect, open_with_movement, place, quiet_night, scored


def test_a_train_of_large_twitches_is_counted_not_taken_for_a_movement():
    # point 1: 2-4 large twitches within half a second, each with a moment of
    # slow swing, were one "movement" that blanked every channel for 5 s
    n = quiet_night(4, seed=41)
    train = []
    for t0 in (40.0, 95.0, 150.0, 205.0):  # left calf, left thigh, right calf: three within 0.3 s
        train += [(t0, 0, 45.0), (t0 + 0.15, 1, 55.0), (t0 + 0.3, 2, 65.0)]
    place(n, train)
    ev, _ = detect(n)
    s = scored(n, ev)
    assert ev.movements == [], [m.as_dict() for m in ev.movements]
    assert s["recall"] >= 11 / 12, s
    # (one more: a 5-code bump on the right thigh at a beat, as the right calf
    # twitches 40 times its noise; an echo needs the calf's waveform now, and
    # the bump is not it)
    assert s["detected"] <= 13, s


def test_twitches_on_both_legs_at_once_both_count():
    # point 2: sites twitch independently, so the two legs coincide by chance;
    # the both-legs rule took every such pair for a heartbeat remnant
    n = quiet_night(4, seed=42)
    pairs = []
    for k, t0 in enumerate(np.arange(30.0, 230.0, 20.0)):
        pairs += [(t0, 0, 20.0 + 2 * k), (t0 + 0.004 * k, 2, 18.0 + 3 * k)]  # left calf, right calf
    place(n, pairs)
    ev, _ = detect(n)
    s = scored(n, ev)
    assert s["recall"] >= 0.95, s
    assert s["precision"] >= 0.95, s


@pytest.mark.parametrize("hb_x_noise", [0.6, 1.5])
def test_a_heartbeat_at_or_below_the_noise_is_read_right_or_not_at_all(hb_x_noise):
    # point 3: noise peaks taken for beats as soon as the refractory period
    # ended read 141-150 bpm; a heart rate is right or unknown, never a guess
    n = quiet_night(5, seed=43)
    n.noise_sd = np.full(n.channels, 2.0)
    n.hb_amp = np.full(n.channels, hb_x_noise * 2.0)
    ev, det = detect(n)
    true_bpm = 60.0 / float(np.median(np.diff(n.beats)))
    if det.heart_rate_bpm is not None:
        assert abs(det.heart_rate_bpm - true_bpm) <= 2.0, (det.heart_rate_bpm, true_bpm)
    if hb_x_noise >= 1.0:
        assert det.heart_rate_bpm is not None, "a heartbeat as large as the noise is tracked"
    assert ev.twitches == []


@pytest.mark.parametrize("minutes, seed, first_s, every_s, k, move_end_s", [
    # point 4: the noise floor was learned from the opening movement (24-113
    # codes against 0.8 at rest) and frozen for minutes
    (5, 44, 40.0, 9.0, 28, 25.0),
    # a leg moving through the whole first chunk leaves no rest second to
    # learn the floor from; the quietest second of the movement stood in and
    # the floors at rest then crept down from it over minutes (on the
    # family's coincident night 20008, 65 of 126 twitches after the movement
    # lost; recall 0.63 here before the stand-in was forgotten at the first rest)
    (3, 46, 38.0, 3.0, 30, 31.0),
], ids=["movement-then-rest-in-the-first-chunk", "movement-filling-the-first-chunk"])
def test_a_night_opening_with_a_long_movement_counts_like_the_same_night_without_it(
        minutes, seed, first_s, every_s, k, move_end_s):
    rng = np.random.default_rng(seed)
    twitches = [(float(t), int(c), float(p)) for t, c, p in
                zip(first_s + every_s * np.arange(k), rng.integers(0, 4, k), rng.uniform(6, 20, k) if seed == 44
                    else rng.uniform(8, 25, k))]
    a = scored(place(quiet_night(minutes, seed=seed), twitches))
    b = scored(open_with_movement(place(quiet_night(minutes, seed=seed), twitches), move_end_s, rng))
    assert a["recall"] >= 0.95, a
    assert b["recall"] >= a["recall"] - 1 / k, (a, b)
    assert b["precision"] >= 0.95, b


def test_twitches_in_the_first_seconds_count():
    # point 5: nothing counted in the first 15 s; a twitch can come in the
    # first second of a recording
    n = place(quiet_night(2, seed=45), [(1.0, 0, 25.0), (3.2, 1, 15.0), (6.5, 2, 30.0), (11.0, 3, 20.0),
                                        (40.0, 0, 20.0)])
    ev, _ = detect(n)
    s = scored(n, ev)
    assert s["recall"] == 1.0, s
    assert s["precision"] == 1.0, s


def test_simulated_nights_through_the_v2_board_render_alike_in_any_blocks_and_carry_its_gain():
    # issue 19: the simulator models the v2 front end from the part table
    from firmware_host import frontend

    plain = Night(0.5, seed=7, profile="family", channels=2, rate_hz=1000.0)
    board = Night(0.5, seed=7, profile="family", channels=2, rate_hz=1000.0, board=True)
    whole = np.concatenate(list(board.blocks(30_000)))
    pieces = np.concatenate([board.render(s, 777) for s in range(0, board.n_samples, 777)])
    assert (whole == pieces).all()
    # in the board's pass band, with the ADC's noise made small, the signal
    # is the first board's times the gain: a first-board code is 3.22 mV at
    # the disc, the v2 board gives codes_per_mv codes per mV
    from scipy import signal as sps
    for n in (plain, board):  # a heartbeat well above the ADC's steps, nothing to drive the op-amp to its rails
        n.noise_sd = np.full(n.channels, 1e-3)
        n.hb_amp = np.full(n.channels, 20.0)
        n.movements, n.faults = [], []
        n._render_block.cache_clear()
        n._fe_state.clear()
    band = sps.butter(4, [6.0, 30.0], "bandpass", fs=1000.0, output="sos")
    a = sps.sosfiltfilt(band, np.concatenate(list(plain.blocks(30_000))).astype(float), axis=0)
    b = sps.sosfiltfilt(band, np.concatenate(list(board.blocks(30_000))).astype(float), axis=0)
    expected = frontend.codes_per_mv() * Night.V1_PER_CODE * 1000
    ratio = np.std(b, axis=0) / np.std(a, axis=0)
    assert (abs(ratio / expected - 1) < 0.25).all(), (ratio, expected)
