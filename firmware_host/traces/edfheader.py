"""The EDF fixed header's fields (EDF specification, section 2.1): read
and checked against each other and the file before a reader trusts them."""
from __future__ import annotations

import datetime as dt
import math

from .base import TraceError


def _text(field) -> str:
    return field.decode("ascii") if isinstance(field, (bytes, bytearray)) else str(field)


def header_date(edf) -> dt.date:
    """Start date: the EDF+ recording field's 4-digit year if there, else the
    header's dd.mm.yy (85-99 are 19xx, per the EDF specification)."""
    try:
        return edf.recording.startdate
    except (ValueError, IndexError):  # plain EDF, anonymised ('X') or a garbled field: use the header's dd.mm.yy
        d, m, y = (int(v) for v in _text(edf._startdate).split("."))  # noqa: SLF001
        return dt.date(1900 + y if y >= 85 else 2000 + y, m, d)


def header_time(edf) -> dt.time:
    h, m, s = (int(v) for v in _text(edf._starttime).split("."))  # noqa: SLF001
    return dt.time(h, m, s)


def check_fixed_header(head: bytes, size: int, where: str) -> int:
    """Check the 256-byte fixed header's numbers against each other and the
    file (EDF spec: header bytes = 256 x (signals + 1), records of a
    duration > 0); returns the data records it declares (-1: not closed).
    A header that disagrees with itself would put every sample in the
    wrong place, so it is refused rather than read."""
    def number(lo, hi, name, kind):
        text = head[lo:hi].decode("ascii", "replace").strip()
        try:
            return kind(text)
        except ValueError:
            raise TraceError(f"{where}: bad EDF header: {name} is {text!r}, not a number") from None
    header_bytes = number(184, 192, "the header's length", int)
    records = number(236, 244, "the number of data records", int)
    duration_s = number(244, 252, "the data record duration", float)
    signals = number(252, 256, "the number of signals", int)
    if signals < 1:
        raise TraceError(f"{where}: EDF file has no signals")
    if header_bytes != 256 * (signals + 1):
        raise TraceError(f"{where}: bad EDF header: it says {header_bytes} header bytes, but "
                         f"{signals} signals take {256 * (signals + 1)}")
    if size < header_bytes:
        raise TraceError(f"{where}: the file ends inside its header ({size} of {header_bytes} bytes)")
    if not (duration_s > 0 and math.isfinite(duration_s)):
        raise TraceError(f"{where}: bad EDF header: a data record lasts {duration_s:g} s")
    if records < -1:
        raise TraceError(f"{where}: bad EDF header: {records} data records")
    return records
