"""The Linux spidev ioctl ABI (include/uapi/linux/spi/spidev.h): the
transfer struct and the ``SPI_IOC_MESSAGE(N)`` request number, shared by the
ioctl transport and the fake kernel that answers it in tests."""
from __future__ import annotations

import ctypes


class SpiIocTransfer(ctypes.Structure):
    """``struct spi_ioc_transfer``: 32 bytes, one transfer of a message."""

    _fields_ = [
        ("tx_buf", ctypes.c_uint64),
        ("rx_buf", ctypes.c_uint64),
        ("len", ctypes.c_uint32),
        ("speed_hz", ctypes.c_uint32),
        ("delay_usecs", ctypes.c_uint16),
        ("bits_per_word", ctypes.c_uint8),
        ("cs_change", ctypes.c_uint8),
        ("tx_nbits", ctypes.c_uint8),
        ("rx_nbits", ctypes.c_uint8),
        ("word_delay_usecs", ctypes.c_uint8),
        ("pad", ctypes.c_uint8),
    ]


assert ctypes.sizeof(SpiIocTransfer) == 32

_IOC_WRITE = 1
SPI_IOC_MAGIC = ord("k")


def spi_ioc_message(n: int) -> int:
    """The ioctl request number ``SPI_IOC_MESSAGE(n)``."""
    size = n * ctypes.sizeof(SpiIocTransfer)
    if size >= 1 << 14:
        raise ValueError(f"{n} transfers do not fit one SPI message")
    return (_IOC_WRITE << 30) | (size << 16) | (SPI_IOC_MAGIC << 8) | 0
