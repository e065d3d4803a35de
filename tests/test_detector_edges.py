"""Two edges where the detector counted what was not a twitch, each on a
trace built for it (both found on the simulator family's nights, both
failed before the fix):

- a lone glitch (one sample at a rail) under strong mains hum: the 3-point
  median put a neighbour in its place, off by up to the hum's swing, and
  the band-pass made that a twitch-sized spike (250 Hz sampling of 50 Hz
  hum, on the v2 board's gain, made a hundred a night);
- the end of a recording: the last beats are never tracked (the search
  waits for 1.7 periods that do not come), so what is left of them was
  counted as a twitch in the last second;

and the others below, each with what it cost on the family's nights.
"""
import numpy as np
import pytest

from firmware_host import frontend, plm
from firmware_host.detector import run_detector
from firmware_host.scoring import score
from firmware_host.simulator import Movement
from firmware_host.simulator.parts import Fault
from twitchmon_testkit.nights import detect, place, quiet_night, scored


@pytest.mark.parametrize("rate_hz", [250.0, 500.0])
def test_lone_glitches_under_strong_hum_are_not_counted(rate_hz):
    n = quiet_night(3, seed=7, rate_hz=rate_hz, channels=2)
    n.mains_hz = 50.0
    n.hum = np.array([40.0, 25.0])  # codes: a v2 board's gain on an unshielded lead
    rng = np.random.default_rng(3)
    k = int(n.duration_s)  # one glitch a second, alternately 0 and the top code
    n.glitch_idx = np.sort(rng.choice(n.n_samples, k, replace=False))
    n.glitch_ch = rng.integers(0, 2, k)
    n.glitch_val = np.where(np.arange(k) % 2, 1023, 0)
    # a board with gain 10: this much hum is what it picks up, not a fault
    ev, _ = run_detector(n.blocks(20_000), n.rate_hz, n.channels, gain=10.0)
    assert [(round(t.t, 2), t.channel) for t in ev.twitches] == []


def test_glitch_repair_follows_the_hum():
    from firmware_host.detector import front
    t = np.arange(2 + 2500)
    clean = 512 + 40 * np.sin(2 * np.pi * 50 * t / 250 + 0.4) + 0.01 * t
    ext = clean[None, :].astype(np.float32).copy()
    ext[0, 1001] = 0.0
    ext[0, 1702] = 1023.0
    med = front.median3(ext)
    lone = front._glitches(ext, med, [2500])
    assert lone[1].tolist() == [1001, 1702]
    out = front.repair_glitches(ext, lone, [2500], 250.0, 50.0)
    assert abs(out[0, 1001] - clean[1001]) < 0.5 and abs(out[0, 1702] - clean[1702]) < 0.5
    assert abs(med[0, 1000] - clean[1001]) > 10  # what the median alone gave: a neighbour's value


@pytest.mark.parametrize("rate_hz", [250.0, 1000.0])
def test_bursts_of_two_or_three_glitches_are_not_counted(rate_hz):
    """SPI errors come in bursts: two or three samples at a rail passed the
    3-point median, and their spike (a hundred codes and more through the
    band-pass) was counted (7 of the 68 false alarms on the family's tuning
    nights).  Bursts anywhere, one across every 30-s chunk's edge, between
    real twitches on the same sensor: the twitches count, the bursts do
    not, whatever the block size.  (Before: 107 of the 109 bursts counted,
    one or two of the 14 twitches lost.)"""
    n = quiet_night(3, seed=11, rate_hz=rate_hz, channels=2)
    place(n, [(t, 0, 25.0) for t in np.arange(7.0, 175.0, 12.0)], seed=4)
    rng = np.random.default_rng(5)
    fs = int(rate_hz)
    starts = list((np.arange(2.0, 178.0, 1.7) * fs).astype(int)) + [30 * fs * k - 1 for k in (1, 2, 3, 4, 5)]
    idx, ch, val = [], [], []
    for j, s0 in enumerate(starts):
        run = 2 + j % 2
        idx += range(s0, s0 + run)
        ch += [int(rng.integers(0, 2))] * run
        val += [1023 if j % 3 else 0] * run
    order = np.argsort(idx, kind="stable")
    n.glitch_idx, n.glitch_ch, n.glitch_val = (np.asarray(v)[order] for v in (idx, ch, val))
    got = {}
    for block in (7_777, 50_000):
        ev, _ = run_detector(n.blocks(block), n.rate_hz, n.channels)
        got[block] = [(round(t.t, 3), t.channel) for t in ev.twitches]
        sc = scored(n, ev)
        assert sc["matched"] == len(n.twitches) and sc["false_positives"] == [], (block, sc["false_positives"])
    assert got[7_777] == got[50_000]


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_the_last_beats_of_a_recording_are_not_counted(seed):
    n = quiet_night(2, seed=seed, channels=2)
    n.hb_amp = np.array([25.0, 18.0])  # a strong heartbeat, tracked all night
    x = np.concatenate(list(n.blocks(30_000)))
    for cut_s in (0.0, 0.3, 0.7, 1.1):  # the recording stops anywhere in a beat
        xx = x[:len(x) - int(cut_s * n.rate_hz)]
        ev, det = run_detector([xx], n.rate_hz, n.channels)
        assert det.heart_rate_bpm is not None
        assert [round(t.t, 2) for t in ev.twitches] == [], cut_s


