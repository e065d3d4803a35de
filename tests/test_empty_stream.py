"""A recording cut before its first whole record, and a stream with (almost)
nothing in it: one line and exit 2 for the file, no events and no crash
for the detector."""
import subprocess
import sys

import numpy as np

from firmware_host.detector import Detector
from firmware_host.traces import EdfWriter


def test_an_edf_cut_after_its_header_is_one_line_and_exit_2(tmp_path):
    full = tmp_path / "night.edf"
    w = EdfWriter(full, 250, ["Left calf", "Right calf"])
    w.write(np.full((2500, 2), 512, dtype=np.int32))
    w.close()
    data = full.read_bytes()
    cut = tmp_path / "cut.edf"
    header_bytes = int(data[184:192])  # the EDF header says how long it is
    cut.write_bytes(data[:header_bytes + 10])  # the whole header and a few bytes of the first record
    out = subprocess.run([sys.executable, "-m", "firmware_host.cli", "replay", str(cut)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and "no whole record" in out.stderr and "Traceback" not in out.stderr
    # with a good file beside it, the good one still completes
    out = subprocess.run([sys.executable, "-m", "firmware_host.cli", "replay", "--json", str(cut), str(full)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stdout.count("\n") == 1 and '"night.edf"' in out.stdout


def test_the_detector_ends_an_empty_or_tiny_stream_with_nothing():
    for n in (0, 1, 10, 249):
        det = Detector(rate_hz=1000.0, channels=3)
        if n:
            det.process(np.full((n, 3), 512))
        ev = det.finish()
        assert (ev.twitches, ev.movements) == ([], []) and det.rest_s == 0.0
