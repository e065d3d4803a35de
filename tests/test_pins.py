"""The one pin table: the channel count, each channel's ADC input and site,
and the device nodes come from firmware_host/pins.py, and nothing else
types them."""
import re
from pathlib import Path

from firmware_host import pins
from firmware_host.sources import AdcSource, TableSpi

ROOT = Path(__file__).resolve().parent.parent


def test_each_recorded_channel_reads_its_site_s_input():
    assert pins.N_CHANNELS == len(pins.SITES)
    assert pins.adc_inputs(pins.N_CHANNELS) == [s.channel for s in pins.SITES]
    assert pins.adc_inputs(6)[:len(pins.SITES)] == list(pins.DEFAULT_CHANNELS)
    assert sorted(pins.adc_inputs(8)) == list(range(8))
    spi = TableSpi(pins.N_CHANNELS)
    src = AdcSource(pins.N_CHANNELS, 1000.0, spi=spi, ioctl=spi.ioctl, batch=True)
    assert src._chans == pins.adc_inputs(pins.N_CHANNELS)


def test_names_and_legs_come_from_the_table_and_past_it():
    assert pins.site_names(5) == [s.name for s in pins.SITES] + ["Channel 4"]
    assert pins.legs(5) == [s.leg for s in pins.SITES] + ["ch4"]


def test_the_devices_are_the_spi_device_then_the_gpio_chips():
    assert pins.DEVICES[0] == pins.SPI_DEVICE_PATH == f"/dev/spidev{pins.SPI_BUS}.{pins.SPI_DEVICE}"
    assert set(pins.GPIO_DEVICES) <= set(pins.DEVICES)


def test_no_module_types_the_channel_count():
    typed = []
    for p in sorted(list((ROOT / "firmware_host").rglob("*.py")) + list((ROOT / "web").rglob("*.py"))):
        if p.name.startswith("detector") or "detector" in p.parts:
            continue  # the lead's, being rewritten
        for i, line in enumerate(p.read_text().splitlines(), 1):
            if re.search(r"channels\s*(:\s*int\s*)?=\s*4\b|channels.*\b(or|else) 4\b|--channels.*default=4\b", line):
                typed.append(f"{p.relative_to(ROOT)}:{i}")
    assert typed == []
