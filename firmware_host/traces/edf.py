"""EDF and EDF+: twitchmon's own recordings (pyedflib writes them) and any
other sleep-lab file (edfio parses the header).

the digital values.  A foreign file's digital range is mapped
  linearly onto 0..1023, so "codes" means "the file's own units scaled to a
  10-bit range".  Headers are parsed by edfio, which also tolerates a
  header whose record count is -1 or too large (a recording cut by a power
  failure); samples are read record by record with plain file reads.
  twitchmon writes EDF+ with pyedflib, which appends whole records.
"""
from __future__ import annotations

import datetime as dt
import errno
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import edfio
import numpy as np
import pyedflib

from .. import pins
from ..sites import EDF_LABEL_CHARS, edf_label
from .base import TraceError, TraceInfo, TraceReader, _check_rate
from .edfheader import check_fixed_header, header_date, header_time


class EdfReader(TraceReader):
    def __init__(self, path: Path):
        where = str(path)
        with open(path, "rb") as f:
            head = f.read(256)
        if len(head) < 256 or head[:8] != b"0       ":
            raise TraceError(f"{where}: not an EDF file (no EDF header)")
        declared = check_fixed_header(head, os.path.getsize(path), where)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                edf = edfio.read_edf(path, lazy_load_data=True)
        except OSError as exc:
            raise TraceError(f"{where}: bad EDF header: {str(exc).splitlines()[0]}") from None
        except Exception as exc:  # noqa: BLE001 - whatever the parser trips on in a damaged signal header
            raise TraceError(f"{where}: bad EDF header: the signal headers cannot be read "
                             f"({type(exc).__name__})") from None
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
        if declared >= 0 and whole < declared and not truncated:
            # cut on a record's boundary: every record whole, but fewer than the header says
            truncated = True
            notes.append(f"the header says {declared} data records, the file holds {whole}")
        start_unix = self._start_unix(edf, path)
        self._path = path
        self.info = TraceInfo(where, "edf", rate, len(self._cols), self._n_records * self._spr,
                              start_unix, raw_labels, truncated, notes, gain=_gain_from(signals))
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
            start = dt.datetime.combine(header_date(edf), header_time(edf))
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


def _gain_from(signals) -> float:
    """The board gain a recording's prefilter field names ("gain:2.22"), else 1."""
    for sig in signals[:1]:
        m = re.search(r"gain:([0-9.]+)", str(getattr(sig, "prefiltering", "") or ""))
        if m:
            try:
                g = float(m.group(1))
            except ValueError:
                return 1.0
            return g if 0.01 < g < 1000 else 1.0
    return 1.0


class EdfWriter:
    """Append-only EDF+ writer (pyedflib) taking blocks of codes.

    Buffers to whole 1-s records, writes each as soon as it is whole.
    The header's record count stays -1 until :meth:`close` (pyedflib/edflib
    behaviour); readers here and :func:`recover_edf` handle that.
    """

    def __init__(self, path: str | Path, rate_hz: float, channel_names: Sequence[str],
                 start: dt.datetime | None = None, *, patient: str = "X X X X", gain: float = 1.0):
        """``gain``: the sensor board's, kept in each signal's prefilter field
        so a replay judges the recording as the live detector did."""
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
                "transducer": "piezo MCP3008", "prefilter": f"gain:{gain:.4g}" if gain != 1.0 else "",
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
