"""The sensor board's gain travels with a recording, so a replay judges it
as the live detector did (thresholds on what the body does scale with it)."""
import numpy as np

from firmware_host import frontend
from firmware_host.frontend_digital import to_codes
from firmware_host.simulator import Night
from firmware_host.traces import EdfWriter, open_trace
from twitchmon_testkit.nights import quiet_night


def _write(path, gain=None):
    kw = {} if gain is None else {"gain": gain}
    w = EdfWriter(path, 250, ["Left calf", "Right calf"], **kw)
    w.write(np.full((500, 2), 512, dtype=np.int32))
    w.close()


def test_edf_keeps_the_board_gain_and_first_board_files_read_as_one(tmp_path):
    g = frontend.detector_gain()
    _write(tmp_path / "v2.edf", g)
    _write(tmp_path / "v1.edf")
    with open_trace(tmp_path / "v2.edf") as r:
        assert abs(r.info.gain - g) < 0.01
    with open_trace(tmp_path / "v1.edf") as r:
        assert r.info.gain == 1.0


def test_the_v2_gain_is_the_boards_passband_gain_in_first_board_codes():
    # 1.68 V/V into a 2.5 V reference, against unity gain into 3.3 V
    assert abs(frontend.detector_gain() - frontend.passband_gain() * 3.3 / 2.5) < 1e-9
    lo, hi = frontend.gain_bounds()
    assert lo <= frontend.detector_gain() <= hi and 2.1 < frontend.detector_gain() < 2.3


def test_a_night_through_the_board_amplifies_the_sensors_noise_and_adds_the_adcs():
    # the noise a night draws (0.5-4 first-board codes) is mostly the
    # sensor's: the disc, the strap, the body.  It goes through the board's
    # gain and filters like a twitch does; only ADC_NOISE_LSB of it is the
    # converter's own, added after.  (Added after the board whole, as it
    # once was, the noise did not grow with the gain and the board's nights
    # looked cleaner than they would be.)
    fs, sd = 500.0, 3.0
    n = quiet_night(1, seed=5, channels=1, rate_hz=fs, board=True)
    n.noise_sd = np.array([sd])
    n.hb_amp[:] = 0
    n.hum[:] = 0
    n.breath_amp[:] = 0
    n.drift_gain = 0 * n.drift_gain
    got = np.concatenate(list(n.blocks(10_000))).astype(float)[2000:, 0].std()
    adc = Night.ADC_NOISE_LSB
    sensor = np.random.default_rng(1).standard_normal(n.n_samples) * np.sqrt(sd ** 2 - adc ** 2)
    through = to_codes(sensor * Night.V1_PER_CODE, fs).astype(float)[2000:]
    want = np.sqrt(through.std() ** 2 + adc ** 2)
    assert abs(got / want - 1) < 0.08, (got, want)


def test_the_detector_knows_how_little_slow_swing_the_v2_board_passes():
    # the v2 board's ~1 Hz high-pass passes under half of a leg's slow swing
    # (1 Hz against 10 Hz) and three quarters of a train of twitches' (2 Hz):
    # the train-of-twitches test scales by the train's, read from the
    # recording's gain (the board with gain is the v2 board)
    from firmware_host.detector import DetectorConfig
    assert 0.3 < frontend.detector_slow_share(1.0) < 0.6
    share = frontend.detector_slow_share()
    assert 0.65 < share < 0.85, share
    assert abs(share - abs(frontend.analog_response(2.0)) / abs(frontend.analog_response(10.0))) < 1e-12
    assert DetectorConfig().board_slow_share() == 1.0
    assert DetectorConfig(gain=frontend.detector_gain()).board_slow_share() == share
    assert DetectorConfig(gain=frontend.detector_gain(), slow_share=0.8).board_slow_share() == 0.8