def test_a_twitch_soon_after_another_on_its_site_counts():
    """A twitch followed by another on the same site 0.45-0.63 s later: the
    activity between them need not fall to the floor, so the pair was one
    region (one count) unless it lasted over 1 s; now a region over 300 ms
    is cut where its activity falls below 15% of its peak.  (Before: 23 of
    30 found; closer pairs are still often one count, docs/detector.md.)"""
    n = quiet_night(3, seed=21, channels=2)
    pairs = [(t0 + dt, 0, peak) for k, t0 in enumerate(np.arange(20.0, 170.0, 10.0))
             for dt, peak in ((0.0, 40.0), (0.45 + 0.02 * (k % 10), 45.0))]
    place(n, pairs, seed=5, stretch=0.8)
    s = scored(n)
    assert s["recall"] >= 0.85 and s["precision"] >= 0.95, s


def test_a_twitch_after_a_lull_in_a_long_twitchs_region_counts_at_its_own_onset():
    """A slow twitch (50 codes) and another on its site 0.5-0.77 s later
    (40 codes): the activity between them falls under 15% of the first's
    peak only briefly (under the 120 ms bridge), so the pair was one region,
    counted once at the first onset or at a relaxation lobe before the
    second.  A region is now also cut at a lull of 64 ms when the activity
    then rises as high as before (relaxation lobes shrink).  Before: 28 of
    45 second twitches found, 10 false alarms."""
    found, false = 0, 0
    for seed in (31, 32, 33):
        n = quiet_night(3, seed=seed, channels=2)
        pairs = [(t0 + dt, 0, peak) for k, t0 in enumerate(np.arange(20.0, 170.0, 10.0))
                 for dt, peak in ((0.0, 50.0), (0.5 + 0.03 * (k % 10), 40.0))]
        place(n, pairs, seed=seed, stretch=1.2)
        ev, _ = detect(n)
        found += sum(1 for t, c, p in pairs if p == 40.0
                     and any(d.channel == 0 and abs(d.t - t) < 0.15 for d in ev.twitches))
        false += len(scored(n, ev)["false_positives"])
    assert found >= 33 and false <= 6, (found, false)


def test_a_twitch_rising_out_of_the_last_ones_relaxation_counts():
    """A twitch (30 codes) and a bigger one on its site 0.2-0.3 s later (40
    codes), each a real time course at its drawn speed: the second begins
    while the first still relaxes, their activity never falls far between,
    and the pair was one part, counted once.  A part is now cut at the
    valley before a front that steps the band further in one sample than
    anything swung in the 0.12 s before it (a contraction is fast, a
    relaxation slow).  Before: 20 of 45 second twitches found; now 36."""
    found, false = 0, 0
    for seed in (61, 62, 63):
        n = quiet_night(3, seed=seed, channels=2)
        rng = np.random.default_rng(seed)
        pairs = [(t0 + dt, 0, peak) for t0 in np.arange(20.0, 170.0, 10.0)
                 for dt, peak in ((0.0, 30.0), (rng.uniform(0.2, 0.3), 40.0))]
        place(n, pairs, seed=seed)
        ev, _ = detect(n)
        found += sum(1 for t, c, p in pairs if p == 40.0
                     and any(d.channel == 0 and abs(d.t - t) < 0.1 for d in ev.twitches))
        false += len(scored(n, ev)["false_positives"])
    assert found >= 32 and false <= 3, (found, false)


def test_a_region_whose_peak_was_judged_on_the_last_chunks_floor_does_not_stop_the_night():
    """Family night 330022 through the v2 board (4 channels, 1 kHz: a fresh
    held-out night of the tenth session): a 5.6-s region began in the older
    chunk, whose floor was higher, so its peak's run was not a strong one,
    and its onset moved to a strong run after its peak; cutting the region
    from there found nothing above 15% of its peak and the detector raised
    (IndexError before this session, ValueError after the lull cut): the
    night's analysis lost.  The onset never passes the peak now."""
    from firmware_host import frontend
    from firmware_host.simulator import Night
    n = Night(10.0, seed=330022, profile="family", channels=4, rate_hz=1000.0, board=True)
    truth = n.truth()
    ev, _ = run_detector(n.blocks(50_000), n.rate_hz, n.channels, gain=frontend.detector_gain())
    s = score([x.as_dict() for x in ev.twitches], truth["twitches"], ignore=truth["ambiguous"])
    assert s["f1"] >= 0.9, s


