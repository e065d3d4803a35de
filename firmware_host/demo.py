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
import time
from pathlib import Path

from web import create_app, make_server, serve

from . import pins
from .analysis import build_report, save_report
from .heart import HeartTrack
from .injection import check_night
from .detector import Detector, DetectorConfig, Events
from .events import how_many
from .live import publish
from .simulator import Night
from .snippets import make_snippets
from .store import open_store
from .traces import EdfWriter


def fill_nights(data_dir: str, nights: int, minutes: float, *, today: dt.date | None = None,
                log=print, stop: threading.Event | None = None) -> list[int]:
    """Simulate, detect and store ``nights`` nights ending last night (until ``stop`` is set)."""
    store = open_store(data_dir)
    today = today or dt.date.today()
    ids = []
    for i in range(nights):
        day = today - dt.timedelta(days=nights - i)
        start = dt.datetime.combine(day, dt.time(23, 0)).astimezone()
        night = Night(minutes, seed=1000 + i, profile="hard" if i % 3 == 2 else "normal")
        det = Detector(DetectorConfig(rate_hz=night.rate_hz, channels=night.channels))
        heart = HeartTrack()
        ev = Events()
        # the raw night as the daemon keeps it, so the page has waveforms and downloads
        rel = Path("recordings") / day.isoformat() / f"demo-{i + 1}-230000.edf"
        (Path(data_dir) / rel).parent.mkdir(parents=True, exist_ok=True)
        names = pins.site_names(night.channels)
        writer = EdfWriter(Path(data_dir) / rel, night.rate_hz, names, start.astimezone(dt.timezone.utc))
        for block in night.blocks(50_000):
            if stop is not None and stop.is_set():  # the demo is ending: its dir is about to go
                writer.close()
                store.close()
                return ids
            writer.write(block)
            ev.extend(det.process(block))
            heart.update(det)
        ev.extend(det.finish())
        heart.update(det)
        for tw in ev.twitches:
            writer.annotate(tw.t, 0, f"twitch {names[tw.channel]}")
        for m in ev.movements:
            writer.annotate(m.t, m.end - m.t, "movement")
        writer.close()
        report = build_report(f"simulated night {i + 1}", night.rate_hz, night.channels, night.n_samples,
                              ev, det, start_unix=start.timestamp(), heart=heart)
        nid, _ = save_report(store, report, source="simulator")
        store.finish_recording(store.add_recording(nid, str(rel), 0.0), writer.samples_written)
        make_snippets(store, data_dir, nid)  # the gallery's waveforms, as the daemon makes them at a night's end
        check_night(store, data_dir, nid)  # the night checks itself, as the daemon has it done after each night
        ids.append(nid)
        log(f"twitchmon demo: night of {day} simulated: {how_many(report['counts']['total'], 'twitch', 'twitches')}")
    store.close()
    return ids


def live_feed(data_dir: str, stop: threading.Event, *, seed: int = 7, block_s: float = 0.1) -> None:
    """Play a simulated night into the live signal ring at real time, as
    the daemon does with the sensors, so the demo's Tonight page moves."""
    night = Night(30.0, seed=seed, profile="normal")
    store = open_store(data_dir)
    try:
        ring = publish(store, data_dir, night.channels, night.rate_hz)
    finally:
        store.close()
    n = int(block_s * night.rate_hz)
    pos, next_t = 0, time.monotonic()
    try:
        while not stop.is_set():
            if pos + n > night.n_samples:
                pos = 0
            ring.write(night.render(pos, n))
            pos += n
            next_t += block_s
            stop.wait(max(0.0, next_t - time.monotonic()))
    finally:
        ring.close()


def run_demo(port: int = 8080, nights: int = 5, minutes: float = 20.0) -> int:
    """The demo until SIGTERM or Ctrl-C; its data dir is removed however it ends
    (a busy port included: the server listens before anything writes there)."""
    data_dir = tempfile.mkdtemp(prefix="twitchmon-demo-")
    stop = threading.Event()
    workers = []
    try:
        app = create_app({"DATA_DIR": data_dir, "HOST": "127.0.0.1", "DEMO": True})
        server = make_server(app, "127.0.0.1", port)
        workers = [threading.Thread(target=fill_nights, args=(data_dir, nights, minutes),
                                    kwargs={"stop": stop}, daemon=True),
                   threading.Thread(target=live_feed, args=(data_dir, stop), daemon=True)]
        for t in workers:
            t.start()
        print(f"twitchmon demo: data in {data_dir} (removed on exit). Not a medical device.", flush=True)
        serve(app, "127.0.0.1", port, server=server)
    finally:
        stop.set()
        for t in workers:  # so none writes into the dir after it is removed
            t.join(10.0)
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0
