"""The ADC's rooms: one frame(commands) -> replies per transport, one chooser,
and the emulator as a chip behind a separate fake kernel."""
import pytest

from firmware_host.adc import ADCError, IoctlTransport, MCP3008, Xfer2Transport, choose, command_bytes, decode_all
from firmware_host.adc.emulator import FakeSpidev, MCP3008Chip


def _kernel(codes, seed=1):
    chip = MCP3008Chip(seed=seed)
    chip.set_codes(codes)
    return chip, FakeSpidev(chip)


@pytest.mark.parametrize("make", [lambda k: Xfer2Transport(k, 1_000_000),
                                  lambda k: IoctlTransport(k.fileno(), k.ioctl, 1_000_000)])
def test_both_transports_answer_a_frame_alike(make):
    chip, kernel = _kernel([10, 20, 30, 40, 50, 60, 70, 80])
    t = make(kernel)
    cmds = [command_bytes(c) for c in (7, 0, 3)]
    assert decode_all(t.frame(cmds), 3) == [80, 10, 40]
    assert chip.windows == 3 and chip.conversions == 3  # CS rose between conversions


def test_the_chooser_alone_picks_the_transport():
    _, kernel = _kernel([0] * 8)
    assert isinstance(choose(kernel, 1_000_000, ioctl=kernel.ioctl), IoctlTransport)
    assert isinstance(choose(kernel, 1_000_000, ioctl=kernel.ioctl, batch=False), Xfer2Transport)
    assert isinstance(choose(kernel, 1_000_000), Xfer2Transport)  # not a real /dev/spidev: no ioctl
    assert isinstance(MCP3008(kernel, ioctl=kernel.ioctl).transport, IoctlTransport)


def test_a_bus_fault_is_the_kernel_s_and_the_chip_never_sees_it():
    chip, kernel = _kernel([5] * 8)
    kernel.fail_transfers = 1
    adc = MCP3008(kernel)
    with pytest.raises(ADCError, match="CH2"):
        adc.read(2)
    assert chip.windows == 0
    assert adc.read(2) == 5 and chip.windows == 1
