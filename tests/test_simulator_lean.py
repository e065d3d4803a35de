"""The simulator plays a night in the daemon (`run --source sim`, the demo):
it must make scipy's numbers without carrying scipy.signal (that it does
not load it: tests/test_detector_filters.py)."""
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