def test_the_nights_heart_rate_needs_more_than_a_lucky_chunk_or_two():
    """A heartbeat at the noise can look confident in a chunk or two and
    read 8% off (found on a weak-heart night: 70.8 bpm said, 65.6 true):
    the night's rate is said only from 3 chunks and a tenth of those analysed."""
    from firmware_host.detector.heartbeat import BeatState
    st = BeatState.new(2, 10)
    fw = 125.0
    period = 60 * fw / 66.0  # working samples a beat at 66 bpm
    st.periods = [period] * 2
    assert st.heart_rate_bpm(fw, chunks=4) is None
    st.periods = [period] * 3
    assert st.heart_rate_bpm(fw, chunks=30) == 66.0
    assert st.heart_rate_bpm(fw, chunks=31) is None  # under a tenth of them
    st.periods = [period] * 4
    assert st.heart_rate_bpm(fw, chunks=40) == 66.0


def test_a_night_whose_chunks_found_the_beat_and_twice_its_period_has_an_unknown_heart_rate():
    """Found on a fresh held-out night through the v2 board (family 350004:
    six sensors at 250 Hz, a heartbeat at half the noise, 105 bpm): one
    confident chunk found the period, three found twice it, and the night
    read 52.6 bpm.  A heartbeat's envelope repeats at every multiple of its
    period: when confident chunks disagree 2:1 (within 15%), which one is
    the heart's cannot be told, and the rate is unknown."""
    from firmware_host.detector.heartbeat import BeatState
    from firmware_host.detector.params import HR_HARMONIC_TOL
    fw = 125.0
    st = BeatState.new(2, 10)
    p = 60 * fw / 105.0  # working samples a beat at 105 bpm
    st.periods = [p, 2.07 * p, 2.02 * p, 1.99 * p]
    assert st.heart_rate_bpm(fw, chunks=20) is None
    st.periods = [p, p * 1.02, p * 0.99]
    assert st.heart_rate_bpm(fw, chunks=20) == round(60 * fw / float(np.median(st.periods)), 1)
    # the edges: 2:1 within 15% (1.7-2.3) is a harmonic; further off it is not
    for ratio, unknown in ((1.69, False), (1.71, True), (2.29, True), (2.31, False)):
        st.periods = [p, p, p, ratio * p]
        assert (st.heart_rate_bpm(fw, chunks=20) is None) == unknown, ratio
    assert HR_HARMONIC_TOL == 0.15


def test_a_night_whose_confident_chunks_each_found_another_period_has_an_unknown_heart_rate():
    """Found on a fresh held-out night through the v2 board (family 370054:
    four sensors at 250 Hz, a heartbeat at 0.6x the noise, 119.6 bpm):
    three chunks of twenty were confident, at 133.9, 121.1 and 125.1 bpm,
    and the night read their median, 125.1.  The rate is said only when
    three confident chunks agree with the median within 2.5%."""
    from firmware_host.detector.heartbeat import BeatState
    from firmware_host.detector.params import HR_AGREE
    fw = 125.0
    st = BeatState.new(2, 10)
    st.periods = [60 * fw / bpm for bpm in (133.9, 121.1, 125.1)]
    assert st.heart_rate_bpm(fw, chunks=20) is None
    p = 60 * fw / 120.0
    # the edges: a period within 2.5% of the median agrees, one further off does not
    for off, known in ((0.0249, True), (0.0251, False)):
        st.periods = [p, p * (1 + off), p * (1 - off)]
        assert (st.heart_rate_bpm(fw, chunks=20) is not None) == known, off
    st.periods = [80.0, 82.0, 78.0]  # exactly 2.5% off the median (2 of 80 samples) still agrees
    assert st.heart_rate_bpm(fw, chunks=20) == 93.8
    st.periods = [p, p * 1.1, p * 0.9, p * 1.01, p * 0.99]  # two far off: three still agree
    assert st.heart_rate_bpm(fw, chunks=20) == 120.0
    assert HR_AGREE == 0.025


