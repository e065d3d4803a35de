"""Finishing what a crash left: recordings whose writer died and nights
still marked as recording."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..events import summary_from_store
from ..log import get_logger
from ..traces import edf_is_unfinished, recover_edf

log = get_logger(__name__)


def recover(store, data_dir: Path) -> int:
    """Finish recordings and nights left behind by a crash.  Returns how many."""
    fixed = 0
    for rec in store.recordings(unfinished=True):
        path = data_dir / rec["path"]
        if not path.exists() or path.stat().st_size < 256:
            store.finish_recording(rec["id"], 0)
            continue
        if edf_is_unfinished(path):
            ann = [(tw["t"] - rec["start_t"], 0.0, f"twitch {tw['channel']}")
                   for tw in store.twitches(rec["night_id"])]
            ann += [(m["t"] - rec["start_t"], m["end"] - m["t"], "movement")
                    for m in store.movements(rec["night_id"])]
            try:
                n = recover_edf(path, ann)
            except (ValueError, OSError) as exc:
                log.warning(f"cannot recover {path}: {exc}")
                continue
            store.finish_recording(rec["id"], n)
            fixed += 1
    for night in store.nights(100000):
        if night["status"] == "recording":
            recs = store.recordings(night["id"])
            dur = max([r["start_t"] + r["samples"] / night["rate_hz"] for r in recs if r["samples"]] or [0])
            start = dt.datetime.fromisoformat(night["start_utc"])
            store.update_night(night["id"], status="recovered", duration_s=dur,
                               end_utc=(start + dt.timedelta(seconds=dur)).isoformat(timespec="seconds"),
                               summary=summary_from_store(store, night["id"], dur))
            store.refresh_counts(night["id"])
            fixed += 1
    return fixed
