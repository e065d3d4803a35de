"""CSV: a header row, optional first column ``t`` (seconds), then a column
per channel.  The rate comes from ``t``; without it, from ``rate_hz``."""
from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .. import pins
from .base import SidecarAnnotations, TraceError, TraceInfo, TraceReader, _check_rate


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


class CsvWriter(SidecarAnnotations):
    def __init__(self, path, rate_hz, channel_names, start=None):
        SidecarAnnotations.__init__(self, path)
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

    def close(self):
        self._write_annotations()
        self._f.close()
