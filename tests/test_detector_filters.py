"""The detector's filters are scipy.signal's, without importing scipy.signal."""
import subprocess
import sys

import numpy as np
import pytest
from scipy import signal as sps

from firmware_host.detector import filters


def test_design_table_is_what_scipy_makes_today():
    """_designs.py is generated; regenerating it with this scipy gives the same text."""
    from pathlib import Path
    assert filters.generate() == Path(filters.__file__).with_name("_designs.py").read_text()


@pytest.mark.parametrize("ff", [250.0, 200.0, 180.0])
def test_designs_equal_scipy_for_table_and_other_rates(ff):
    fw = ff / 2
    assert np.array_equal(filters.design("band", ff),
                          sps.butter(2, [3.0, min(35.0, 0.4 * ff)], "bandpass", fs=ff, output="sos"))
    assert np.array_equal(filters.design("lf", fw), sps.butter(2, [0.3 / (fw / 2), 3.0 / (fw / 2)], "bandpass",
                                                               output="sos"))
    assert np.array_equal(filters.design("env", fw), sps.butter(2, 5.0 / (fw / 2), output="sos"))
    b, a = sps.iirnotch(60.0, 20.0, fs=ff)
    assert np.array_equal(filters.design("notch", ff, 60.0), sps.tf2sos(b, a))
    sos = np.vstack([filters.design("band", ff), filters.design("notch", ff, 60.0)])
    assert np.array_equal(filters.sosfilt_zi(sos), sps.sosfilt_zi(sos))


def test_sosfilt_is_scipys_bit_for_bit_and_carries_state():
    rng = np.random.default_rng(3)
    x = rng.normal(512, 30, (3, 2000))
    sos = np.vstack([filters.design("band", 250.0), filters.design("notch", 250.0, 50.0)])
    zi = sps.sosfilt_zi(sos)[:, None, :] * x[:, 0][None, :, None]
    want, wz = sps.sosfilt(sos, x, axis=1, zi=zi)
    # in two pieces, the state carried between them
    y1, z1 = filters.sosfilt(sos, x[:, :777], zi)
    y2, z2 = filters.sosfilt(sos, x[:, 777:], z1)
    assert np.array_equal(np.concatenate([y1, y2], axis=1), want)
    assert np.array_equal(z2, wz)
    assert np.array_equal(zi, sps.sosfilt_zi(sos)[:, None, :] * x[:, 0][None, :, None])  # input state untouched


def test_find_peaks_matches_scipy_with_plateaus_and_distance():
    rng = np.random.default_rng(5)
    for trial in range(40):
        x = np.round(rng.normal(0, 1, 600).cumsum() * (0.5 + trial % 3), 0 if trial % 2 else 3)
        for dist in (1, 5, 15):
            want, props = sps.find_peaks(x, height=0.25, distance=dist)
            got, heights = filters.find_peaks(x, 0.25, dist)
            assert got.tolist() == want.tolist(), (trial, dist)
            assert heights.tolist() == props["peak_heights"].tolist()


@pytest.mark.parametrize("code", [
    # the detector (the daemon imports it)
    "import numpy as np; from firmware_host.detector import run_detector;"
    "run_detector([np.full((20000, 2), 512) + np.arange(20000)[:, None] % 7], 1000.0, 2)",
    # the daemon, and the waveform snippets it makes at an hour's end
    "import numpy as np; import firmware_host.daemon; from firmware_host.detector import filters;"
    "filters.sosfiltfilt(filters.design('band', 1000.0), np.arange(500.0) % 7)",
    # the simulator that plays a night in the daemon (run --source sim, the demo)
    "from firmware_host.simulator import Night; n = Night(0.5, seed=3, profile='hard'); [b for b in n.blocks(4096)]",
])
def test_what_the_daemon_runs_does_not_load_scipy_signal(code):
    """scipy.signal (with the optimize it imports) costs ~75 MB on a 512-MB
    board, scipy.ndimage ~28 MB (a moving maximum is numpy's to do)."""
    code += ("; import sys; print(sorted(m for m in sys.modules"
             " if m.startswith(('scipy.signal', 'scipy.optimize', 'scipy.ndimage'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['scipy.signal._sosfilt']"


@pytest.mark.parametrize("rate", [250.0, 500.0, 1000.0, 2000.0])
def test_sosfiltfilt_is_scipys_bit_for_bit(rate):
    rng = np.random.default_rng(int(rate))
    sos = filters.design("band", rate)
    assert np.array_equal(sos, sps.butter(2, [3.0, 35.0], "bandpass", fs=rate, output="sos"))
    for n in (16, 100, 2250):
        x = rng.normal(0, 20, n).cumsum()
        assert np.array_equal(filters.sosfiltfilt(sos, x), sps.sosfiltfilt(sos, x)), n
    with pytest.raises(ValueError):
        filters.sosfiltfilt(sos, np.zeros(15))

