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
"""
from __future__ import annotations

import csv
import datetime as dt
import errno
import io
import math
import os
import struct
import warnings
import wave
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import pins
from .errors import TwitchmonError
from .sites import EDF_LABEL_CHARS, edf_label

FORMATS = (".edf", ".wav", ".npz", ".csv")
WAV_SCALE = 64  # 16-bit PCM units per code
CODE_MID = 512


class TraceError(TwitchmonError, ValueError):
    """A file that cannot be read as a trace; the message is one line."""


@dataclass
class TraceInfo:
    path: str
    format: str
    rate_hz: float
    channels: int
    n_samples: int | None  #: whole samples the file holds (None: unknown until read)
    start_unix: float | None = None
    channel_names: list[str] = field(default_factory=list)
    truncated: bool = False  #: the file ends inside a record / row / frame
    notes: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float | None:
        return None if self.n_samples is None else self.n_samples / self.rate_hz


def _check_rate(rate_hz: float, where: str) -> float:
    if not (isinstance(rate_hz, (int, float)) and math.isfinite(rate_hz) and 1 <= rate_hz <= 100_000):
        raise TraceError(f"{where}: sampling rate {rate_hz!r} Hz is not a usable rate")
    return float(rate_hz)


class TraceReader:
    """Base reader: ``info`` and :meth:`blocks`."""

    info: TraceInfo

    def blocks(self, block_samples: int = 10_000) -> Iterator[np.ndarray]:
        """Blocks of (samples, channels) codes as float64."""
        raise NotImplementedError

    def code_blocks(self, block_samples: int = 10_000) -> Iterator[np.ndarray]:
        """The same codes as :meth:`blocks`, in whatever numeric type is
        cheapest for the format (int16 straight from an EDF whose digital
        range is the ADC's); for the detector, which takes any."""
        return self.blocks(block_samples)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- EDF ---------------------------------------------------------------------

def _text(field) -> str:
    return field.decode("ascii") if isinstance(field, (bytes, bytearray)) else str(field)


def _header_date(edf) -> dt.date:
    """Start date: the EDF+ recording field's 4-digit year if there, else the
    header's dd.mm.yy (85-99 are 19xx, per the EDF specification)."""
    try:
        return edf.recording.startdate
    except Exception:  # noqa: BLE001 - plain EDF or anonymised: use the header field
        d, m, y = (int(v) for v in _text(edf._startdate).split("."))  # noqa: SLF001
        return dt.date(1900 + y if y >= 85 else 2000 + y, m, d)


def _header_time(edf) -> dt.time:
    h, m, s = (int(v) for v in _text(edf._starttime).split("."))  # noqa: SLF001
    return dt.time(h, m, s)


class EdfReader(TraceReader):
    def __init__(self, path: Path):
        import edfio  # noqa: PLC0415

        where = str(path)
        with open(path, "rb") as f:
            head = f.read(256)
        if len(head) < 256 or head[:8] != b"0       ":
            raise TraceError(f"{where}: not an EDF file (no EDF header)")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                edf = edfio.read_edf(path, lazy_load_data=True)
        except (ValueError, IndexError, UnicodeDecodeError, OSError, TypeError) as exc:
            raise TraceError(f"{where}: bad EDF header: {str(exc).splitlines()[0]}") from None
        try:  # edfio parses header fields lazily: a damaged one fails here
            signals, raw_labels, rate = self._layout(edf, where)
            self._header_bytes = int(edf.bytes_in_header_record)
            n_records = int(edf.num_data_records)
            self.record_duration_s = float(edf.data_record_duration)
        except (ValueError, IndexError, UnicodeDecodeError, TypeError, OverflowError) as exc:
            if isinstance(exc, TraceError):
                raise
            raise TraceError(f"{where}: bad EDF header: {str(exc).splitlines()[0]}") from None
        self._spr = self._cols[0][1]
        size = os.path.getsize(path)
        whole = (size - self._header_bytes) // (2 * self._record_len)
        n_records = min(n_records, whole) if n_records >= 0 else whole
        self._n_records = max(n_records, 0)
        truncated = any("truncated" in str(w.message).lower() or "Incomplete" in str(w.message)
                        for w in caught)
        notes = [str(w.message) for w in caught]
        start_unix = self._start_unix(edf, path)
        self._path = path
        self.info = TraceInfo(where, "edf", rate, len(self._cols), self._n_records * self._spr,
                              start_unix, raw_labels, truncated, notes)
        self._edf = edf

    def _layout(self, edf, where: str):
        """Signals, labels and rate from the header; the record layout into self."""
        signals = [s for s in edf.signals]
        raw_labels = [s.label for s in signals]
        if not signals:
            raise TraceError(f"{where}: EDF file has no signals")
        rates = {s.sampling_frequency for s in signals}
        if len(rates) != 1:
            raise TraceError(f"{where}: signals have different rates {sorted(rates)}; "
                             "twitchmon needs one rate for all channels")
        rate = _check_rate(float(rates.pop()), where)
        # Layout of a data record: every signal (annotation signals too).
        all_sigs = edf._signals  # noqa: SLF001 - includes annotation signals, in file order
        self._record_len = sum(s.samples_per_data_record for s in all_sigs)
        offsets, pos = [], 0
        for s in all_sigs:
            offsets.append((pos, s))
            pos += s.samples_per_data_record
        self._cols = []
        for off, s in offsets:
            if s in signals:
                dmin, dmax = s.digital_min, s.digital_max
                if dmax <= dmin:
                    raise TraceError(f"{where}: signal {s.label!r} has digital range {dmin}..{dmax}")
                self._cols.append((off, s.samples_per_data_record, dmin, dmax))
        return signals, raw_labels, rate

    def _start_unix(self, edf, path: Path) -> float | None:
        """Start time from the header and, for EDF+, the first record's
        time-keeping annotation (its sub-second onset).  edfio's
        ``startdatetime`` would copy the whole annotation signal out of its
        memory map to find that onset, putting the entire file in memory."""
        try:
            start = dt.datetime.combine(_header_date(edf), _header_time(edf))
        except (ValueError, OverflowError, AttributeError):
            return None
        sub = 0.0
        tk = next((s for s in edf._signals if s.label == "EDF Annotations"), None)  # noqa: SLF001
        if tk is not None:
            off = sum(s.samples_per_data_record for s in edf._signals[:edf._signals.index(tk)])  # noqa: SLF001
            with open(path, "rb") as f:
                f.seek(self._header_bytes + 2 * off)
                first = f.read(2 * tk.samples_per_data_record)
            tal = first.split(b"\x14", 1)[0]
            try:
                sub = float(tal.decode("ascii"))
            except (UnicodeDecodeError, ValueError):
                sub = 0.0
            sub = sub if 0.0 <= sub < 1.0 else 0.0
        start = start.replace(tzinfo=dt.timezone.utc) + dt.timedelta(seconds=sub)
        try:
            return start.timestamp()
        except (ValueError, OverflowError):
            return None

    def annotations(self) -> list[tuple[float, float | None, str]]:
        """EDF+ annotations as (onset_s, duration_s, text)."""
        try:
            return [(a.onset, a.duration, a.text) for a in self._edf.annotations]
        except (ValueError, IndexError):
            return []

    def _record_blocks(self, block_samples: int) -> Iterator[np.ndarray]:
        """The whole data records, about ``block_samples`` samples' worth at a
        time, as (records, record length) int16."""
        recs_per_block = max(1, block_samples // self._spr)
        rec_len = self._record_len
        with open(self._path, "rb") as f:
            f.seek(self._header_bytes)
            done = 0
            while done < self._n_records:
                raw = np.fromfile(f, dtype="<i2", count=min(recs_per_block, self._n_records - done) * rec_len)
                n = raw.size // rec_len
                if n == 0:
                    return
                done += n
                yield raw[: n * rec_len].reshape(n, rec_len)

    @property
    def _codes_as_stored(self) -> bool:
        """Every signal's digital range is the ADC's codes (as twitchmon writes)."""
        return all(dmin == 0 and dmax == pins.ADC_MAX_CODE for _, _, dmin, dmax in self._cols)

    def _signals(self, recs: np.ndarray, dtype=np.float64) -> np.ndarray:
        """(channels, samples) codes from data records ``recs``: each signal
        scaled from its digital range to 0..ADC_MAX_CODE where that is not
        its range already."""
        out = np.empty((len(self._cols), len(recs) * self._spr), dtype=dtype)
        for j, (off, spr, dmin, dmax) in enumerate(self._cols):
            out[j] = recs[:, off:off + spr].reshape(-1)
            if not (dmin == 0 and dmax == pins.ADC_MAX_CODE):
                out[j] = (out[j] - dmin) * (pins.ADC_MAX_CODE / (dmax - dmin))
        return out

    def blocks(self, block_samples: int = 10_000) -> Iterator[np.ndarray]:
        for recs in self._record_blocks(block_samples):
            yield self._signals(recs).T

    def code_blocks(self, block_samples: int = 10_000) -> Iterator[np.ndarray]:
        # int16 where the stored numbers are the codes; channel-major, handed
        # out transposed: the detector copies it into its own channel-major
        # buffer in one contiguous pass
        dtype = np.int16 if self._codes_as_stored else np.float64
        for recs in self._record_blocks(block_samples):
            yield self._signals(recs, dtype).T

    def read(self, start: int, n: int) -> np.ndarray:
        """Samples ``start`` .. ``start + n`` as (n', channels) codes, n' <= n
        where the file ends (random access, for a twitch's waveform)."""
        start = max(0, int(start))
        first, last = start // self._spr, min(self._n_records, -(-(start + int(n)) // self._spr))
        if last <= first:
            return np.empty((0, len(self._cols)))
        rec_len = self._record_len
        with open(self._path, "rb") as f:
            f.seek(self._header_bytes + 2 * rec_len * first)
            raw = np.fromfile(f, dtype="<i2", count=(last - first) * rec_len)
        k = raw.size // rec_len
        out = self._signals(raw[:k * rec_len].reshape(k, rec_len)).T
        skip = start - first * self._spr
        return out[skip:skip + int(n)]


def edf_labels(names: Sequence[str]) -> list[str]:
    """:func:`edf_label` of each name, made distinct where names agree in
    their first 16 characters (readers such as MNE renumber duplicate
    labels) by a ``~n`` suffix; ``ch<n>`` for a name with nothing ASCII."""
    out: list[str] = []
    for i, name in enumerate(names):
        label = edf_label(name) or f"ch{i + 1}"
        k = i + 1
        while label.casefold() in {o.casefold() for o in out}:
            tail = f"~{k}"
            label = label[:EDF_LABEL_CHARS - len(tail)].rstrip() + tail
            k += len(names)
        out.append(label)
    return out


class EdfWriter:
    """Append-only EDF+ writer (pyedflib) taking blocks of codes.

    Buffers to whole 1-s records, writes each as soon as it is whole.
    The header's record count stays -1 until :meth:`close` (pyedflib/edflib
    behaviour); readers here and :func:`recover_edf` handle that.
    """

    def __init__(self, path: str | Path, rate_hz: float, channel_names: Sequence[str],
                 start: dt.datetime | None = None, *, patient: str = "X X X X"):
        import pyedflib  # noqa: PLC0415

        rate_hz = float(rate_hz)
        if rate_hz != int(rate_hz):
            raise TraceError(f"{path}: EDF writing needs a whole-number rate, not {rate_hz}")
        self.rate = int(rate_hz)
        self.n_channels = len(channel_names)
        self.path = str(path)
        try:
            self._w = pyedflib.EdfWriter(self.path, self.n_channels, file_type=pyedflib.FILETYPE_EDFPLUS)
        except OSError as exc:
            if exc.errno is None:  # pyedflib says "can not open file" whatever the cause: learn it
                with open(self.path, "ab"):
                    pass
            raise
        mv_max = round(pins.ADC_MAX_CODE * pins.VREF_V * 1000 / (pins.ADC_MAX_CODE + 1), 3)
        for i, label in enumerate(edf_labels(channel_names)):
            self._w.setSignalHeader(i, {
                "label": label, "dimension": "mV", "sample_frequency": self.rate,
                "physical_min": 0.0, "physical_max": mv_max,
                "digital_min": 0, "digital_max": pins.ADC_MAX_CODE,
                "transducer": "piezo MCP3008", "prefilter": "",
            })
        self._w.setEquipment("twitchmon")
        if start is not None:
            self._w.setStartdatetime(start.replace(tzinfo=None, microsecond=0))
        self._pending = np.empty((0, self.n_channels), dtype=np.int32)
        self.samples_written = 0
        self.failed: OSError | None = None  #: the write that failed; nothing more is written
        self.fd_for_sync = os.open(self.path, os.O_RDONLY)

    def _write_failed(self) -> OSError:
        """pyedflib reports a failed write (disk full, I/O error) by returning
        -1, not by raising: name it.  ENOSPC when the filesystem has less
        than a record free, else EIO."""
        record_bytes = 2 * self.rate * self.n_channels
        try:
            st = os.statvfs(os.path.dirname(os.path.abspath(self.path)))
            full = st.f_bavail * st.f_frsize < record_bytes
        except OSError:
            full = False
        code = errno.ENOSPC if full else errno.EIO
        self.failed = OSError(code, os.strerror(code), self.path)
        return self.failed

    def write(self, codes: np.ndarray) -> None:
        """Append codes; OSError if the file cannot take them (then and ever after)."""
        if self.failed is not None:
            raise self.failed
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[1] != self.n_channels:
            raise ValueError(f"expected (n, {self.n_channels}) codes, got {codes.shape}")
        buf = np.concatenate([self._pending, np.clip(np.rint(codes), 0, pins.ADC_MAX_CODE).astype(np.int32)])
        n_rec = len(buf) // self.rate
        for r in range(n_rec):
            rec = buf[r * self.rate:(r + 1) * self.rate]
            if self._w.blockWriteDigitalSamples(np.ascontiguousarray(rec.T).reshape(-1)) != 0:
                self._pending = buf[:0]
                raise self._write_failed()
            self.samples_written += self.rate
        self._pending = buf[n_rec * self.rate:]

    def annotate(self, onset_s: float, duration_s: float, text: str) -> None:
        self._w.writeAnnotation(float(onset_s), float(duration_s) if duration_s else -1, text)

    def sync(self) -> None:
        """Push written records to the disk (survives a power cut)."""
        os.fsync(self.fd_for_sync)

    def close(self) -> None:
        """Finish the file (header, annotations).  After a failed write the
        whole records before it stay readable; OSError if the last record
        cannot be written now."""
        if self._w is None:
            return
        try:
            if len(self._pending) and self.failed is None:  # pad the last record with its last value
                pad = np.repeat(self._pending[-1:], self.rate - len(self._pending), axis=0)
                self.write(np.concatenate([self._pending, pad]).astype(np.float64))
                self._pending = self._pending[:0]
        finally:
            self._w.close()
            self._w = None
            os.close(self.fd_for_sync)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def set_edf_start(path: str | Path, start: dt.datetime) -> None:
    """Rewrite a closed EDF(+) file's start date and time in place (header
    bytes 168-183 and EDF+'s ``Startdate`` in the recording field): for a
    night begun before a Pi's clock was set, once it is.  ``start`` in UTC."""
    start = start.astimezone(dt.timezone.utc).replace(tzinfo=None) if start.tzinfo else start
    if not 1985 <= start.year <= 2084:
        raise ValueError(f"EDF cannot hold the year {start.year}")
    with open(path, "r+b") as f:
        head = f.read(256)
        if len(head) < 256 or head[:8] != b"0       ":
            raise TraceError(f"{path}: not an EDF file (no EDF header)")
        f.seek(168)
        f.write(f"{start:%d.%m.}{start.year % 100:02d}{start:%H.%M.%S}".encode("ascii"))
        rec = head[88:168]
        if rec.startswith(b"Startdate "):
            months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
            token = f"{start.day:02d}-{months[start.month - 1]}-{start.year:04d}".encode("ascii")
            old = rec[10:].split(b" ", 1)[0]
            if len(old) == len(token):
                f.seek(88 + 10)
                f.write(token)
        f.flush()
        os.fsync(f.fileno())


def edf_is_unfinished(path: str | Path) -> bool:
    """True when the header's record count is -1 (the writer never closed)."""
    with open(path, "rb") as f:
        head = f.read(244)
    return len(head) == 244 and head[236:244].strip() == b"-1"


def recover_edf(path: str | Path, annotations: Iterable[tuple[float, float | None, str]] = ()) -> int:
    """Finish an EDF+ whose writer died: whole records kept, header fixed,
    annotations (from the store) written in.  Atomic: written beside the file
    and renamed over it.  Returns the samples per channel kept."""
    import edfio  # noqa: PLC0415

    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        edf = edfio.read_edf(path, lazy_load_data=False)
    edf.set_annotations([edfio.EdfAnnotation(float(o), float(d) if d else None, t)
                         for o, d, t in annotations if 0 <= o < edf.duration])
    tmp = path.with_suffix(".recovering")
    edf.write(tmp)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    data_signals = [sig for sig in edf.signals]
    return edf.num_data_records * (data_signals[0].samples_per_data_record if data_signals else 0)


# -- WAV ---------------------------------------------------------------------

class WavReader(TraceReader):
    def __init__(self, path: Path):
        where = str(path)
        try:
            self._w = wave.open(str(path), "rb")
        except (wave.Error, EOFError, struct.error, RuntimeError, OverflowError, ValueError) as exc:
            # (the wave module raises a bare RuntimeError for a chunk size past the end)
            raise TraceError(f"{where}: not a readable WAV file ({exc or 'header cut short'})") from None
        if self._w.getsampwidth() != 2 or self._w.getcomptype() != "NONE":
            self._w.close()
            raise TraceError(f"{where}: WAV must be 16-bit PCM")
        rate = _check_rate(float(self._w.getframerate()), where)
        nch = self._w.getnchannels()
        nframes = self._w.getnframes()
        data_start = self._w._data_chunk.offset + 8  # noqa: SLF001 - where the frames begin
        avail = (os.path.getsize(path) - data_start) // (2 * nch)
        truncated = avail < nframes
        self.info = TraceInfo(where, "wav", rate, nch, min(nframes, avail), None,
                              [], truncated, ["file shorter than its header says"] if truncated else [])

    def blocks(self, block_samples: int = 10_000) -> Iterator[np.ndarray]:
        nch = self.info.channels
        left = self.info.n_samples
        while left > 0:
            raw = self._w.readframes(min(block_samples, left))
            n = len(raw) // (2 * nch)
            if n == 0:
                return
            left -= n
            x = np.frombuffer(raw[: n * 2 * nch], dtype="<i2").reshape(n, nch)
            yield x.astype(np.float64) / WAV_SCALE + CODE_MID

    def close(self) -> None:
        self._w.close()


class WavWriter:
    def __init__(self, path, rate_hz, channel_names, start=None):
        self._w = wave.open(str(path), "wb")
        self._w.setnchannels(len(channel_names))
        self._w.setsampwidth(2)
        self._w.setframerate(int(round(rate_hz)))

    def write(self, codes):
        pcm = np.clip(np.rint((np.asarray(codes, dtype=np.float64) - CODE_MID) * WAV_SCALE), -32768, 32767)
        self._w.writeframes(pcm.astype("<i2").tobytes())

    def annotate(self, *a):
        pass

    def close(self):
        self._w.close()


# -- NPZ ---------------------------------------------------------------------

class _ZipMembers:
    """Walk a zip's local headers from the front, so a file cut short (its
    central directory lost) still gives the members before the cut."""

    def __init__(self, path: Path):
        self.path = path

    def members(self) -> Iterator[tuple[str, Iterator[bytes]]]:
        with open(self.path, "rb") as f:
            while True:
                head = f.read(30)
                if len(head) < 30 or head[:4] != b"PK\x03\x04":
                    return
                (_, _, flags, method, _, _, _, csize, usize, nlen, xlen) = struct.unpack("<4sHHHHHIIIHH", head)
                name = f.read(nlen).decode("utf-8", "replace")
                extra = f.read(xlen)
                if csize == 0xFFFFFFFF:  # zip64: sizes in the extra field
                    i = 0
                    while i + 4 <= len(extra):
                        hid, hlen = struct.unpack("<HH", extra[i:i + 4])
                        if hid == 1:
                            usize, csize = struct.unpack("<QQ", extra[i + 4:i + 20])
                        i += 4 + hlen
                if method not in (0, 8):
                    raise TraceError(f"{self.path}: zip member {name} uses compression {method}")
                start = f.tell()
                yield name, self._chunks(f, method, csize if not flags & 8 or csize else None)
                if flags & 8 and not csize:
                    return  # streamed member of unknown size: cannot find the next header
                f.seek(start + csize)
                if flags & 8:  # a data descriptor follows the data: find the next header
                    tail = f.read(32)
                    k = tail.find(b"PK\x03\x04")
                    if k < 0:
                        return
                    f.seek(start + csize + k)

    @staticmethod
    def _chunks(f, method: int, size: int | None) -> Iterator[bytes]:
        left = size if size is not None else float("inf")
        dec = zlib.decompressobj(-15) if method == 8 else None
        while left > 0:
            raw = f.read(int(min(1 << 20, left)))
            if not raw:
                return
            left -= len(raw)
            if dec is None:
                yield raw
            else:
                try:
                    out = dec.decompress(raw)
                except zlib.error:
                    return  # corrupt from here on: keep what came before
                if out:
                    yield out
                if dec.eof:
                    return


def _npy_header(stream: Iterator[bytes], where: str) -> tuple[np.dtype, tuple, bytes]:
    buf = b""
    for chunk in stream:
        buf += chunk
        if len(buf) >= 10:
            break
    if buf[:6] != b"\x93NUMPY":
        raise TraceError(f"{where}: member is not a .npy array")
    major = buf[6]
    hlen_size = 2 if major == 1 else 4
    while len(buf) < 8 + hlen_size:
        nxt = next(stream, b"")
        if not nxt:
            raise TraceError(f"{where}: .npy header cut short")
        buf += nxt
    hlen = int.from_bytes(buf[8:8 + hlen_size], "little")
    while len(buf) < 8 + hlen_size + hlen:
        nxt = next(stream, b"")
        if not nxt:
            raise TraceError(f"{where}: .npy header cut short")
        buf += nxt
    import ast  # noqa: PLC0415

    try:
        d = ast.literal_eval(buf[8 + hlen_size:8 + hlen_size + hlen].decode("latin1"))
        dtype = np.dtype(d["descr"])
        shape = tuple(int(s) for s in d["shape"])
        fortran = bool(d["fortran_order"])
    except (ValueError, SyntaxError, KeyError, TypeError) as exc:
        raise TraceError(f"{where}: bad .npy header ({exc})") from None
    if fortran and len(shape) > 1 and shape[1] > 1:
        raise TraceError(f"{where}: Fortran-ordered arrays are not supported")
    if dtype.hasobject:
        raise TraceError(f"{where}: object arrays are not read (unsafe)")
    return dtype, shape, buf[8 + hlen_size + hlen:]


class NpzReader(TraceReader):
    def __init__(self, path: Path):
        where = str(path)
        with open(path, "rb") as f:
            if f.read(4) != b"PK\x03\x04":
                raise TraceError(f"{where}: not an .npz (zip) file")
        self._path = path
        meta: dict[str, np.ndarray] = {}
        counts_seen = False
        for name, stream in _ZipMembers(path).members():
            key = name[:-4] if name.endswith(".npy") else name
            if key == "counts":
                counts_seen = True
                dtype, shape, _ = _npy_header(stream, f"{where}:counts")
                self._counts_dtype, self._counts_shape = dtype, shape
                continue
            if key in ("rate_hz", "start_unix", "channel_names"):
                dtype, shape, rest = _npy_header(stream, f"{where}:{key}")
                data = rest + b"".join(stream)
                n = int(np.prod(shape)) if shape else 1
                if len(data) < n * dtype.itemsize:
                    continue
                meta[key] = np.frombuffer(data[: n * dtype.itemsize], dtype=dtype).reshape(shape)
        if not counts_seen:
            raise TraceError(f"{where}: .npz has no 'counts' array")
        if "rate_hz" not in meta:
            raise TraceError(f"{where}: .npz has no 'rate_hz' (or the file is cut before it)")
        if len(self._counts_shape) not in (1, 2) or self._counts_dtype.kind not in "uif":
            raise TraceError(f"{where}: 'counts' must be a (samples, channels) number array")
        rate = _check_rate(float(np.asarray(meta["rate_hz"]).reshape(-1)[0]), where)
        nch = self._counts_shape[1] if len(self._counts_shape) == 2 else 1
        if nch < 1:
            raise TraceError(f"{where}: 'counts' has no channels")
        names = [str(s) for s in meta.get("channel_names", np.array([])).reshape(-1)]
        start = meta.get("start_unix")
        self._expected = self._counts_shape[0]
        self.info = TraceInfo(where, "npz", rate, nch, None,
                              float(np.asarray(start).reshape(-1)[0]) if start is not None else None,
                              names, False)

    def blocks(self, block_samples: int = 10_000) -> Iterator[np.ndarray]:
        nch = self.info.channels
        for name, stream in _ZipMembers(self._path).members():
            if name not in ("counts.npy", "counts"):
                continue
            dtype, _, buf = _npy_header(stream, f"{self.info.path}:counts")
            frame = dtype.itemsize * nch
            want = block_samples * frame
            got = 0
            for chunk in stream:
                buf += chunk
                while len(buf) >= want:
                    block, buf = buf[:want], buf[want:]
                    got += block_samples
                    yield np.frombuffer(block, dtype=dtype).reshape(-1, nch).astype(np.float64)
            n = len(buf) // frame
            got += n
            if n:
                yield np.frombuffer(buf[: n * frame], dtype=dtype).reshape(-1, nch).astype(np.float64)
            self.info.n_samples = got
            self.info.truncated = got < self._expected
            return


class NpzWriter:
    """Streams ``counts`` into an uncompressed .npz; metadata members first
    so that a file cut short keeps its rate."""

    def __init__(self, path, rate_hz, channel_names, start=None, *, n_samples: int):
        self._z = zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True)
        meta = {"rate_hz": np.float64(rate_hz), "channel_names": np.array([str(n) for n in channel_names])}
        if start is not None:
            meta["start_unix"] = np.float64(start.timestamp())
        for k, v in meta.items():
            with self._z.open(k + ".npy", "w") as m:
                np.lib.format.write_array(m, np.asarray(v), allow_pickle=False)
        self._m = self._z.open("counts.npy", "w", force_zip64=True)
        np.lib.format.write_array_header_1_0(
            self._m, {"descr": "<u2", "fortran_order": False, "shape": (int(n_samples), len(channel_names))})
        self._left = int(n_samples)

    def write(self, codes):
        codes = np.clip(np.rint(np.asarray(codes)), 0, pins.ADC_MAX_CODE).astype("<u2")[: self._left]
        self._left -= len(codes)
        self._m.write(codes.tobytes())

    def annotate(self, *a):
        pass

    def close(self):
        self._m.close()
        self._z.close()


# -- CSV ---------------------------------------------------------------------

def _csv_rows(reader, where: str):
    """The csv module's rows, its errors (a stray quote swallowing the file,
    a NUL byte) as one-line TraceErrors naming the line."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise TraceError(f"{where}: line {reader.line_num}: {exc}") from None
        yield row


CSV_MAX_ABS = 1e6  #: largest |value| a CSV sample may hold, codes (a 20-bit ADC's range, with room)


def _csv_value(text: str) -> float:
    """One CSV sample as codes: a finite number no larger than ``CSV_MAX_ABS``
    (``nan``, ``inf`` and 1e308 are not a sensor's output; they would only
    overflow the detector's sums)."""
    v = float(text)
    if not (math.isfinite(v) and abs(v) <= CSV_MAX_ABS):
        raise ValueError(f"{text.strip()!r} is not a sample (a finite number within +-{CSV_MAX_ABS:g})")
    return v


class CsvReader(TraceReader):
    def __init__(self, path: Path, rate_hz: float | None = None):
        where = str(path)
        self._path = path
        try:
            with open(path, newline="", encoding="utf-8") as f:
                reader = csv.reader(f)
                header = next(reader, None)
                first = []  # (line number, row) of the first two data rows
                for row in reader:
                    if row:
                        first.append((reader.line_num, row))
                    if len(first) == 2:
                        break
        except UnicodeDecodeError:
            raise TraceError(f"{where}: not a text CSV file") from None
        except csv.Error as exc:
            raise TraceError(f"{where}: not a CSV file ({exc})") from None
        if not header or not first:
            raise TraceError(f"{where}: CSV has no header and data rows")
        header = [h.strip() for h in header]
        self._has_t = header[0].lower() in ("t", "time", "time_s", "t_s")
        nch = len(header) - (1 if self._has_t else 0)
        if nch < 1:
            raise TraceError(f"{where}: CSV has no channel columns")
        rows = []
        for line, r in first:
            if len(r) != len(header):
                raise TraceError(f"{where}: line {line}: {len(r)} fields, header has {len(header)}")
            try:
                rows.append([_csv_value(v) for v in r])
            except ValueError as exc:
                raise TraceError(f"{where}: line {line}: {exc}") from None
        if self._has_t:
            if len(rows) < 2 or rows[1][0] <= rows[0][0]:
                raise TraceError(f"{where}: column t must increase to give the rate")
            rate = 1.0 / (rows[1][0] - rows[0][0])
            rate = round(rate, 6)
        elif rate_hz is not None:
            rate = rate_hz
        else:
            raise TraceError(f"{where}: CSV without a t column needs --rate")
        rate = _check_rate(rate, where)
        self.info = TraceInfo(where, "csv", rate, nch, None, None,
                              header[1:] if self._has_t else header, False)

    def blocks(self, block_samples: int = 10_000) -> Iterator[np.ndarray]:
        width = self.info.channels + (1 if self._has_t else 0)
        skip = 1 if self._has_t else 0
        total = 0
        with open(self._path, "rb") as fb:  # a last line without its newline was cut mid-row
            fb.seek(0, os.SEEK_END)
            size = fb.tell()
            fb.seek(max(size - 1, 0))
            cut_last = size > 0 and fb.read(1) not in (b"\n", b"\r")
        # a damaged byte becomes U+FFFD, so its row fails to parse like any
        # other bad row.  Only the last line, and only when the file does not
        # end with a newline, is a row cut by a power failure; any other bad
        # row is an error at its own line.
        with open(self._path, newline="", encoding="utf-8", errors="replace") as f:
            reader = csv.reader(f)
            next(reader)
            rows: list[list[float]] = []
            bad: tuple[int, str] | None = None
            for row in _csv_rows(reader, self.info.path):
                if bad is not None:
                    raise TraceError(f"{self.info.path}: line {bad[0]}: {bad[1]}")
                if not row:
                    continue
                try:
                    if len(row) != width:
                        raise ValueError(f"{len(row)} fields, header has {width}")
                    rows.append([_csv_value(v) for v in row[skip:]])
                except ValueError as exc:
                    bad = (reader.line_num, str(exc).splitlines()[0])  # the cut end if no row follows
                    continue
                if len(rows) == block_samples:
                    total += len(rows)
                    yield np.array(rows, dtype=np.float64)
                    rows = []
            if bad is not None and not cut_last:  # whole last line, and not a sample: not a power cut
                raise TraceError(f"{self.info.path}: line {bad[0]}: {bad[1]}")
            if cut_last and bad is None and rows:
                rows.pop()
                bad = (0, "cut")
            if rows:
                total += len(rows)
                yield np.array(rows, dtype=np.float64)
        self.info.truncated = bad is not None
        self.info.n_samples = total


class CsvWriter:
    def __init__(self, path, rate_hz, channel_names, start=None):
        self._f = open(path, "w", newline="", encoding="utf-8")
        self._w = csv.writer(self._f)
        self._w.writerow(["t"] + [str(n) for n in channel_names])
        self._rate = float(rate_hz)
        self._n = 0

    def write(self, codes):
        codes = np.clip(np.rint(np.asarray(codes)), 0, pins.ADC_MAX_CODE).astype(int)
        t = (self._n + np.arange(len(codes))) / self._rate
        self._n += len(codes)
        buf = io.StringIO()
        w = csv.writer(buf)
        for ti, row in zip(t, codes.tolist()):
            w.writerow([f"{ti:.6f}"] + row)
        self._f.write(buf.getvalue())

    def annotate(self, *a):
        pass

    def close(self):
        self._f.close()


# -- entry points ------------------------------------------------------------

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
