"""The sampler at 4 x 1 kHz on the emulated MCP3008 (real driver, own process).

    python benchmarks/bench_sampler.py [seconds]   (default 60)
"""
import sys
import time

from firmware_host.sampler import SamplerProcess


def main(seconds=60.0):
    sp = SamplerProcess("emulator", 4, 1000.0, block_samples=100).start()
    n, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < seconds:
        b = sp.queue.get()
        if b is None:
            break
        n += len(b.codes)
    st = sp.stop()
    print(f"{seconds:g} s at 4 x 1000 Hz through the emulator: {n} frames received")
    print(f"late-sample fraction: {st['late_fraction']:.5f} ({st['late']} of {st['frames']} > 0.5 ms late)")
    print(f"worst lateness: {st['worst_late_ms']:.2f} ms; missed periods: {st['missed']}; "
          f"dropped blocks: {st['dropped_blocks']}")
    print(f"CPU: {st['cpu_s'] / seconds:.3f} s per second of signal (sampler process; {st['priority']})")


if __name__ == "__main__":
    main(*map(float, sys.argv[1:]))