def test_the_heart_rate_comes_only_from_chunks_whose_period_stands_clear(monkeypatch):
    """Found on a fresh held-out night through the v2 board (family 630054:
    one sensor at 500 Hz, a heartbeat at 0.4x the noise, 110.8 bpm): the
    tracking came on and stayed on (down to a peak 0.15 over its trough)
    through chunks whose peak stood 0.19-0.34 clear, at 104.6-109.9 bpm,
    and the night read 105.9.  A peak that barely stands gives a period
    only roughly; the tracking may go on through it, but the heart rate
    comes only from chunks whose peak stands CONF_ON clear: there two, so
    unknown."""
    from firmware_host.detector import heartbeat
    from firmware_host.detector.heartbeat import BeatState
    from firmware_host.detector.params import CONF_OFF, CONF_ON, DetectorConfig, rates
    rt = rates(DetectorConfig(rate_hz=500.0))
    fw = rt.fw
    # (the night's chunks: 0.474 clear, then the four it tracked through)
    said = iter([(0.474, 104.8), (0.336, 104.6), (0.21, 109.9), (0.32, 106.5), (0.185, 105.3),
                 (CONF_ON, 105.0), (CONF_OFF, 105.5)])
    monkeypatch.setattr(heartbeat, "_peak", lambda ac, lo, hi, fw_: (lambda c, bpm: (c, 60 * fw / bpm))(*next(said)))
    st = BeatState.new(1, rt.L)
    e = 1.0 + np.random.default_rng(1).random((1, rt.chunk_w))
    rest, good = np.ones(rt.chunk_w, dtype=bool), np.array([True])
    tracked = []
    for k in range(5):
        st = heartbeat.evidence(e, rest, k * rt.chunk_w, good, 0, rt, st)
        tracked.append(st.on)
    assert tracked == [False, True, True, True, True]  # on once two clear chunks agree, and on through the weak
    assert [round(60 * fw / p, 1) for p in st.periods] == [104.6, 106.5]
    assert st.heart_rate_bpm(fw, chunks=20) is None
    for k in range(5, 7):  # a peak exactly CONF_ON clear counts; one at CONF_OFF keeps tracking, uncounted
        st = heartbeat.evidence(e, rest, k * rt.chunk_w, good, 0, rt, st)
        assert st.on
    assert [round(60 * fw / p, 1) for p in st.periods] == [104.6, 106.5, 105.0]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_bad_spell_on_one_sensor_at_a_fast_heart_is_counted(seed):
    """A twitch every 0.9-1.5 s for half a minute on the left calf, a heart
    of 100 bpm: most twitches fall in some beat's window.  The threshold on
    a subtracted beat was 3x the 75th percentile of the chunk's beats'
    window peaks, which the spell itself raised, so it hid the spell (5, 6
    and 6 of 24 found); now it is 3x, at each point of the beat, the median
    over the beats of what they leave there (18, 21 and 21 of 24)."""
    n = quiet_night(3, seed=seed, channels=2)
    n.hr_bpm = 100.0
    n.beats, n.beat_amp = n._plan_beats(np.random.default_rng(seed))
    n._beat_variation(None)
    n._finish_plan()
    n.hb_amp = np.array([6.0, 5.0])
    rng = np.random.default_rng(5)
    onsets = 62.0 + np.cumsum(np.concatenate([[0.0], rng.uniform(0.9, 1.5, 40)]))
    place(n, [(t, 0, rng.uniform(8, 20)) for t in onsets[onsets < 90.0]], seed=5)
    s = scored(n)
    assert s["recall"] >= 0.75 and s["precision"] >= 0.9, s


def test_sites_twitching_in_turn_are_not_a_movement():
    # a movement swings or shakes each sensor of the leg that moves, for
    # 0.5 s of slow swing or 2 s mostly filled with activity.  Eight sites
    # twitching in turn, twice each within 5 s (a bad spell everywhere), make
    # that much only all together; taken as one run they were a "movement"
    # that blanked every channel for 5 s (coincident night 20008 of the
    # family: 26 twitches lost)
    n = quiet_night(2, seed=47, channels=8)
    place(n, [(30.0 + 0.3 * k, k % 8, 40.0 + 2.0 * (k % 5)) for k in range(16)], stretch=1.0)
    ev, _ = detect(n)
    s = scored(n, ev)
    assert ev.movements == [], [m.as_dict() for m in ev.movements]
    assert s["recall"] >= 14 / 16, s
    assert s["precision"] == 1.0, s



@pytest.mark.parametrize("seed", [4, 5, 6])
def test_twitches_in_step_with_the_heart_count(seed):
    # a bad spell on one site: a twitch on each of six beats in a row, four
    # times a night.  Three candidates one or two periods apart on beats
    # were taken for a beat the subtraction missed; twitches have their own
    # shape, and only one shaped like the channel's beat is one (long-
    # followed and coincident nights of the family lost 50 this way)
    n = quiet_night(3, seed=seed, channels=2)
    rng = np.random.default_rng(seed)
    starts = [40.0, 80.0, 120.0, 160.0]
    ons = [float(b) + 0.12 for s in starts for b in n.beats[np.searchsorted(n.beats, s):][:6]]
    place(n, [(t, 0, rng.uniform(25, 45)) for t in ons], seed=seed, stretch=1.0)
    ev, _ = detect(n)
    ev.twitches = [tw for tw in ev.twitches if tw.channel == 0]  # the spell's sensor
    s = scored(n, ev)
    assert s["recall"] >= 0.85 and s["precision"] >= 0.95, s


def test_the_tail_of_a_twitch_begun_before_rest_is_not_a_twitch():
    # a slow twitch that begins while the detector still waits for rest
    # after a movement is not counted; its relaxation, 0.3-0.6 s later and
    # at rest, was counted as a twitch of its own (family night 10034)
    n = quiet_night(2, seed=8, channels=2)
    n.movements = [Movement(20.0, 23.0, [0, 1], 150.0, np.array([[1.0, 0.0, 1.0], [2.0, 1.0, 0.5]]))]
    ev, _ = detect(n)
    rest_from = ev.movements[0].end + 5.0  # settle_s after the movement's end
    counted = 0
    for k, lead in enumerate((0.05, 0.08, 0.2)):  # its onset 50-200 ms before rest
        m = quiet_night(2, seed=8, channels=2)
        m.movements = n.movements
        place(m, [(rest_from - lead, 0, 60.0)], seed=k, stretch=1.6)
        ev, _ = detect(m)
        counted += sum(1 for tw in ev.twitches if rest_from - 0.2 < tw.t < rest_from + 1.0)
    assert counted == 0


