"""The MCP3008 driver against the bit-level emulator."""
import ctypes
import fcntl
import os
import random

import pytest
from twitchmon_testkit import needs

from firmware_host import pins
from firmware_host.adc import ADCError, ChannelError, MCP3008, command_bytes, decode
from firmware_host.adc.spidev_abi import SpiIocTransfer, spi_ioc_message
from firmware_host.adc.transports import IoctlTransport, Xfer2Transport, open_spidev
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


def test_the_driver_masks_the_undefined_bits_before_the_null_bit(pair):
    """The bits the chip sends before B9 are undefined (the emulator sends
    noise there); the driver's codes must not depend on them."""
    emu, adc = pair
    raw = []
    shift_bytes = emu.chip.shift_bytes

    def recording_shift_bytes(data):  # at the chip's pins, so both transports' frames are seen
        rx = shift_bytes(data)
        raw.append(list(rx))
        return rx

    emu.chip.shift_bytes = recording_shift_bytes
    emu.set_codes([5, 1023, 0, 512, 5, 5, 5, 5])
    for _ in range(20):
        assert [adc.read(c) for c in range(4)] == [5, 1023, 0, 512]
        assert adc.read_many([0, 1, 2, 3]) == [5, 1023, 0, 512]
    assert any(rx[1] & 0xFC for rx in raw)  # the noise really was on the wire
    assert decode([0xFF, 0xFE, 0x34]) == 0x234 and decode([0x00, 0xFC, 0xFF]) == 0xFF


def test_the_emulator_merges_frames_when_the_last_transfer_keeps_cs_low():
    """The emulator's side (Linux keeps CS low after a message whose last
    transfer has cs_change): why the driver clears it on the last one (the
    driver's own transfers are checked in the ABI tests below)."""
    emu = MCP3008Emulator(seed=5)
    emu.set_codes([11, 22, 33, 44])

    def message(last_cs_change):
        tx = (ctypes.c_uint8 * 6)(*command_bytes(0), *command_bytes(1))
        rx = (ctypes.c_uint8 * 6)()
        ts = (SpiIocTransfer * 2)()
        for i, t in enumerate(ts):
            t.tx_buf, t.rx_buf, t.len = ctypes.addressof(tx) + 3 * i, ctypes.addressof(rx) + 3 * i, 3
            t.cs_change = 1 if i == 0 else last_cs_change
        emu.ioctl(0, spi_ioc_message(2), ts)
        return [decode(rx[0:3]), decode(rx[3:6])]

    assert message(0) == [11, 22] and message(0) == [11, 22]
    message(1)
    assert message(0) != [11, 22]  # this message fell into the last one's CS window


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


# -- the kernel's spidev ABI, from include/uapi/linux/spi/spidev.h and ioctl.h ----------
# Computed here from the kernel's own formula, never from the driver's constants:
#   _IOC(dir, type, nr, size) = dir << 30 | size << 16 | type << 8 | nr,  _IOC_WRITE = 1
#   SPI_IOC_MESSAGE(N) = _IOW(SPI_IOC_MAGIC 'k', 0, char[N * sizeof(struct spi_ioc_transfer) = 32])

def _kernel_spi_ioc_message(n: int) -> int:
    return (1 << 30) | ((n * 32) << 16) | (0x6B << 8) | 0


def test_spi_ioc_message_numbers_are_the_kernels():
    assert _kernel_spi_ioc_message(1) == 0x40206B00  # SPI_IOC_MESSAGE(1) as the C headers print it
    assert spi_ioc_message(1) == 0x40206B00
    assert spi_ioc_message(2) == 0x40406B00 and spi_ioc_message(8) == 0x41006B00
    for n in range(1, 512):
        assert spi_ioc_message(n) == _kernel_spi_ioc_message(n), n
    with pytest.raises(ValueError):
        spi_ioc_message(512)  # 16384 bytes do not fit the 14-bit size field


def test_struct_spi_ioc_transfer_layout_is_the_kernels():
    layout = {"tx_buf": (0, 8), "rx_buf": (8, 8), "len": (16, 4), "speed_hz": (20, 4), "delay_usecs": (24, 2),
              "bits_per_word": (26, 1), "cs_change": (27, 1), "tx_nbits": (28, 1), "rx_nbits": (29, 1),
              "word_delay_usecs": (30, 1), "pad": (31, 1)}
    assert ctypes.sizeof(SpiIocTransfer) == 32
    for name, (offset, size) in layout.items():
        field = getattr(SpiIocTransfer, name)
        assert (field.offset, field.size) == (offset, size), name


