"""``twitchmon run``: sample, detect, record, store.

The sampler runs in its own process (:class:`~firmware_host.sampler.SamplerProcess`)
and hands 100 ms blocks through a bounded queue.  This process feeds them to
the detector and the recorder, writes events to the store as they become
final, and keeps the night's counts current.  SIGTERM stops it cleanly.

Crash safety: EDF+ records are appended as each second completes and pushed
to disk every ``SYNC_S`` seconds; events are committed as the detector
finalises them.  On the next start, :func:`recover` finishes any recording
whose writer died (header fixed, annotations rebuilt from the store) and
marks its night ``recovered``, so a kill -9 or power cut costs a few seconds
of signal and no stored night.
"""
from __future__ import annotations

import datetime as dt
import os
import queue
import signal
import sys
import time
from pathlib import Path

import numpy as np

from . import pins
from .analysis import night_date, summary_from_store
from .paths import data_dir as resolve_data_dir
from .store import open_store
from .schedule import clock_is_set
from .traces import EdfWriter, edf_is_unfinished, recover_edf

SYNC_S = 2.0  #: fsync interval for the raw recording, s
FILE_S = 3600.0  #: one EDF+ file per hour of the night
DB_S = 60.0  #: how often the night's running duration goes to SQLite, s (SD-card wear)


def recover(store, data_dir: Path, log=print) -> int:
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
                log(f"twitchmon: cannot recover {path}: {exc}")
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


def site_names(store, channels: int) -> list[str]:
    """The sensor sites' names: as the owner named them on the page, else pins.SITES."""
    names = store.get_setting("channel_names")
    if isinstance(names, list) and len(names) >= channels and all(isinstance(n, str) and n for n in names):
        return names[:channels]
    return pins.site_names(channels)


