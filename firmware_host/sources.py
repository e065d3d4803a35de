"""Where the samples come from: one registry that says what each source has,
so the daemon, the sampler and the CLI ask it instead of branching on names.

A source is named on the command line (``--source``): ``adc`` (the MCP3008
on the Pi's SPI bus), ``emulator`` (the same driver over the bit-level
MCP3008 emulator, its analog inputs the simulator), ``sim`` (the simulator's
codes), ``table`` (a zero-cost SPI stand-in, for benchmarks), or any other
name: a recording's path (contracts section 2).

No numpy here: the sampler's small process reads this registry too.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from . import pins


@dataclass(frozen=True)
class SourceKind:
    """What a source has and needs."""

    name: str  #: ``adc``, ``emulator``, ``sim``, ``table`` or ``file``
    sampler_reads: str  #: what the sampler process reads: ``adc``, ``table``, ``emulator`` or ``feed``
    rendered: str | None  #: what the daemon renders into the feed: ``sim``, ``file`` or None (nothing)
    hardware: bool  #: the real board: its status LED and button are there
    real_time_only: bool  #: cannot be played faster than real time (the ADC, the SPI stand-in)


KINDS = {k.name: k for k in (
    SourceKind("adc", sampler_reads="adc", rendered=None, hardware=True, real_time_only=True),
    SourceKind("emulator", sampler_reads="emulator", rendered="sim", hardware=False, real_time_only=False),
    SourceKind("sim", sampler_reads="feed", rendered="sim", hardware=False, real_time_only=False),
    SourceKind("table", sampler_reads="table", rendered=None, hardware=False, real_time_only=True),
    SourceKind("file", sampler_reads="feed", rendered="file", hardware=False, real_time_only=False),
)}


def kind(spec: str) -> SourceKind:
    """The kind of source ``spec`` names (anything not a registered name is a recording's path)."""
    return KINDS.get(spec, KINDS["file"])


def default_source() -> str:
    """``adc`` where the Pi's SPI device is, else ``sim``."""
    return "adc" if os.path.exists(f"/dev/spidev{pins.SPI_BUS}.{pins.SPI_DEVICE}") else "sim"
