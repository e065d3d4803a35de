"""``twitchmon report``: the doctor's report for a period's nights, as an A4 PDF."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import UsageError
from ..paths import data_dir
from ..report import ReportError, gather, parse_period
from ..report_pdf import render_pdf
from ..store import DB_NAME, open_store


def main(args) -> int:
    try:
        a, b = parse_period(args.date_from, args.date_to)
    except ReportError as exc:
        raise UsageError(f"twitchmon report: {exc}") from None
    d = data_dir(args.data_dir)
    if not (Path(d) / DB_NAME).is_file():  # never a new, empty database just to say there is nothing
        raise UsageError(f"twitchmon report: no nights in {d} (no {DB_NAME} there; see --data-dir)")
    store = open_store(d)
    try:
        data = gather(store, a, b)
    except ReportError as exc:
        raise UsageError(f"twitchmon report: {exc}") from None
    finally:
        store.close()
    pdf = render_pdf(data)
    out = Path(args.out)
    if out.is_dir():
        raise UsageError(f"twitchmon report: --out {args.out} is a directory; give a file name (FILE.pdf)")
    tmp = Path(f"{args.out}.part")
    try:  # whole or not at all: a half-written report is worse than none
        tmp.write_bytes(pdf)
        os.replace(tmp, args.out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        # the error names the file asked for, not the temporary one beside it
        raise OSError(exc.errno, exc.strerror, args.out) from None
    print(f"{args.out}: {data['nights']} nights from {data['from']} to {data['to']}, {len(pdf) // 1024} KB")
    return 0
