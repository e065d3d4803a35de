"""The MCP3008 driver against the bit-level emulator."""
import random

import pytest

from firmware_host.adc import ADCError, ChannelError, MCP3008, command_bytes, decode
from firmware_host.mcp3008_emulator import MCP3008Emulator


@pytest.fixture(params=["xfer2", "ioctl"])
def pair(request):
    emu = MCP3008Emulator(seed=7)
    if request.param == "ioctl":
        adc = MCP3008(emu, ioctl=emu.ioctl)
        assert adc.batch
    else:
        adc = MCP3008(emu)
        assert not adc.batch
    return emu, adc


def test_every_channel_single_ended_random_codes(pair):
    emu, adc = pair
    rng = random.Random(1)
    for _ in range(50):
        codes = [rng.randrange(1024) for _ in range(8)]
        emu.set_codes(codes)
        assert [adc.read(ch) for ch in range(8)] == codes
        assert adc.read_many(list(range(8))) == codes


def test_extremes_and_every_bit(pair):
    emu, adc = pair
    for code in [0, 1023] + [1 << b for b in range(10)]:
        emu.set_codes([code] * 8)
        assert adc.read_many([0, 3, 7]) == [code] * 3


def test_differential_pairs(pair):
    emu, adc = pair
    rng = random.Random(2)
    lsb = emu.vref_v / 1024
    for _ in range(30):
        volts = [rng.uniform(0, emu.vref_v) for _ in range(8)]
        emu.inputs_v = volts
        for d in range(8):
            plus, minus = divmod(d, 2)[0] * 2 + (d % 2), divmod(d, 2)[0] * 2 + 1 - (d % 2)
            expected = min(max(int((volts[plus] - volts[minus]) / lsb), 0), 1023)
            assert adc.read(d, differential=True) == expected
        got = adc.read_many(list(range(8)), differential=True)
        assert got == [adc.read(d, differential=True) for d in range(8)]


def test_one_conversion_per_cs_window(pair):
    emu, adc = pair
    emu.set_codes([100, 200, 300, 400])
    before = emu.windows
    adc.read_many([0, 1, 2, 3])
    assert emu.windows - before == 4
    assert emu.conversions == 4


def test_driver_sets_mode_and_clock():
    emu = MCP3008Emulator()
    MCP3008(emu, speed_hz=1_000_000)
    assert emu.mode == 0 and emu.max_speed_hz == 1_000_000


def test_a_driver_that_batches_conversions_in_one_window_fails():
    """Several conversions in one xfer2 keep CS low: the chip answers once."""
    emu = MCP3008Emulator(seed=3)
    codes = [101, 202, 303, 404]
    emu.set_codes(codes)

    def wrong_read_many(channels):
        tx = [b for ch in channels for b in command_bytes(ch)]
        rx = emu.xfer2(tx)
        return [decode(rx[3 * i:3 * i + 3]) for i in range(len(channels))]

    got = wrong_read_many([0, 1, 2, 3])
    assert got[0] == codes[0]
    assert got[1:] != codes[1:]
    assert emu.conversions == 1


def test_a_driver_that_forgets_to_mask_fails():
    emu = MCP3008Emulator(seed=4)
    emu.set_codes([5] * 8)
    unmasked = []
    for _ in range(20):
        rx = emu.xfer2(command_bytes(0))
        unmasked.append((rx[1] << 8) | rx[2])
    assert any(v != 5 for v in unmasked)  # undefined bits are really there


def test_cs_change_on_the_last_transfer_merges_frames():
    """Linux keeps CS low after a message whose last transfer has cs_change."""
    emu = MCP3008Emulator(seed=5)
    emu.set_codes([11, 22, 33, 44])
    adc = MCP3008(emu, ioctl=emu.ioctl)
    msg_codes = adc.read_many([0, 1])
    assert msg_codes == [11, 22]
    (msg,) = adc.transport.messages.values()  # the one prebuilt message of this frame
    msg.transfers[1].cs_change = 1  # the mistake the driver avoids
    adc.read_many([0, 1])
    assert adc.read_many([0, 1]) != [11, 22]  # second message fell into the first's window


def test_transfer_error_becomes_adc_error(pair):
    emu, adc = pair
    emu.fail_transfers = 1
    with pytest.raises(ADCError):
        adc.read_many([0, 1])
    emu.set_codes([9] * 8)
    assert adc.read_many([0, 1]) == [9, 9]


def test_bad_channel():
    adc = MCP3008(MCP3008Emulator())
    with pytest.raises(ChannelError):
        adc.read(8)
    with pytest.raises(ChannelError):
        adc.read(-1)
