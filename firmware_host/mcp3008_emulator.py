"""The MCP3008 emulator's old home: it lives in :mod:`firmware_host.adc.emulator`."""
from __future__ import annotations

from .adc.emulator import FakeSpidev, MCP3008Chip, MCP3008Emulator

__all__ = ["FakeSpidev", "MCP3008Chip", "MCP3008Emulator"]
