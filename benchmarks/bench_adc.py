"""Driver conversions/s through the emulator next to a bare xfer2 loop.

    python benchmarks/bench_adc.py [seconds]
"""
import sys
import time

from firmware_host.adc import MCP3008, command_bytes
from firmware_host.mcp3008_emulator import MCP3008Emulator


def rate(fn, seconds):
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 4
    return n / (time.perf_counter() - t0)


def main(seconds=3.0):
    emu = MCP3008Emulator(seed=1)
    emu.set_codes([100, 200, 300, 400])
    tx = [command_bytes(c) for c in range(4)]
    bare = rate(lambda: [emu.xfer2(t) for t in tx], seconds)
    drv = MCP3008(emu)
    xfer = rate(lambda: drv.read_many([0, 1, 2, 3]), seconds)
    drv_i = MCP3008(emu, ioctl=emu.ioctl)
    ioctl = rate(lambda: drv_i.read_many([0, 1, 2, 3]), seconds)
    print(f"bare xfer2 loop over the emulator: {bare:,.0f} conversions/s")
    print(f"driver, one xfer2 per conversion:  {xfer:,.0f} conversions/s ({bare / xfer:.2f}x slower than bare)")
    print(f"driver, SPI_IOC_MESSAGE path:      {ioctl:,.0f} conversions/s ({bare / ioctl:.2f}x slower than bare)")


if __name__ == "__main__":
    main(*map(float, sys.argv[1:]))