@pytest.mark.parametrize("seed", [11, 12])
def test_a_small_twitch_at_once_with_a_big_one_counts_and_its_crosstalk_does_not(seed):
    # every 6 s a big twitch on the left calf, felt on the left thigh at 40%
    # (crosstalk: its own waveform, 8 ms late); with every other one a small
    # twitch of its own on the thigh 50 ms later or on the right calf 40 ms
    # later.  Smaller than crosstalk can be, these were taken for echoes
    # (coincident nights of the family lost 54 on the tuning set); an echo
    # is the source's waveform at the source's time, a twitch has its own
    # onset.  (One of the same time course within 20 ms of the big one
    # cannot be told from its echo, nor always one riding on the echo in
    # the same region: limits, docs/detector.md.)
    n = quiet_night(3, seed=seed, channels=4)
    plan = []
    for k, t in enumerate(np.arange(20.0, 170.0, 6.0)):
        plan.append((t, 0, 60.0))
        if k % 2:
            plan.append((t + 0.05, 1, 20.0) if k % 4 == 1 else (t + 0.04, 2, 15.0))
    place(n, plan, seed=seed, stretch=1.0)
    for tw in n.twitches:
        if tw.channel == 0:
            tw.cross_channel, tw.cross_gain, tw.cross_delay = 1, 0.4, int(0.008 * n.rate_hz)
    ev, _ = detect(n)
    s = scored(n, ev)

    def found(c):
        return sum(1 for tw in n.twitches if tw.channel == c
                   and any(d.channel == c and abs(d.t - tw.t) < 0.15 for d in ev.twitches))
    assert found(2) >= 5, found(2)  # of 6 on the other leg
    # of 6 on the thigh, each riding on the calf's echo in one region: half
    # at least (one region that is mostly echo is still taken for one)
    assert found(1) >= 3, found(1)
    assert s["precision"] >= 0.95, s  # the echoes on the thigh are not counted


def _night_with_short_movements(seed, channels, breath_codes, sway_hz, dur_s, amp_codes):
    """A 3-min quiet night with a short movement every 20 s from 15 s, on
    each leg in turn (its sway: six components over ``sway_hz``; its
    length and size drawn over ``dur_s`` and ``amp_codes``): (night,
    movements, the rng, to draw more from)."""
    n = quiet_night(3, seed=seed, channels=channels)
    n.breath_amp[:] = breath_codes
    rng = np.random.default_rng(seed)
    moves = []
    for k, t in enumerate(np.arange(15.0, 170.0, 20.0)):
        leg = n.legs[k % len(n.legs)]
        chans = [c for c in range(n.channels) if n.legs[c] == leg]
        comps = np.column_stack([rng.uniform(*sway_hz, 6), rng.uniform(0, 2 * np.pi, 6), rng.standard_normal(6)])
        moves.append(Movement(float(t), float(t + rng.uniform(*dur_s)), chans, float(rng.uniform(*amp_codes)), comps))
    n.movements = moves
    return n, moves, rng


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_a_short_leg_movement_is_a_movement_not_a_twitch(seed):
    # a leg movement of 0.5-0.8 s (the shortest a sleep laboratory scores)
    # on a night whose breathing swings the slow band: too short to hold
    # 0.5 s of slow swing over the movement stage's threshold, its start
    # was counted as a twitch and the movement was lost (the periodic limb
    # movement count with it); 61 such false twitches on the tuning nights.
    # Its slow swing is as large as its band peak; a slow twitch's is not.
    n, moves, rng = _night_with_short_movements(seed, 4, 8.0, (0.3, 4.0), (0.5, 0.8), (60, 150))
    # and between them slow twitches (regions over 0.5 s) that must count
    place(n, [(t + 10.0, k % n.channels, rng.uniform(25, 60)) for k, t in enumerate(np.arange(15.0, 150.0, 20.0))],
          seed=seed, stretch=1.4)
    ev, _ = detect(n)
    s = scored(n, ev)
    reported = [m for m in moves if any(d.t < m.end + 0.5 and d.end > m.t - 0.5 and set(d.channels) & set(m.channels)
                                        for d in ev.movements)]
    counted = [tw.as_dict() for tw in ev.twitches if any(m.t - 1.0 < tw.t < m.end + 1.0 for m in moves)]
    assert s["recall"] == 1.0, s
    assert len(reported) >= 6, [m.as_dict() for m in ev.movements]  # of 8
    assert len(counted) <= 2, counted
    # every 20 s: a periodic limb movement series the doctor's report counts
    series = plm.score([m.as_dict() for m in ev.movements], n.legs)
    assert series.plm >= 6, [m.as_dict() for m in ev.movements]


