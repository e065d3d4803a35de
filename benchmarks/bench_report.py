"""How long the doctor's report takes for a month of nights: gathering the
figures from the store (with and without the typical waveforms, read from
the snippets the daemon stored) and drawing the PDF.  Simulated nights as the tests use.

    python benchmarks/bench_report.py [NIGHTS] [MINUTES]     (default 30 nights of 5 minutes)
"""
import sys
import tempfile
import time
from pathlib import Path

from firmware_host.report import gather, parse_period
from firmware_host.report_pdf import render_pdf
from firmware_host.store import open_store
from twitchmon_testkit.doctorlib import fill_weeks


def main(nights=30, minutes=5.0):
    d = Path(tempfile.mkdtemp(prefix="twitchmon-bench-report-")) / "data"
    period = fill_weeks(str(d), nights=nights, minutes=minutes)
    a, b = parse_period(period["from"], period["to"])
    st = open_store(d)
    gather(st, a, b, waveforms=False)  # once first: a cold cache is not the report's time
    for waves in (False, True):
        t0 = time.perf_counter()
        data = gather(st, a, b, waveforms=waves)
        t1 = time.perf_counter()
        pdf = render_pdf(data)
        t2 = time.perf_counter()
        print(f"{nights} nights, waveforms {'on ' if waves else 'off'}: gather {t1 - t0:.2f} s, "
              f"PDF {t2 - t1:.2f} s, {len(pdf) // 1024} KB")
    st.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30, float(sys.argv[2]) if len(sys.argv) > 2 else 5.0)
