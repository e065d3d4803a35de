"""The daemon judges each sensor once a second by the detector's own tests
(its faults stage) and writes the states into the live ring, where Tonight
reads them: the page never imports the detector.  And the board's gain:
the real ADC's nights are judged with the v2 board's, simulated ones not."""
import argparse
from types import SimpleNamespace

import numpy as np

from firmware_host import frontend
from firmware_host.daemon.service import Daemon, live_writer
from firmware_host.live import LiveReader
from firmware_host.sampler import Block


def _daemon(tmp_path, source="sim"):
    args = argparse.Namespace(config=None, data_dir=str(tmp_path), source=source, channels=4, rate=1000.0,
                              always=False, seed=0)
    return Daemon(args)


def test_each_block_puts_the_sensors_states_into_the_live_ring(tmp_path):
    d = _daemon(tmp_path)
    d.night_wanted = False
    d.live = live_writer(d.store, d.ddir, 4, 1000.0)
    d.pub = SimpleNamespace(offer=lambda rec: None)
    rng = np.random.default_rng(3)
    t = np.arange(100) / 1000.0
    reader = LiveReader(d.live.path)
    try:
        assert reader.state()["status"] == ["ok"] * 4  # nothing judged yet
        for k in range(12):  # 1.2 s of 100-ms blocks: ok, railed, flat, ok
            x = np.stack([512 + 6 * rng.standard_normal(100) + 30 * np.sin(2 * np.pi * 1.3 * (t + k / 10)),
                          np.full(100, 1023.0), np.full(100, 511.0),
                          512 + 6 * rng.standard_normal(100)], axis=1)
            d.on_block(Block(100 * k, 0.1 * k, np.round(x).astype(np.uint16), 0))
        assert reader.state()["status"] == ["ok", "railed", "unplugged", "ok"]
        assert reader.state()["night_id"] is None
    finally:
        reader.close()
        d.live.close()
        d.store.close()


def test_the_real_adc_s_nights_carry_the_v2_board_s_gain(tmp_path):
    sim = _daemon(tmp_path / "a")
    adc = _daemon(tmp_path / "b", source="adc")
    try:
        assert sim.gain == 1.0
        lo, hi = frontend.gain_bounds()
        assert adc.gain == frontend.detector_gain() and lo <= adc.gain <= hi
    finally:
        sim.store.close()
        adc.store.close()