@pytest.mark.parametrize("seed", [41, 42, 43])
def test_a_quick_leg_jerk_on_a_single_sensor_is_not_counted(seed):
    # a leg jerked for 0.6-0.9 s, its sway at 2.5-4.5 Hz: little of it in
    # the slow band (0.3-3 Hz), so the slow-swing test let it through, and
    # with no other sensor to share it the count took its lobes for
    # twitches (the small nights' false alarms: 27 such candidates on the
    # tuning nights through the first board, 53 through the v2).  Its band
    # signal is slow (under ~5 Hz) and sustained; a twitch's is fast and
    # falls within 0.1-0.3 s.  (Over seeds 41-48: 10 of 64 jerks counted,
    # against 37 before; a slow twitch lost on one seed either way.)
    n, moves, rng = _night_with_short_movements(seed, 1, 3.0, (2.5, 4.5), (0.6, 0.9), (40, 120))
    # slow twitches between them (regions over 0.5 s, 0.7 s stretched) must count
    place(n, [(t + 10.0, 0, rng.uniform(25, 60)) for t in np.arange(15.0, 150.0, 20.0)], seed=seed, stretch=1.4)
    ev, _ = detect(n)
    counted = [tw.as_dict() for tw in ev.twitches if any(m.t - 1.0 < tw.t < m.end + 1.0 for m in moves)]
    reported = [m for m in moves if any(d.t < m.end + 0.5 and d.end > m.t - 0.5 for d in ev.movements)]
    assert scored(n, ev)["recall"] == 1.0
    assert len(counted) <= 2, counted  # of 8 jerks
    assert len(reported) >= 6, [m.as_dict() for m in ev.movements]  # for the periodic limb movement count


def _trains_night(seed, board=False):
    """Three or four large slow twitches 0.15-0.3 s apart on one sensor every
    12 s, and a lone twitch on either sensor 3-5 s after each: the night and
    the lone twitches (onset s, channel, peak codes)."""
    n = quiet_night(3, seed=seed, channels=2, board=board)
    n.breath_amp[:] = 0.5  # codes: a still night, the slow threshold at its least
    rng = np.random.default_rng(seed)
    train, lone = [], []
    for t in np.arange(15.0, 170.0, 12.0):
        for j in range(int(rng.integers(3, 5))):
            train.append((t + j * rng.uniform(0.15, 0.3), 0, rng.uniform(50, 90)))
        lone.append((t + rng.uniform(3.0, 5.0), int(rng.integers(2)), rng.uniform(20, 40)))
    place(n, train + lone, seed=seed, stretch=1.3)
    return n, lone


def _lone_found(ev, lone):
    """How many of the ``lone`` twitches (onset s, channel, peak) ``ev`` found."""
    return sum(1 for t, c, _ in lone if any(d.channel == c and abs(d.t - t) < 0.15 for d in ev.twitches))


@pytest.mark.parametrize("seed", [31, 32, 33])
def test_a_train_of_slow_twitches_does_not_blank_the_seconds_after_it(seed):
    # three or four large slow twitches 0.15-0.3 s apart swing the slow
    # band past the movement's threshold for 0.5 s, and were taken for a
    # leg's movement: nothing counted for 5 s after (27 false movements on
    # the tuning nights cost 83 twitches).  A moving leg swings the slow
    # band about as far as the band or further; a train swings it a
    # fraction as far.  A lone twitch 3-5 s after each train must count.
    n, lone = _trains_night(seed)
    ev, _ = detect(n)
    assert len(ev.movements) <= 2, [m.as_dict() for m in ev.movements]  # of 13 trains
    assert _lone_found(ev, lone) >= 11, (_lone_found(ev, lone), len(lone))


def test_behind_the_v2_board_a_train_of_slow_twitches_is_no_movement_either():
    # the same trains through the v2 board.  Its ~1 Hz high-pass shrinks a
    # leg's slow swing (to 0.45 of the band's, at 1 Hz) more than a train's
    # (0.76, at 2 Hz); the train test's bar scaled by the leg's sat under
    # most trains (on the tuning nights 24 false movements, twitches lost for
    # 5 s after each).  Scaled by the train's: over these six seeds 26
    # movements of 78 trains and 50 of 78 lone twitches before, now 5 and 71.
    moves, found, lone_n = 0, 0, 0
    for seed in range(31, 37):
        n, lone = _trains_night(seed, board=True)
        ev, _ = run_detector(n.blocks(20_000), n.rate_hz, n.channels, gain=frontend.detector_gain())
        moves += len(ev.movements)
        found += _lone_found(ev, lone)
        lone_n += len(lone)
    assert moves <= 8, moves  # of 78 trains
    assert found >= 0.85 * lone_n, (found, lone_n)