class _Kernel:
    """A stand-in for the spidev driver's side of SPI_IOC_MESSAGE that checks
    what the driver hands it against the kernel ABI written out above, then
    lets the emulated chip answer each transfer in its own CS window."""

    def __init__(self, emu, garbage=0):
        self.emu, self.garbage, self.calls = emu, garbage, []

    def ioctl(self, fd, request, transfers):
        n = len(transfers)
        assert request == _kernel_spi_ioc_message(n), hex(request)
        assert ctypes.sizeof(transfers) == 32 * n  # the size the request number promises
        seen = []
        for t in transfers:
            tx = list(ctypes.string_at(t.tx_buf, t.len))
            rx = self.emu.xfer2(tx)
            rx[1] |= self.garbage  # undefined bits before the null bit
            ctypes.memmove(t.rx_buf, bytes(rx), t.len)
            seen.append({"tx": tx, "len": t.len, "speed_hz": t.speed_hz, "bits_per_word": t.bits_per_word,
                         "cs_change": t.cs_change, "delay_usecs": t.delay_usecs})
        self.calls.append((fd, seen))
        return 0


def test_one_ioctl_per_frame_with_cs_rising_between_conversions_but_not_after_the_last():
    emu = MCP3008Emulator(seed=8)
    emu.set_codes([100, 200, 300, 400, 500, 600, 700, 800])
    kernel = _Kernel(emu, garbage=0xFC)
    adc = MCP3008(emu, speed_hz=1_000_000, ioctl=kernel.ioctl)
    assert adc.read_many([3, 0, 7]) == [400, 100, 800]
    assert adc.read_many([3, 0, 7]) == [400, 100, 800]  # the prebuilt message, again
    assert adc.read_many([1, 2]) == [200, 300]
    assert len(kernel.calls) == 3
    fd, seen = kernel.calls[0]
    assert fd == emu.fileno()
    assert [t["tx"] for t in seen] == [[0x01, 0xB0, 0x00], [0x01, 0x80, 0x00], [0x01, 0xF0, 0x00]]
    assert [t["cs_change"] for t in seen] == [1, 1, 0]
    assert all(t["len"] == 3 and t["speed_hz"] == 1_000_000 and t["bits_per_word"] == 8 and t["delay_usecs"] == 0
               for t in seen)
    assert [t["cs_change"] for t in kernel.calls[2][1]] == [1, 0]
    assert adc.read_many([5]) == [600] and kernel.calls[-1][1][0]["cs_change"] == 0


def test_a_differential_frame_asks_for_differential_conversions():
    emu = MCP3008Emulator(seed=9)
    kernel = _Kernel(emu)
    adc = MCP3008(emu, ioctl=kernel.ioctl, differential=True)
    adc.read_many([0, 5])
    assert [t["tx"] for t in kernel.calls[0][1]] == [[0x01, 0x00, 0x00], [0x01, 0x50, 0x00]]
    adc.read_many([0, 5], differential=False)
    assert [t["tx"] for t in kernel.calls[1][1]] == [[0x01, 0x80, 0x00], [0x01, 0xD0, 0x00]]


def test_command_bytes_follow_the_datasheet():
    # start bit alone in the first byte; SGL/DIFF, D2, D1, D0 at the top of the second
    assert command_bytes(0) == [0x01, 0x80, 0x00] and command_bytes(7) == [0x01, 0xF0, 0x00]
    assert command_bytes(5) == [0x01, 0xD0, 0x00] and command_bytes(5, differential=True) == [0x01, 0x50, 0x00]
    for bad in (8, -1, 1.0, "0", None):
        with pytest.raises(ChannelError):
            command_bytes(bad)


class _SpiDevLike:
    """What the driver sees of a spidev.SpiDev: attributes and a file descriptor."""

    def __init__(self, fd):
        self.fd, self.mode, self.max_speed_hz, self.bits_per_word, self.closed = fd, 3, 0, 0, False

    def fileno(self):
        return self.fd

    def xfer2(self, data, speed_hz=0):
        raise AssertionError("a spidev must be read with one ioctl per frame")

    def close(self):
        self.closed = True