class NightRecorder:
    """Writes one night: EDF+ files (one per hour) and events in the store."""

    def __init__(self, store, data_dir: Path, rate_hz: float, channels: int, source: str, *,
                 sensitivity: float | None = None, clock=None):
        self.store, self.data_dir = store, data_dir
        self.rate_hz, self.channels = rate_hz, channels
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self.start = self.clock()
        self.clock_was_set = clock_is_set(self.start)
        self.raw_stopped_reason: str | None = None
        self.names = site_names(store, channels)
        self.night_id = store.add_night(date=night_date(self.start), start_utc=self.start.isoformat(timespec="seconds"),
                                        source=source, rate_hz=rate_hz, channels=channels,
                                        channel_names=self.names, status="recording")
        if sensitivity is None:  # the page's Settings (nothing else writes a sensitivity)
            from .config import effective_config  # noqa: PLC0415
            sensitivity = effective_config(None, store).sensitivity
        from .detector import Detector, DetectorConfig  # noqa: PLC0415 - the page imports this module, not scipy
        self.det = Detector(DetectorConfig(rate_hz=rate_hz, channels=channels, sensitivity=sensitivity))
        self.samples = 0
        self.writer: EdfWriter | None = None
        self.rec_id = None
        self.file_start_sample = 0
        self.last_sync = time.monotonic()
        self.last_db = time.monotonic()
        self.raw_enabled = True

    def _open_file(self) -> None:
        t = self.start + dt.timedelta(seconds=self.samples / self.rate_hz)
        rel = Path("recordings") / self.start.strftime("%Y-%m-%d") / f"night-{self.night_id}-{t:%H%M%S}.edf"
        (self.data_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        self.writer = EdfWriter(self.data_dir / rel, self.rate_hz, self.names, t)
        self.rec_id = self.store.add_recording(self.night_id, str(rel), self.samples / self.rate_hz)
        self.file_start_sample = self.samples
        self._file_dated = t  # the start written into its header

    def _close_file(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.store.finish_recording(self.rec_id, self.writer.samples_written)
            right = self.start + dt.timedelta(seconds=self.file_start_sample / self.rate_hz)
            if self.clock_was_set and abs((right - self._file_dated).total_seconds()) >= 1.0:
                # opened on an unset clock (1970): date the file now that the clock is right
                from .traces import set_edf_start  # noqa: PLC0415
                try:
                    set_edf_start(self.writer.path, right)
                except (OSError, ValueError) as exc:
                    print(f"twitchmon: could not re-date {self.writer.path}: {exc}", file=sys.stderr, flush=True)
            self.writer = None

    def feed(self, codes) -> None:
        if self.raw_enabled:
            try:
                if self.writer is None or (self.samples - self.file_start_sample) >= FILE_S * self.rate_hz:
                    self._close_file()
                    self._open_file()
                self.writer.write(codes)
                if time.monotonic() - self.last_sync >= SYNC_S:
                    self.writer.sync()
                    self.last_sync = time.monotonic()
                    if time.monotonic() - self.last_db >= DB_S:  # recover() rebuilds it after a crash
                        self.store.update_night(self.night_id, duration_s=self.samples / self.rate_hz)
                        self.last_db = time.monotonic()
            except OSError as exc:  # disk full or gone: keep counting, stop raw
                self.stop_raw(f"raw recording stopped: {exc.strerror or exc}")
        self.samples += len(codes)
        self._store(self.det.process(codes))

    def stop_raw(self, reason: str) -> None:
        """Stop writing the raw EDF (disk full, or nearly); counting goes on.
        The reason is kept on the night so the page can say so."""
        if not self.raw_enabled:
            return
        self.raw_enabled = False
        self.raw_stopped_reason = reason
        try:
            self._close_file()
        except OSError:
            self.writer = None
        self.store.set_setting(f"night.{self.night_id}.raw_stopped", reason)
        print(f"twitchmon: {reason}; counting goes on", file=sys.stderr, flush=True)

    def fix_clock(self) -> bool:
        """If the night began before the clock was set (a Pi has no battery
        clock) and it is set now, date the night from now less the samples
        recorded since.  Returns True when it changed something."""
        if self.clock_was_set:
            return False
        now = self.clock()
        if not clock_is_set(now):
            return False
        self.start = now - dt.timedelta(seconds=self.samples / self.rate_hz)
        self.clock_was_set = True
        self.store.update_night(self.night_id, start_utc=self.start.isoformat(timespec="seconds"),
                                date=night_date(self.start))
        return True

    def _store(self, ev) -> None:
        if not (ev.twitches or ev.movements or ev.faults):
            return
        tws = [t.as_dict() for t in ev.twitches]
        mvs = [m.as_dict() for m in ev.movements]
        self.store.add_events(self.night_id, tws, mvs)
        self.store.add_health(self.night_id, ev.faults)
        if self.writer is not None:
            off = self.file_start_sample / self.rate_hz
            for t in tws:
                if t["t"] >= off:
                    self.writer.annotate(t["t"] - off, 0, f"twitch {self.names[t['channel']]}")
            for m in mvs:
                if m["t"] >= off:
                    self.writer.annotate(m["t"] - off, m["end"] - m["t"], "movement")
        self.store.refresh_counts(self.night_id)
        self.store.update_night(self.night_id, duration_s=self.samples / self.rate_hz, rest_s=self.det.rest_s)

    def close(self) -> None:
        self._store(self.det.finish())
        self._close_file()
        end = self.start + dt.timedelta(seconds=self.samples / self.rate_hz)
        from .analysis import summary_from_detector  # noqa: PLC0415

        dur = self.samples / self.rate_hz
        faults = [dict(h) for h in self.store.health(self.night_id)]
        summary = summary_from_detector(self.det, self.store.twitches(self.night_id), faults, dur)
        self.store.update_night(self.night_id, status="complete", duration_s=dur,
                                rest_s=self.det.rest_s, end_utc=end.isoformat(timespec="seconds"),
                                heart_rate_bpm=self.det.heart_rate_bpm, mains_hz=self.det.mains_hz,
                                summary=summary)
        self.store.refresh_counts(self.night_id)


class GapFiller:
    """Keeps the recording's time base true: the sampler skips whole periods
    it missed (and says so by its blocks' ``first_index``); each missed
    period becomes a copy of the last frame, so sample n is still n/rate
    seconds into the night.  Also counts SPI read errors between health
    checks."""

    MAX_GAP = 600_000  #: frames made up at most for one gap (10 min at 1 kHz; a stall that long is a fault)

    def __init__(self):
        self.next_index: int | None = None
        self.last = None
        self.filled = 0  #: frames made up so far
        self._errors_seen = 0
        self._errors_reported = 0

    def fill(self, block) -> np.ndarray:
        codes = block.codes
        if self.next_index is not None and block.first_index > self.next_index and self.last is not None:
            gap = min(block.first_index - self.next_index, self.MAX_GAP)
            codes = np.vstack([np.repeat(self.last[None, :], gap, axis=0), codes])
            self.filled += gap
        if len(block.codes):
            self.last = block.codes[-1].copy()  # the block is a view of the sampler's ring
        self.next_index = block.first_index + len(block.codes)
        self._errors_seen = max(self._errors_seen, getattr(block, "read_errors", 0))
        return codes

    def take_errors(self) -> int:
        """SPI read errors since the last call."""
        n = self._errors_seen - self._errors_reported
        self._errors_reported = self._errors_seen
        return n


def _default_source() -> str:
    return "adc" if os.path.exists(f"/dev/spidev{pins.SPI_BUS}.{pins.SPI_DEVICE}") else "sim"


def health_state(rec) -> str:
    """The status LED's state: idle (not recording), fault (a sensor is not
    ok), or recording."""
    if rec is None:
        return "idle"
    return "fault" if any(st != "ok" for st in rec.det.status) else "recording"


def _status_panel(on_mark, on_toggle):
    """The LED and button on a Pi; None where gpiozero finds no GPIO."""
    try:
        from .status import StatusPanel  # noqa: PLC0415
        return StatusPanel(on_mark=on_mark, on_toggle=on_toggle)
    except Exception:  # noqa: BLE001 - no GPIO here (laptop, CI): run without the LED
        return None


def _live_writer(store, ddir: Path, channels: int, rate_hz: float):
    """The live signal ring for the page (see :mod:`.live`); None if it cannot be made."""
    from .live import publish  # noqa: PLC0415
    try:
        return publish(store, ddir, channels, rate_hz)
    except (OSError, ValueError) as exc:
        print(f"twitchmon: no live signal view: {exc}", file=sys.stderr, flush=True)
        return None


def run_daemon(args) -> int:
    """``twitchmon run``: sample, detect, record in the night window, schedule."""
    import json  # noqa: PLC0415

    from .config import effective_config, load_config  # noqa: PLC0415
    from .notify import sd_notify, watchdog_interval_s  # noqa: PLC0415
    from .sampler import SamplerProcess  # noqa: PLC0415
    from .schedule import NightScheduler, free_mb, in_window, retention  # noqa: PLC0415

    cfg = load_config(args.config)  # a bad file stops here, before anything starts
    ddir = resolve_data_dir(args.data_dir)
    ddir.mkdir(parents=True, exist_ok=True)
    store = open_store(ddir)
    cfg = effective_config(args.config, store)  # with the page's Settings on top
    cfg_rev = store.get_setting("config_rev", 0)
    n = recover(store, ddir)  # also the catch-up: a night a power cut ended gets its summary
    if n:
        print(f"twitchmon: recovered {n} recording(s)/night(s) left by a crash", flush=True)
    spec = args.source or _default_source()
    channels = args.channels or 4
    rate = args.rate or 1000.0
    if spec not in ("adc", "sim", "emulator"):
        from .traces import open_trace  # noqa: PLC0415
        with open_trace(spec) as r:
            channels, rate = r.info.channels, r.info.rate_hz
    stopping = {"flag": False}

    def on_term(*_):
        stopping["flag"] = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    def now() -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)

    def window_open() -> bool:
        # with the clock unset the window is unknown: record, date it later
        return bool(args.always) or not clock_is_set(now()) or in_window(now(), cfg)

    # the jobs only set flags: the main loop owns the recorder and its store
    flags = {"night": window_open(), "low_disk": False, "health": False}

    def retention_job() -> None:
        st = open_store(ddir)
        try:
            gone = retention(st, ddir, now(), cfg.raw_retention_days)
            if gone:
                print(f"twitchmon: retention deleted {len(gone)} raw file(s) older than "
                      f"{cfg.raw_retention_days} days", flush=True)
        finally:
            st.close()

    sched = NightScheduler(
        cfg, open_night=lambda: flags.update(night=True),
        close_night=lambda: flags.update(night=bool(args.always) or not clock_is_set(now())),
        retention_job=retention_job,
        disk_guard=lambda: flags.update(low_disk=free_mb(ddir) < cfg.min_free_mb),
        health=lambda: flags.update(health=True))
    sched.start()
    sampler = SamplerProcess(spec, channels, rate, seed=args.seed, label=str(ddir)).start()
    if not sampler.realtime:  # once: late samples are likelier, and the page says so while it lasts
        print(f"twitchmon: sampler at {sampler.priority}", file=sys.stderr, flush=True)
    rec = None
    live = _live_writer(store, ddir, channels, rate)
    gaps = GapFiller()
    # button: a press marks the moment, a 2-s hold starts or stops recording
    panel = _status_panel(on_mark=lambda: flags.update(mark=True),
                          on_toggle=lambda: flags.update(night=not flags["night"])) if spec == "adc" else None
    print(f"twitchmon: sampling {channels} channels at {rate:g} Hz from {spec}; data in {ddir}; "
          f"night window {cfg.night_start:%H:%M}-{cfg.night_end:%H:%M}", flush=True)
    wd = watchdog_interval_s()
    last_ping = 0.0
    ready = False
    try:
        while not stopping["flag"]:
            try:
                block = sampler.queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if block is None:
                break
            if not ready:
                ready = sd_notify("READY=1") or True
            t = time.monotonic()
            if wd and t - last_ping >= wd:  # blocks flowing: sampler and recorder both alive
                sd_notify("WATCHDOG=1")
                last_ping = t
            if flags["night"] and rec is None:
                rec = NightRecorder(store, ddir, rate, channels, spec, sensitivity=cfg.sensitivity)
            elif not flags["night"] and rec is not None:
                rec.close()  # rollover: the night's summary is stored
                rec = None
                if live is not None:
                    live.set_state(night_id=None)
            codes = gaps.fill(block)  # missed periods become repeated frames: time stays true
            if live is not None:
                live.write(codes)
            if flags["health"]:
                flags["health"] = False
                rev = store.get_setting("config_rev", 0)
                if rev != cfg_rev:  # the owner saved Settings on the page
                    cfg_rev, cfg = rev, effective_config(args.config, store)
                    sched.reschedule(cfg)
                    flags["night"] = window_open()
                    print(f"twitchmon: settings changed: night window {cfg.night_start:%H:%M}-"
                          f"{cfg.night_end:%H:%M}, sensitivity {cfg.sensitivity:g} (from the next night)",
                          flush=True)
                if panel is not None:
                    panel.show(health_state(rec))
                spi_errors = gaps.take_errors()
                if spi_errors:
                    print(f"twitchmon: {spi_errors} SPI read error(s) since the last check", file=sys.stderr,
                          flush=True)
                if rec is not None:
                    rec.fix_clock()
                    store.set_setting("health", json.dumps({"t": now().isoformat(timespec="seconds"),
                                                            "status": list(rec.det.status),
                                                            "spi_errors": spi_errors,
                                                            "sampler_priority": sampler.priority,
                                                            "realtime": sampler.realtime}))
            if rec is None:
                continue
            rec.feed(codes)
            if live is not None:
                live.set_state(rec.det.status, rec.night_id)
            if flags["low_disk"] and rec.raw_enabled:
                rec.stop_raw(f"disk nearly full (under {cfg.min_free_mb:g} MB free)")
            if flags.pop("mark", False):
                store.add_events(rec.night_id, marks=[{"t": rec.samples / rate}])
    finally:
        if panel is not None:
            panel.show("idle")
            panel.close()
        sched.shutdown()
        if live is not None:
            live.close()
        stats = sampler.stop()
        if rec is not None:
            rec.close()
        if stats:
            print(f"twitchmon: sampler {stats}", flush=True)
    return 0


def record(args) -> int:
    """``twitchmon record``: raw ADC to a file for fixtures."""
    from .sampler import make_source, sample_loop  # noqa: PLC0415
    from .traces import open_writer  # noqa: PLC0415

    src = make_source(args.source, args.channels, args.rate)
    n = int(args.minutes * 60 * args.rate)
    w = open_writer(args.out, args.rate, pins.site_names(args.channels),
                    dt.datetime.now(dt.timezone.utc), n_samples=n)
    try:
        stats = sample_loop(src, lambda b: w.write(b.codes), max_frames=n)
    finally:
        w.close()
        src.close()
    print(f"{args.out}: {stats.frames} frames, {stats.late} late, {stats.missed} missed")
    return 0