def test_a_spell_of_twitches_on_several_sites_in_turn_is_no_movement():
    # four sites twitching in turn every 0.15-0.35 s for 2-2.8 s (a bad
    # spell; coincident nights of the family have them) chain into one run
    # of activity longer than a train, and half a second of the sites' slow
    # parts made it a movement: nothing counted for 5 s after (coincident
    # 20003 of the tuning nights lost 28 twitches so).  Each twitch's slow
    # part is a fraction of its own band peak; a moving leg's slow swing
    # stands as high as the band around it.  Over these six seeds 22
    # movements of 78 spells and 58 of 78 lone twitches before, now 9 and 70.
    moves, found, lone_n = 0, 0, 0
    for seed in range(51, 57):
        n = quiet_night(3, seed=seed, channels=4)
        n.breath_amp[:] = 0.5  # codes: a still night, the slow threshold at its least
        rng = np.random.default_rng(seed)
        spell, lone = [], []
        for t in np.arange(15.0, 170.0, 12.0):
            u, end = t, t + rng.uniform(2.0, 2.8)
            while u < end:
                spell.append((u, int(rng.integers(4)), rng.uniform(25, 60)))
                u += rng.uniform(0.15, 0.35)
            lone.append((u + rng.uniform(3.0, 5.0), int(rng.integers(4)), rng.uniform(20, 40)))
        place(n, spell + lone, seed=seed)
        ev, _ = detect(n)
        moves += len(ev.movements)
        found += _lone_found(ev, lone)
        lone_n += len(lone)
    assert moves <= 12, moves  # of 78 spells
    assert found >= 0.82 * lone_n, (found, lone_n)


@pytest.mark.parametrize("seed", [71, 72, 73])
def test_a_sensor_railed_for_most_of_the_night_does_not_stop_the_heartbeat(seed):
    # one sensor of four stuck at its rail from 25 s to 200 s (a lead
    # pulled half out): its clipping made every second of those chunks
    # "not at rest" for the heartbeat stage on all channels, so no beat was
    # tracked and none subtracted; on a fresh family night (490049, eight
    # sensors, beats 15-25x the noise) the beats of another sensor were then
    # counted as twitches, 93 of them in two minutes.  Only a good channel's
    # clipping (a moving leg) now stops the heartbeat's rest.
    n = quiet_night(4, seed=seed, channels=4)
    place(n, [(t, k % 3, 30.0) for k, t in enumerate(np.arange(20.0, 230.0, 15.0))], seed=seed)
    n.hb_amp = n.hb_amp * 2.5  # beats 20-40x the noise
    n.faults = [Fault(3, 25.0, 200.0, "railed")]
    ev, det = detect(n)
    s = scored(n, ev)
    assert det.heart_rate_bpm is not None and abs(det.heart_rate_bpm - n.hr_bpm) <= 2.0, (det.heart_rate_bpm, n.hr_bpm)
    assert s["recall"] >= 0.9 and len(s["false_positives"]) <= 1, s


@pytest.mark.parametrize("seed", [81, 82, 83])
def test_a_leg_movement_that_pulls_its_sensor_off_is_still_a_movement(seed):
    # a 10-s leg movement whose end pulls the sensor's lead out (unplugged
    # 109.9-190 s), on a one-sensor night with a strong heartbeat: a fault
    # anywhere in a 30-s chunk hid that channel from the movement stage for
    # the whole chunk, so the movement was lost (or cut into short ones),
    # the beat template was learned from its swings, and once the sensor
    # was back its beats were counted as twitches (a fresh family night,
    # 510031, counted six on a twitch-free night).  The movement stage now
    # leaves out only the fault's own seconds.
    n = quiet_night(4, seed=seed, channels=1)
    place(n, [(t, 0, 40.0) for t in np.arange(20.0, 230.0, 20.0) if not 95 < t < 200], seed=seed)
    n.hb_amp = n.hb_amp * 4  # beats 15-40x the noise
    rng = np.random.default_rng(seed)
    comps = np.column_stack([rng.uniform(0.3, 4.0, 6), rng.uniform(0, 2 * np.pi, 6), rng.standard_normal(6)])
    n.movements = [Movement(100.0, 110.0, [0], 400.0, comps)]
    n.faults = [Fault(0, 109.9, 190.0, "unplugged")]
    ev, det = detect(n)
    s = scored(n, ev)
    covered = sum(max(0.0, min(m.end, 110.0) - max(m.t, 100.0)) for m in ev.movements)
    assert covered >= 8.0, [m.as_dict() for m in ev.movements]  # s of the 10
    assert s["recall"] >= 0.9 and len(s["false_positives"]) <= 1, s
    assert det.heart_rate_bpm is not None and abs(det.heart_rate_bpm - n.hr_bpm) <= 2.0


