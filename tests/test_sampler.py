"""The sampling loop's timing logic on a fake clock."""
import numpy as np

from firmware_host.clock import FakeClock
from firmware_host.sampler_process import EmulatedAdcSource, sample_loop
from firmware_host.sources import Source


class Counter(Source):
    channels, rate_hz = 2, 1000.0

    def __init__(self):
        self.k = 0

    def read_frame(self):
        self.k += 1
        return [self.k % 1024, 7]


def run(work, frames=1000, source=None):
    blocks = []
    clock = FakeClock(work=work)
    stats = sample_loop(source or Counter(), blocks.append, block_samples=100, clock=clock, max_frames=frames)
    return stats, blocks, clock


def test_absolute_deadlines_do_not_drift():
    stats, blocks, clock = run(lambda k: 0.0004)  # each read takes 0.4 ms, inside the 1 ms period
    assert stats.frames == 1000 and stats.late == 0 and stats.missed == 0
    assert abs(clock.now - (1000.0 + 1000 * 0.001 + 0.0004)) < 1e-9  # no accumulated error
    assert [b.first_index for b in blocks] == list(range(0, 1000, 100))


def test_late_and_missed_samples_are_counted_not_retimed():
    stall = {300: 0.0037}  # one read stalls 3.7 ms: periods 301 and 302 are gone, 303 is late
    stats, blocks, _ = run(lambda k: stall.get(k, 0.0001))
    assert stats.missed == 2 and stats.gaps == [(301, 2)]
    idx = np.concatenate([np.arange(b.first_index, b.first_index + len(b.codes)) for b in blocks])
    assert 301 not in idx and 302 not in idx and 303 in idx  # the gap shows in the indices
    assert stats.late == 1 and 0.0006 < stats.worst_late_s < 0.0008


def test_spi_errors_are_retried_then_flagged():
    src = EmulatedAdcSource(prerender_s=2)
    src.emulator.fail_transfers = 2  # two failures, then success on retry
    stats, blocks, _ = run(lambda k: 0.0, frames=50, source=src)
    assert stats.read_errors == 2 and stats.frames == 50
    src.emulator.fail_transfers = 10 ** 6  # unplugged bus: frames repeat the last value, no crash
    stats, blocks, _ = run(lambda k: 0.0, frames=20, source=src)
    assert stats.frames == 20 and stats.read_errors > 20
