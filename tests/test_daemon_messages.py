"""The daemon's jobs talk to its main loop through typed messages only."""
import argparse

from firmware_host.daemon.service import Daemon, DiskCheck, HealthCheck, Mark, NightWanted, ToggleNight
from firmware_host.sources import kind


def _daemon(tmp_path, **kw):
    args = argparse.Namespace(config=None, data_dir=str(tmp_path), source="sim", channels=None, rate=None,
                              always=False, seed=0)
    for k, v in kw.items():
        setattr(args, k, v)
    return Daemon(args)


def test_messages_change_the_loop_s_state_only_when_it_handles_them(tmp_path):
    d = _daemon(tmp_path)
    before = d.night_wanted
    d.post(ToggleNight())
    d.post(DiskCheck(True))
    d.post(Mark())
    d.post(HealthCheck())
    assert d.night_wanted == before and not d.low_disk  # nothing happens from another thread
    d.handle_messages()
    assert d.night_wanted is (not before) and d.low_disk and d.mark_due and d.health_due
    d.post(NightWanted(True))
    d.post(NightWanted(False))
    d.handle_messages()
    assert d.night_wanted is False  # in the order posted
    d.store.close()


def test_the_sources_registry_says_what_each_source_has(tmp_path):
    assert kind("adc").hardware and kind("adc").real_time_only
    assert kind("night.edf").rendered == "file" and kind("night.edf").sampler_reads == "feed"
    assert kind("emulator").rendered == "sim" and kind("emulator").sampler_reads == "emulator"
    d = _daemon(tmp_path, always=True, channels=2, rate=250.0)
    assert (d.channels, d.rate, d.night_wanted) == (2, 250.0, True)
    d.store.close()