def test_the_driver_takes_the_batched_path_on_a_spidev(monkeypatch):
    """A character device that /proc/self/fd names /dev/spidevB.D is a spidev:
    the driver converts each frame in one fcntl.ioctl.  Stand-in: /dev/null
    (a real character device) opened under a spidev name."""
    emu = MCP3008Emulator(seed=10)
    emu.set_codes([7, 8, 9, 10, 11, 12, 13, 14])
    kernel = _Kernel(emu)
    fd = os.open("/dev/null", os.O_RDWR)
    try:
        real_readlink = os.readlink
        monkeypatch.setattr(os, "readlink", lambda p: "/dev/spidev0.0" if p == f"/proc/self/fd/{fd}"
                            else real_readlink(p))
        monkeypatch.setattr(fcntl, "ioctl", kernel.ioctl)
        spi = _SpiDevLike(fd)
        adc = MCP3008(spi, speed_hz=2_000_000)
        assert adc.batch and isinstance(adc.transport, IoctlTransport)
        assert (spi.mode, spi.max_speed_hz, spi.bits_per_word) == (0, 2_000_000, 8)  # mode 0, 8-bit words
        assert adc.read_many([0, 1, 2, 3]) == [7, 8, 9, 10]
        assert len(kernel.calls) == 1 and kernel.calls[0][0] == fd
        assert not MCP3008(spi, batch=False).batch  # asked not to
        assert not MCP3008(emu, batch=False, ioctl=kernel.ioctl).batch  # even with an ioctl to hand
        adc.close()
        assert spi.closed
    finally:
        os.close(fd)


@pytest.mark.parametrize("what", ["regular file", "/dev/null", "closed", "negative", "no fileno", "raises",
                                  "not a number"])
def test_anything_else_is_read_one_conversion_at_a_time(tmp_path, what):
    emu = MCP3008Emulator(seed=11)
    emu.set_codes([1, 2, 3, 4, 5, 6, 7, 8])
    fd = None
    if what == "regular file":
        fd = os.open(tmp_path / "spidev0.0", os.O_RDWR | os.O_CREAT)
    elif what == "/dev/null":
        fd = os.open("/dev/null", os.O_RDWR)
    elif what == "closed":
        fd = os.open("/dev/null", os.O_RDWR)
        os.close(fd)
    fileno = {"negative": lambda: -1, "raises": lambda: (_ for _ in ()).throw(OSError("closed")),
              "not a number": lambda: None}.get(what, lambda: fd)
    if what == "no fileno":
        fileno = None
    emu.fileno = fileno
    if fileno is None:
        del emu.fileno
    try:
        adc = MCP3008(emu)
        assert not adc.batch and isinstance(adc.transport, Xfer2Transport)
        assert adc.read_many([0, 7]) == [1, 8]
    finally:
        if fd is not None and what != "closed":
            os.close(fd)


def test_the_driver_sets_mode_0_the_clock_and_8_bit_words():
    spi = _SpiDevLike(-1)
    MCP3008(spi, speed_hz=1_350_000)
    assert (spi.mode, spi.max_speed_hz, spi.bits_per_word) == (0, 1_350_000, 8)


def test_a_device_that_refuses_a_setting_is_one_adc_error():
    class Stubborn(_SpiDevLike):
        def __setattr__(self, name, value):
            if name == "max_speed_hz" and hasattr(self, "closed"):
                raise OSError(22, "Invalid argument")
            object.__setattr__(self, name, value)

    with pytest.raises(ADCError, match="cannot set SPI max_speed_hz=1350000"):
        MCP3008(Stubborn(-1), speed_hz=1_350_000)


def test_a_short_or_missing_answer_is_an_adc_error():
    class Short:
        def __init__(self, rx):
            self.rx = rx

        def xfer2(self, data, speed_hz=0):
            return self.rx

    for rx in (None, [0, 1], [0, 1, 2, 3]):
        with pytest.raises(ADCError, match="CH2"):
            MCP3008(Short(rx)).read(2)
    assert MCP3008(Short([0xFF, 0x03, 0xFF])).read(2) == 1023


def test_a_failed_ioctl_is_an_adc_error_naming_the_channels():
    emu = MCP3008Emulator()

    def broken(fd, request, transfers):
        raise OSError(5, "Input/output error")

    with pytest.raises(ADCError, match=r"channels \[0, 1\]"):
        MCP3008(emu, ioctl=broken).read_many([0, 1])


def test_volts_are_codes_over_the_reference():
    adc = MCP3008(MCP3008Emulator())
    assert adc.volts(0) == 0.0
    assert adc.volts(512) == pytest.approx(pins.VREF_V / 2)
    assert adc.volts(1023) == pytest.approx(pins.VREF_V * 1023 / 1024)


def test_opening_a_missing_spidev_is_one_adc_error():
    needs.module("spidev")  # a dependency on Linux, like the device
    with pytest.raises(ADCError, match=r"cannot open /dev/spidev9\.7"):
        open_spidev(9, 7)


def test_a_spidev_on_file_descriptor_0_is_still_a_spidev(monkeypatch):
    """A daemon started with stdin closed can get the device as fd 0."""
    real_readlink = os.readlink
    monkeypatch.setattr(os, "readlink", lambda p: "/dev/spidev0.1" if p == "/proc/self/fd/0" else real_readlink(p))
    monkeypatch.setattr(fcntl, "ioctl", lambda *a: 0)
    assert MCP3008(_SpiDevLike(0)).batch
