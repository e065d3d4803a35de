"""The sampler's own process: what it imports, how blocks cross over, how it
sleeps, and what happens when real-time priority is refused (timing
figures: benchmarks/bench_sampler.py)."""
import ctypes
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from firmware_host.adc import decode
from firmware_host.clock import TIMER_SLACK_NS, FakeClock, MonotonicClock, set_timer_slack
from firmware_host.sampler_process import SamplerProcess, sample_loop
from firmware_host.sources import Source, TableSpi

HEAVY = ("numpy", "scipy", "flask", "werkzeug", "edfio", "mne", "apscheduler", "firmware_host.detector",
         "firmware_host.simulator", "firmware_host.traces", "firmware_host.store", "web")


def _heavy(modules):
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("spec", ["table", "sim", "emulator"])
def test_the_sampler_process_imports_only_what_it_needs(spec):
    sp = SamplerProcess(spec, 4, 1000.0, report_modules=True, rt_priority=0).start()
    try:
        assert sp.get(5.0) is not None
    finally:
        sp.stop()
    assert "firmware_host.adc" in sp.hello["modules"] and "firmware_host.sampler" not in sp.hello["modules"]
    assert _heavy(sp.hello["modules"]) == []


def _table_frames(n, channels=4):
    """What TableSpi answers, decoded: the frames the sampler must hand over, in order."""
    spi = TableSpi(channels)
    raw = bytes(spi._table)
    rows = [[decode(raw[3 * (k * channels + c):3 * (k * channels + c) + 3]) for c in range(channels)]
            for k in range(spi._frames)]
    return np.array([rows[k % len(rows)] for k in range(n)], dtype=np.uint16)


def test_blocks_cross_the_shared_ring_whole_and_in_order():
    sp = SamplerProcess("table", 4, 1000.0, rt_priority=0).start()
    got, index = [], []
    try:
        while sum(len(c) for c in got) < 1500:
            b = sp.get(5.0)
            assert not b.codes.flags.writeable  # a view of the ring: nobody writes into the sampler's slots
            index.append((b.first_index, len(b.codes)))
            got.append(b.codes.copy())
    finally:
        st = sp.stop()
    x = np.vstack(got)
    assert np.array_equal(x, _table_frames(len(x)))  # every frame read, in order, none torn or repeated
    # indices advance by the block's length, or jump by exactly the periods the sampler says it missed
    jumps = sum(b - (a + n) for (a, n), (b, _) in zip(index, index[1:]))
    assert jumps >= 0 and (jumps == 0 or st["missed"] >= jumps)
    assert st["frames"] >= len(x) and st["dropped_blocks"] == 0


def test_a_stalled_reader_costs_dropped_blocks_never_overwritten_ones():
    sp = SamplerProcess("table", 4, 1000.0, queue_blocks=4, rt_priority=0).start()
    try:
        first = sp.get(5.0)
        keep = first.codes.copy()
        time.sleep(1.5)  # 15 blocks sampled, 4 slots: the sampler must drop, not overwrite
        assert np.array_equal(first.codes, keep)
        later = [sp.get(5.0) for _ in range(6)]
    finally:
        st = sp.stop()
    assert st["dropped_blocks"] >= 5
    starts = [first.first_index] + [b.first_index for b in later]
    assert any(b - a > 100 for a, b in zip(starts, starts[1:]))  # the drop shows as a jump, filled by the daemon


def test_a_sampler_that_cannot_open_its_adc_is_one_error_at_start(tmp_path):
    from firmware_host.adc import ADCError
    if os.path.exists("/dev/spidev0.0"):
        pytest.skip("this machine has an SPI device")
    with pytest.raises(ADCError, match="spidev"):
        SamplerProcess("adc", 4, 1000.0, rt_priority=0).start()