@pytest.mark.parametrize("seed", [51, 52, 53])
def test_a_leg_movement_that_swings_its_sensors_through_the_rails_is_a_movement(seed):
    """A big leg movement of 0.8-1.5 s that swings both sensors of the leg
    through the ADC's rails (45-85% of it at a rail): the sensor check
    calls those seconds railed, and the movement stage left a fault's
    seconds out, so the movement was lost (1, 0 and 1 of 3 reported on
    these seeds) and with it the periodic limb movement count.  Spells at
    a rail shorter than 1.5 s are a leg swinging its sensor through it;
    a sensor stuck at a rail for 20 s is a fault, not a movement, and nor
    is the slow band's ringing from its step once it is back (a 0.7-s
    "movement" 3 s after it, on two of these seeds, before)."""
    n = quiet_night(3, seed=seed, channels=2)
    place(n, [(t, k % 2, 40.0) for k, t in enumerate(np.arange(12.0, 175.0, 13.0))], seed=seed)
    rng = np.random.default_rng(seed)
    moves = []
    for t0 in (43.0, 98.0, 153.0):
        comps = np.column_stack([rng.uniform(0.3, 4.0, 6), rng.uniform(0, 2 * np.pi, 6), rng.standard_normal(6)])
        moves.append(Movement(t0, t0 + rng.uniform(0.8, 1.5), [0, 1], 3000.0, comps))
    n.movements = moves
    n.faults = [Fault(1, 110.4, 130.4, "railed")]  # stuck, from mid-second
    n.twitches = [tw for tw in n.twitches
                  if not any(m.t - 1 < tw.t < m.end + 5 for m in moves) and not 109.0 < tw.t < 134.0]
    n._finish_plan()
    x = np.concatenate(list(n.blocks(30_000)))
    fs = int(n.rate_hz)
    for m in moves:  # the movements do take the sensors to the rails
        seg = x[int(m.t * fs):int(m.end * fs)]
        assert ((seg <= 0) | (seg >= 1023)).mean() > 0.3
    ev, _ = run_detector([x], n.rate_hz, n.channels)
    s = scored(n, ev)
    reported = [m for m in moves if any(d.t < m.end + 0.5 and d.end > m.t - 0.5 for d in ev.movements)]
    assert len(reported) == 3, [d.as_dict() for d in ev.movements]
    assert not [d for d in ev.movements if d.end > 109.0 and d.t < 134.0], [d.as_dict() for d in ev.movements]
    assert any(f["channel"] == 1 and f["status"] == "railed" for f in ev.faults)
    assert s["recall"] == 1.0 and len(s["false_positives"]) <= 2, s  # (faint ones, 3 codes, at the noise)


def test_only_short_spells_at_a_rail_inside_the_chunk_are_a_swinging_leg():
    from firmware_host.detector.movement import STUCK_S, swinging_clip
    fw = 125.0
    stuck = int(round(STUCK_S * fw))
    clip = np.zeros((2, 1000), dtype=bool)
    clip[0, 0:10] = True  # from the chunk's first sample: may have begun before it
    clip[0, 100:120] = True  # short, inside: a swing
    clip[0, 300:300 + stuck] = True  # as long as stuck: a fault
    clip[0, 990:1000] = True  # to the chunk's last sample: may go on
    clip[1, 1:30] = True  # from the second sample: inside
    clip[1, 500:500 + stuck - 1] = True  # just shorter than stuck
    got = swinging_clip(clip, fw)
    assert got[0].nonzero()[0].tolist() == list(range(100, 120))
    assert got[1].nonzero()[0].tolist() == list(range(1, 30)) + list(range(500, 500 + stuck - 1))
    assert not swinging_clip(np.zeros((3, 50), dtype=bool), fw).any()


@pytest.mark.parametrize("seed", [31, 33])
def test_a_sensor_with_hum_on_its_cable_still_counts(seed):
    # the left calf's cable picks up 7.5 codes of mains (the family draws
    # 0.2-8) over a quiet sensor (about 0.5 codes of noise): mains is most of
    # its signal, but the sensor works.  Taken for a loose lead, it was
    # excluded for minutes at a time, its twitches lost and their echoes on
    # the thigh counted (a held-out family seed lost most of a night this
    # way).  It counts as the same night does with 0.5 codes of hum.
    def night(hum_codes):
        n = quiet_night(4, seed=seed, channels=2)
        n.legs = ["left", "left"]
        n.hum = np.array([hum_codes, 0.5])
        place(n, [(t, 0, 30.0) for t in np.arange(15.0, 230.0, 9.0)], seed=seed, stretch=1.0)
        for tw in n.twitches:
            tw.cross_channel, tw.cross_gain, tw.cross_delay = 1, 0.3, int(0.006 * n.rate_hz)
        return n
    n = night(7.5)
    ev, _ = detect(n)
    assert not [f for f in ev.faults if f["status"] != "ok"], ev.faults[:4]
    s, quiet = scored(n, ev), scored(night(0.5))
    assert s["matched"] >= quiet["matched"] - 1 and s["detected"] <= quiet["detected"] + 1, (s, quiet)
    assert s["recall"] >= 0.9, s


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_faint_twitch_on_a_quiet_night_counts(seed):
    # twitches of 2.8 codes over about half a code of noise: their 40 ms
    # activity peaks 8-11 noise floors high.  Those between 8 and 9 floors
    # are far above the noise (whose activity is under one floor) and,
    # alone on a quiet sensor, unlike a beat and as long as a twitch, they
    # count; every one counted is a twitch
    n = quiet_night(4, seed=seed, channels=2)
    place(n, [(t, 0, 2.8) for t in np.arange(15.0, 230.0, 9.0)], seed=seed, stretch=1.0)
    ev, det = detect(n)
    s = scored(n, ev)
    assert s["precision"] == 1.0, s
    faint = [x for x in ev.twitches if x.snr < det.cfg.threshold_factor()]
    assert len(faint) >= 2, sorted(x.snr for x in ev.twitches)
    assert min(x.snr for x in faint) >= det.cfg.faint_factor()
