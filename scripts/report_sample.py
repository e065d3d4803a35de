"""The README's picture of the doctor's report: simulated weeks, the report
made as ``twitchmon report`` makes it, and each page rendered to PNG by
poppler's ``pdftoppm`` (page one is the one the README shows).

    python scripts/report_sample.py [OUT_DIR]      (default: docs/report; writes report.pdf, page-1.png, ...)
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from firmware_host.cli import main as cli
from twitchmon_testkit.doctorlib import fill_weeks

ROOT = Path(__file__).resolve().parent.parent


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix="twitchmon-report-")) / "data"
    period = fill_weeks(str(d), nights=28, minutes=3.0)
    pdf = out / "report.pdf"
    if cli(["report", "--from", period["from"], "--to", period["to"], "--out", str(pdf), "--data-dir", str(d)]):
        raise SystemExit("report failed")
    for old in out.glob("page-*.png"):
        old.unlink()
    # 72 dpi: an A4 page 595 px wide, readable in the README and small in the repository
    subprocess.run(["pdftoppm", "-png", "-r", "72", str(pdf), str(out / "page")], check=True)
    pages = sorted(out.glob("page-*.png"))
    for p in pages:  # pdftoppm pads the number by the page count: page-1.png for fewer than 10 pages
        print(f"{p}: {p.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "report")
