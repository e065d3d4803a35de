"""The simulator plays a night in the daemon (`run --source sim`, the demo):
it must make scipy's numbers without carrying scipy.signal."""
import subprocess
import sys

import numpy as np
from scipy import signal as sps

from firmware_host.detector import filters
from firmware_host.simulator.parts import _piezo_highpass


def test_piezo_highpass_is_scipys_butter_and_lfilter_bit_for_bit():
    rng = np.random.default_rng(4)
    x = rng.standard_normal(3000)
    for rate in (200.0, 250.0, 333.0, 500.0, 1000.0, 2000.0):
        for fc in rng.uniform(2.0, 15.0, 25):
            b, a = sps.butter(1, fc / (rate / 2), "high")
            sos = _piezo_highpass(fc, rate)
            assert np.array_equal(sos[0, :2], b) and np.array_equal(sos[0, 3:5], a), (rate, fc)
            y, _ = filters.sosfilt(sos, x[None, :], np.zeros((1, 1, 2)))
            assert np.array_equal(y[0], sps.lfilter(b, a, x)), (rate, fc)


def test_playing_a_night_does_not_load_scipy_signal():
    code = ("import sys; from firmware_host.simulator import Night;"
            "n = Night(0.5, seed=3, profile='hard'); [b for b in n.blocks(4096)];"
            "print(sorted(m for m in sys.modules if m.startswith('scipy.signal')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['scipy.signal._sosfilt']"
