"""A twitch's waveform as the page's gallery shows it: a second around its
onset, band-passed as the detector sees it, made once by the daemon
(:mod:`firmware_host.snippets`) and stored; here only what the page needs to
read it back (no numpy, no EDF, no scipy)."""
from __future__ import annotations

import sys
from array import array

from .paths import confined  # noqa: F401 - the page finds it here, beside the snippets

BEFORE_S = 0.25  #: signal shown before the onset, s
AFTER_S = 0.75  #: and after it, s
BAND_HZ = (3.0, 35.0)  #: the detector's twitch band, Hz
UNIT = "codes, 3-35 Hz band-pass"  #: what a snippet's values are


def decode(values_f32: bytes) -> list[float]:
    """A stored snippet (little-endian float32) as codes."""
    a = array("f")
    a.frombytes(values_f32)
    if sys.byteorder != "little":
        a.byteswap()
    return a.tolist()


def encode(values) -> bytes:
    """Codes as a stored snippet (little-endian float32)."""
    a = array("f", (float(v) for v in values))
    if sys.byteorder != "little":
        a.byteswap()
    return a.tobytes()


def recording_at(recordings: list[dict], t_s: float) -> dict | None:
    """The recording holding second ``t_s`` of the night (files are in order)."""
    best = None
    for r in recordings:
        if r["start_t"] <= t_s:
            best = r
    return best