def test_sleeps_are_absolute_never_early_and_the_timer_slack_is_ours():
    c = MonotonicClock()
    if not sys.platform.startswith("linux"):
        pytest.skip("clock_nanosleep is Linux's")
    assert c.absolute
    t0 = c.monotonic()
    for k in range(1, 50):
        c.sleep_until(t0 + k * 0.001)
        assert c.monotonic() >= t0 + k * 0.001
    assert set_timer_slack(TIMER_SLACK_NS)
    libc = ctypes.CDLL(None)
    assert libc.prctl(30, 0, 0, 0, 0) == TIMER_SLACK_NS  # PR_GET_TIMERSLACK


class _Counter(Source):
    channels, rate_hz = 1, 1000.0

    def read_frame(self):
        return [1]


def test_lateness_is_reported_as_percentiles():
    # every 10th read takes 1.3 ms: the frame after it is read 0.3 ms late, the others on time
    stats = sample_loop(_Counter(), lambda b: None, clock=FakeClock(work=lambda k: 0.0013 if k % 10 == 0 else 0.0),
                        max_frames=2000)
    d = stats.as_dict()
    assert d["missed"] == 0 and d["late_p50_ms"] <= 0.01 and 0.3 <= d["late_p99_ms"] <= 0.31
    assert d["worst_late_ms"] == pytest.approx(0.3)


def _no_sys_nice():
    if os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("prlimit"):
        pytest.skip("needs root, setpriv and prlimit to take the right to real-time priority away")
    return ["setpriv", "--inh-caps=-sys_nice", "--bounding-set=-sys_nice", "prlimit", "--rtprio=0"]


def test_refused_realtime_priority_is_said_once_in_the_journal(tmp_path):
    cmd = _no_sys_nice() + [sys.executable, "-m", "firmware_host.cli", "run", "--source", "sim", "--always",
                            "--data-dir", str(tmp_path)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        t_end = time.monotonic() + 60
        while not list(tmp_path.glob("recordings/*/*.edf")) and time.monotonic() < t_end and p.poll() is None:
            time.sleep(0.2)
        time.sleep(1.0)
    finally:
        p.terminate()
        out, err = p.communicate(timeout=60)
    said = [ln for ln in err.splitlines() if "real-time priority" in ln]
    assert len(said) == 1 and "refused" in said[0], err[-2000:]
    stats = next(ln for ln in out.splitlines() if ln.startswith("twitchmon: sampler "))
    assert "refused" in stats


def test_granted_realtime_priority_says_nothing():
    if os.geteuid() != 0:
        pytest.skip("needs root for SCHED_FIFO")
    sp = SamplerProcess("table", 4, 1000.0).start()
    sp.stop()
    assert sp.realtime and sp.priority.startswith("SCHED_FIFO")


def test_the_page_says_when_the_sampler_has_no_realtime_priority(tmp_path):
    import datetime as dt
    import json

    from firmware_host.store import open_store
    from web import sensor_banner
    st = open_store(tmp_path)
    now = dt.datetime(2026, 5, 4, 23, 0, tzinfo=dt.timezone.utc)
    health = {"t": now.isoformat(), "status": ["ok"] * 4, "spi_errors": 0, "realtime": False,
              "sampler_priority": "nice -10: real-time priority (SCHED_FIFO 50) refused (Operation not permitted)"}
    st.set_setting("health", json.dumps(health))
    lines = sensor_banner(st, now=now)
    assert len(lines) == 1 and "real-time" in lines[0] and "refused" in lines[0]
    st.set_setting("health", json.dumps(dict(health, realtime=True, sampler_priority="SCHED_FIFO 50")))
    assert sensor_banner(st, now=now) == []


def test_a_night_of_stalls_does_not_grow_the_sampler():
    # every other read stalls 2.5 ms: 1500 gaps, all counted, only the first MAX_GAPS listed
    from firmware_host.sampler import MAX_GAPS
    stats = sample_loop(_Counter(), lambda b: None, clock=FakeClock(work=lambda k: 0.0025 if k % 2 else 0.0),
                        max_frames=3 * MAX_GAPS)
    assert stats.missed > MAX_GAPS and len(stats.gaps) == MAX_GAPS
