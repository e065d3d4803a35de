"""Trace files: read and write EDF(+), WAV, NPZ and CSV, streaming.

Every reader yields blocks shaped (samples, channels) of float64 ADC codes
(0..1023 for an MCP3008 trace), so the detector sees the same numbers
whatever the container.  Nothing here loads a whole night: readers pull a
block at a time and writers append.

How each format holds codes:

- EDF/EDF+: the digital values.  A foreign file's digital range is mapped
  linearly onto 0..1023, so "codes" means "the file's own units scaled to a
  10-bit range".  Headers are parsed by edfio, which also tolerates a
  header whose record count is -1 or too large (a recording cut by a power
  failure); samples are read record by record with plain file reads.
  twitchmon writes EDF+ with pyedflib, which appends whole records.
- WAV: 16-bit PCM, one channel per sensor, code = sample / 64 + 512 (the
  10-bit code left-justified into 16 bits around mid-rail).
- NPZ: ``counts`` uint16 (samples, channels), ``rate_hz``, optional
  ``start_unix`` and ``channel_names``.  Read member by member from the
  zip stream, so a file cut short still gives what it holds.
- CSV: header row, optional first column ``t`` (seconds), then a column per
  channel.  The rate comes from ``t``; without it, from ``rate_hz``.

A file cut mid-record is read to its last whole record and ``info.truncated``
says so.  Anything that is not a trace raises :class:`TraceError` with one
line that says what and where.

One module a format (:mod:`.edf`, :mod:`.wav`, :mod:`.npz`, :mod:`.csvfile`)
behind one reader and one writer face (:mod:`.base`); :func:`open_trace`
and :func:`open_writer` choose by extension.
"""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

from ..sites import EDF_LABEL_CHARS, edf_label
from .base import CODE_MID, FORMATS, WAV_SCALE, TraceError, TraceInfo, TraceReader, TraceWriter
from .csvfile import CsvReader, CsvWriter
from .edf import EdfReader, EdfWriter, edf_is_unfinished, edf_labels, recover_edf, set_edf_start
from .npz import NpzReader, NpzWriter
from .wav import WavReader, WavWriter

__all__ = ["CODE_MID", "EDF_LABEL_CHARS", "FORMATS", "WAV_SCALE", "CsvReader", "CsvWriter", "EdfReader", "EdfWriter",
           "NpzReader", "NpzWriter", "TraceError", "TraceInfo", "TraceReader", "TraceWriter", "WavReader",
           "WavWriter", "edf_is_unfinished", "edf_label", "edf_labels", "open_trace", "open_writer",
           "recover_edf", "set_edf_start"]


def open_trace(path: str | os.PathLike, rate_hz: float | None = None) -> TraceReader:
    """Open a trace for reading by its extension (and its first bytes)."""
    p = Path(path)
    where = str(p)
    if not p.exists():
        raise TraceError(f"{where}: no such file")
    if p.is_dir():
        raise TraceError(f"{where}: is a directory, not a trace")
    ext = p.suffix.lower()
    try:
        if ext in (".edf", ".edf+"):
            return EdfReader(p)
        if ext == ".wav":
            return WavReader(p)
        if ext == ".npz":
            return NpzReader(p)
        if ext == ".csv":
            return CsvReader(p, rate_hz)
    except PermissionError:
        raise TraceError(f"{where}: permission denied") from None
    except OSError as exc:
        raise TraceError(f"{where}: cannot read ({exc.strerror or exc})") from None
    raise TraceError(f"{where}: unknown trace format {ext or '(no extension)'}; "
                     f"use one of {', '.join(FORMATS)}")


def open_writer(path: str | os.PathLike, rate_hz: float, channel_names: Sequence[str],
                start: dt.datetime | None = None, *, n_samples: int | None = None):
    """A streaming writer for ``path``'s format (``write(codes)``, ``close()``)."""
    ext = Path(path).suffix.lower()
    if ext == ".edf":
        return EdfWriter(path, rate_hz, channel_names, start)
    if ext == ".wav":
        return WavWriter(path, rate_hz, channel_names, start)
    if ext == ".csv":
        return CsvWriter(path, rate_hz, channel_names, start)
    if ext == ".npz":
        if n_samples is None:
            raise ValueError("npz writing needs n_samples up front")
        return NpzWriter(path, rate_hz, channel_names, start, n_samples=n_samples)
    raise TraceError(f"{path}: unknown trace format {ext or '(no extension)'}; use one of {', '.join(FORMATS)}")
