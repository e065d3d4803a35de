"""The sensor board's gain travels with a recording, so a replay judges it
as the live detector did (thresholds on what the body does scale with it)."""
import numpy as np

from firmware_host import frontend
from firmware_host.traces import EdfWriter, open_trace


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
