"""``twitchmon demo``: simulated nights, detection, storage and the page.

Everything lives in a temporary data dir that is removed on exit.  The page
is up within seconds; nights are simulated faster than real time in the
background and appear on it one by one (newest first).
"""
from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import threading

from .analysis import build_report, save_report
from .detector import Detector, DetectorConfig, Events
from .simulator import Night
from .store import open_store


def fill_nights(data_dir: str, nights: int, minutes: float, *, today: dt.date | None = None,
                log=print) -> list[int]:
    """Simulate, detect and store ``nights`` nights ending last night."""
    store = open_store(data_dir)
    today = today or dt.date.today()
    ids = []
    for i in range(nights):
        day = today - dt.timedelta(days=nights - i)
        start = dt.datetime.combine(day, dt.time(23, 0)).astimezone()
        night = Night(minutes, seed=1000 + i, profile="hard" if i % 3 == 2 else "normal")
        det = Detector(DetectorConfig(rate_hz=night.rate_hz, channels=night.channels))
        ev = Events()
        for block in night.blocks(50_000):
            ev.extend(det.process(block))
        ev.extend(det.finish())
        report = build_report(f"simulated night {i + 1}", night.rate_hz, night.channels, night.n_samples,
                              ev, det, start_unix=start.timestamp())
        ids.append(save_report(store, report, source="simulator"))
        log(f"twitchmon demo: night of {day} simulated: {report['counts']['total']} twitches")
    store.close()
    return ids


def run_demo(port: int = 8080, nights: int = 5, minutes: float = 20.0) -> int:
    from web import create_app, serve  # noqa: PLC0415

    data_dir = tempfile.mkdtemp(prefix="twitchmon-demo-")
    try:
        app = create_app({"DATA_DIR": data_dir, "HOST": "127.0.0.1", "DEMO": True})
        t = threading.Thread(target=fill_nights, args=(data_dir, nights, minutes), daemon=True)
        t.start()
        print(f"twitchmon demo: data in {data_dir} (removed on exit). Not a medical device.", flush=True)
        serve(app, "127.0.0.1", port)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0
