"""Simulated weeks for the doctor's report: nights simulated and detected
as the demo stores them, with leg movements in periodic series, cramps
logged the three ways and diary entries.  Shared by tests/test_for_the_doctor.py,
benchmarks/bench_report.py and scripts/report_sample.py (the README's picture of page one)."""
from __future__ import annotations

import datetime as dt

from firmware_host.demo import fill_nights
from firmware_host.store import open_store


def fill_weeks(data_dir: str, nights: int = 15, minutes: float = 2.0, *, today: dt.date | None = None) -> dict:
    """``nights`` nights ending last night; returns {"ids", "from", "to"} (dates YYYY-MM-DD).

    Every third night gets a periodic series of 5 left-leg movements 20 s
    apart (5 PLMs by WASM 2016), every fourth a bilateral one of 4; the
    newest night a timed cramp from the page, the one before a diary entry
    of two cramps; the diary ticks magnesium on even nights."""
    today = today or dt.date.today()
    ids = fill_nights(data_dir, nights, minutes, today=today, log=lambda *_: None)
    st = open_store(data_dir)
    try:
        for k, nid in enumerate(ids):
            n = st.night(nid)
            if k % 3 == 0:
                st.add_events(nid, movements=[{"t": 5.0 + 20 * i, "end": 6.5 + 20 * i, "channels": [0, 1]}
                                              for i in range(5)])
            elif k % 4 == 1:
                st.add_events(nid, movements=[{"t": 8.0 + 25 * i, "end": 10.0 + 25 * i, "channels": [0, 1, 2, 3]}
                                              for i in range(4)])
            st.refresh_counts(nid)
            st.set_diary(n["date"], ["magnesium"] if k % 2 == 0 else ["caffeine"], "", "2026-01-01T08:00:00+00:00")
        last, before = st.night(ids[-1]), st.night(ids[-2])
        st.add_cramp(date=last["date"], source="page", night_id=last["id"], t=90.0, leg="left",
                     at_utc=last["start_utc"])
        st.set_diary_cramps(before["date"], 2, "right", 6)
    finally:
        st.close()
    return {"ids": ids, "from": (today - dt.timedelta(days=nights)).isoformat(),
            "to": (today - dt.timedelta(days=1)).isoformat()}
