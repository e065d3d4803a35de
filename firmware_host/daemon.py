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

import collections
import datetime as dt
import errno
import os
import queue
import shutil
import signal
import sqlite3
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from gpiozero.exc import BadPinFactory, GPIOZeroError

from . import pins
from .analysis import night_date, summary_from_store
from .paths import data_dir as resolve_data_dir
from .store import open_store, unavailable
from .schedule import clock_is_set
from .log import get_logger
from .snippets import SnippetWorker
from .status import StatusPanel
from .traces import EdfWriter, edf_is_unfinished, recover_edf

SYNC_S = 2.0  #: fsync interval for the raw recording, s
FILE_S = 3600.0  #: one EDF+ file per hour of the night
DB_S = 60.0  #: how often the night's running duration goes to SQLite, s (SD-card wear)
RETRY_S = 10.0  #: how often writes the store refused (busy, full) are tried again, s
HELD_MAX_EVENTS = 200_000  #: events held in memory at most while the store takes no writes (~200 B each)
CLOSE_WAIT_S = 8.0  #: how long a night's end waits for a busy store, s (systemd's stop timeout is 20 s)
RESERVE_MB = 8.0  #: space kept for the counts on the data filesystem, MB (see :class:`Reserve`)
log = get_logger(__name__)

DAEMON_BUSY_S = 2.0  #: the daemon's SQLite busy timeout, s: short, it holds its writes rather than wait


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


def site_names(store, channels: int) -> list[str]:
    """The sensor sites' names (:meth:`Store.site_names`)."""
    return store.site_names(channels)


class Reserve:
    """Free space kept for the counts: a file of ``RESERVE_MB`` on the data
    dir's filesystem, allocated while there is room and deleted when the
    disk fills.  The raw recording is what fills it (8 KB/s); once raw
    recording stops, the reserve gives SQLite room for the rest of the
    night's events (a night's events are well under 1 MB)."""

    NAME = ".twitchmon-reserve"

    def __init__(self, data_dir: Path, mb: float | None = None):
        self.path = Path(data_dir) / self.NAME
        self.bytes = int((RESERVE_MB if mb is None else mb) * 1e6)

    def make(self) -> bool:
        """Allocate the reserve if it is not there and the disk has twice its size free."""
        if self.path.exists():
            return True
        try:
            if shutil.disk_usage(self.path.parent).free < 2 * self.bytes:
                return False
            tmp = self.path.with_name(self.NAME + ".new")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.posix_fallocate(fd, 0, self.bytes)  # real blocks, not a sparse promise
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            return True
        except OSError:
            try:
                os.remove(self.path.with_name(self.NAME + ".new"))
            except OSError:
                pass
            return False

    def release(self) -> bool:
        """Give the reserve back to the filesystem; True if there was one."""
        try:
            os.remove(self.path)
            return True
        except FileNotFoundError:
            return False
        except OSError:  # read-only: there is no space to give anyway
            return False


class NightRecorder:
    """Writes one night: EDF+ files (one per hour) and events in the store.

    Counting never waits on the disk or the database.  A raw write that
    fails (disk full, I/O error) stops raw recording and says why; a store
    write that fails because the database is busy, locked, full or
    read-only is held in memory, in order, and tried again every
    ``RETRY_S`` (at once when the disk-full reserve has just been released),
    so the night's events reach the store when it takes writes again."""

    def __init__(self, store, data_dir: Path, rate_hz: float, channels: int, source: str, *,
                 sensitivity: float | None = None, clock=None, on_file_done=None):
        self.store, self.data_dir = store, data_dir
        #: told the night's id when a raw file is finished and at the night's end (the waveform maker)
        self.on_file_done = on_file_done or (lambda night_id: None)
        self.rate_hz, self.channels = rate_hz, channels
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self.start = self.clock()
        self.clock_was_set = clock_is_set(self.start)
        self.raw_stopped_reason: str | None = None
        # writes the store has not taken yet: in order, then the latest of each running total
        self._ordered: collections.deque = collections.deque()
        self._latest: dict = {}
        self.held_events = 0  #: events waiting in memory for the store
        self.lost_events = 0  #: events dropped because more than HELD_MAX_EVENTS were waiting
        self.db_problem: str | None = None  #: why the store takes no writes now, or None
        self._retry_at = 0.0
        self._flushing = False
        self.reserve = Reserve(data_dir)
        self.reserve.make()
        self.names = site_names(store, channels)
        self.night_id: int | None = None
        self._source = source
        self._db(self._add_night)
        if sensitivity is None:  # the page's Settings (nothing else writes a sensitivity)
            from .config import effective_config  # noqa: PLC0415
            sensitivity = effective_config(None, store).sensitivity
        from .detector import Detector, DetectorConfig  # noqa: PLC0415 - the page imports this module, not scipy
        self.det = Detector(DetectorConfig(rate_hz=rate_hz, channels=channels, sensitivity=sensitivity))
        self.samples = 0
        self.writer: EdfWriter | None = None
        self._rec: dict | None = None  # the open file's recordings row: {"id": ...} once stored
        self.file_start_sample = 0
        self.last_sync = time.monotonic()
        self.last_db = time.monotonic()
        self.raw_enabled = True
        self.counted_s = 0.0  # how much of the night the stored counts cover, s

    def _add_night(self) -> None:
        self.night_id = self.store.add_night(
            date=night_date(self.start), start_utc=self.start.isoformat(timespec="seconds"), source=self._source,
            rate_hz=self.rate_hz, channels=self.channels, channel_names=self.names, status="recording")

    # -- store writes that may wait ---------------------------------------------------
    def _db(self, op, *, key: str | None = None, events: int = 0) -> None:
        """Do a store write now, or hold it until the store takes writes.
        ``key``: a running total (counts, duration) whose latest value
        replaces an earlier held one; held after every ordered write."""
        if not (self._ordered or self._latest):
            try:
                op()
                return
            except sqlite3.Error as exc:
                if not unavailable(exc):
                    raise
                freed = self._unavailable(exc)
            self._hold(op, key, events)
            if freed:
                self.flush(force=True)
            return
        self._hold(op, key, events)
        self.flush()

    def _hold(self, op, key: str | None, events: int) -> None:
        if key is not None:
            self._latest.pop(key, None)  # re-inserted last: after every earlier write
            self._latest[key] = op
            return
        if events and self.held_events + events > HELD_MAX_EVENTS:
            if not self.lost_events:
                log.warning(f"more than {HELD_MAX_EVENTS} events wait for the database; "
                      "dropping the newest")
            self.lost_events += events
            return
        self._ordered.append((events, op))
        self.held_events += events

    def _unavailable(self, exc: sqlite3.Error) -> bool:
        """Note why the store takes no writes; on a full disk stop raw
        recording and release the reserve.  True if space was freed."""
        first = self.db_problem is None
        self.db_problem = str(exc)
        self._retry_at = time.monotonic() + RETRY_S
        if first:
            log.warning(f"the database takes no writes ({exc}); the night's events are held in memory "
                  f"and stored when it does; counting goes on")
        if getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL" or "full" in str(exc):
            return self._disk_full(f"raw recording stopped: the disk is full ({exc})")
        return False

    def _disk_full(self, reason: str) -> bool:
        self.stop_raw(reason)
        if self.reserve.release():
            log.warning(f"released the {self.reserve.bytes / 1e6:g} MB reserve for the night's counts")
            self._retry_at = 0.0
            return True
        return False

    def flush(self, force: bool = False) -> bool:
        """Try the held writes, in order (at most every ``RETRY_S`` unless
        ``force``).  True when nothing is held."""
        if self._flushing or not (self._ordered or self._latest):
            return not (self._ordered or self._latest)
        if not force and time.monotonic() < self._retry_at:
            return False
        self._flushing = True
        done = 0
        try:
            for _attempt in range(3):  # a second go right after the reserve is released
                try:
                    while self._ordered:
                        self._ordered[0][1]()
                        n, _ = self._ordered.popleft()
                        self.held_events -= n
                        done += 1
                    while self._latest:
                        key = next(iter(self._latest))
                        self._latest[key]()
                        del self._latest[key]
                        done += 1
                except sqlite3.Error as exc:
                    if not unavailable(exc):
                        raise
                    if self._unavailable(exc):
                        continue
                    return False
                break
            else:
                return False
            log.warning(f"the database takes writes again; {done} held write(s) stored")
            self.db_problem = None
            return True
        finally:
            self._flushing = False

    # -- raw recording ----------------------------------------------------------------------
    def _open_file(self) -> None:
        t = self.start + dt.timedelta(seconds=self.samples / self.rate_hz)
        # filed under the night's date, the one the page shows (not the UTC day it began)
        rel = Path("recordings") / night_date(self.start) / \
            f"night-{self.night_id if self.night_id is not None else 'new'}-{t:%H%M%S}.edf"
        (self.data_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        self.writer = EdfWriter(self.data_dir / rel, self.rate_hz, self.names, t)
        rec = self._rec = {"id": None}
        start_t = self.samples / self.rate_hz
        self._db(lambda: rec.update(id=self.store.add_recording(self.night_id, str(rel), start_t)))
        self.file_start_sample = self.samples
        self._file_dated = t  # the start written into its header

    def _close_file(self) -> None:
        if self.writer is not None:
            writer, rec, self.writer = self.writer, self._rec, None
            try:
                writer.close()
            finally:  # what it holds is final either way (a failed last write keeps the records before it)
                n = writer.samples_written
                self._db(lambda: self.store.finish_recording(rec["id"], n))
                self.on_file_done(self.night_id)
            right = self.start + dt.timedelta(seconds=self.file_start_sample / self.rate_hz)
            if self.clock_was_set and abs((right - self._file_dated).total_seconds()) >= 1.0:
                # opened on an unset clock (1970): date the file now that the clock is right
                from .traces import set_edf_start  # noqa: PLC0415
                try:
                    set_edf_start(writer.path, right)
                except (OSError, ValueError) as exc:
                    log.warning(f"could not re-date {writer.path}: {exc}")

    def feed(self, codes) -> None:
        if self.raw_enabled:
            try:
                if self.writer is None or (self.samples - self.file_start_sample) >= FILE_S * self.rate_hz:
                    self._close_file()
                    self._open_file()
                self.writer.write(codes)  # raises OSError when pyedflib reports a failed write
                if time.monotonic() - self.last_sync >= SYNC_S:
                    self.writer.sync()
                    self.last_sync = time.monotonic()
            except OSError as exc:  # disk full or gone: keep counting, stop raw
                why = f"raw recording stopped: {exc.strerror or exc}"
                if exc.errno == errno.ENOSPC:
                    self._disk_full(why)
                else:
                    self.stop_raw(why)
        self.samples += len(codes)
        self._store(self.det.process(codes))
        if time.monotonic() - self.last_db >= DB_S:  # recover() rebuilds it after a crash
            dur = self.samples / self.rate_hz
            self._db(lambda: self.store.update_night(self.night_id, duration_s=dur), key="duration")
            self.last_db = time.monotonic()
        self._progress()
        self.flush()

    def _progress(self) -> None:
        """Each step the detector analyses, events or not: the night's rest so
        far, and how far the counts reach (``night.ID.counted_s``, the page
        says "counting starts" until there is one); held like every store
        write when the store takes none."""
        if self.det.analysed_s > self.counted_s:
            self.counted_s = counted = self.det.analysed_s
            dur, rest = self.samples / self.rate_hz, self.det.rest_s
            self._db(lambda: self.store.update_night(self.night_id, duration_s=dur, rest_s=rest), key="progress")
            self._db(lambda: self.store.set_counted_s(self.night_id, counted), key="counted")

    def stop_raw(self, reason: str) -> None:
        """Stop writing the raw EDF (disk full, or nearly); counting goes on.
        The reason is kept on the night so the page can say so."""
        if not self.raw_enabled:
            return
        self.raw_enabled = False
        self.raw_stopped_reason = reason
        log.warning(f"{reason}; counting goes on")
        try:
            self._close_file()
        except OSError:
            self.writer = None
        self._db(lambda: self.store.set_raw_stopped(self.night_id, reason), key="raw_stopped")

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
        start = self.start
        self._db(lambda: self.store.update_night(self.night_id, start_utc=start.isoformat(timespec="seconds"),
                                                 date=night_date(start)), key="clock")
        return True

    def mark(self) -> None:
        """The button was pressed: mark this moment of the night."""
        t = self.samples / self.rate_hz
        self._db(lambda: self.store.add_events(self.night_id, marks=[{"t": t}]), events=1)

    def _store(self, ev) -> None:
        if not (ev.twitches or ev.movements or ev.faults):
            return
        tws = [t.as_dict() for t in ev.twitches]
        mvs = [m.as_dict() for m in ev.movements]
        if self.writer is not None:
            off = self.file_start_sample / self.rate_hz
            for t in tws:
                if t["t"] >= off:
                    self.writer.annotate(t["t"] - off, 0, f"twitch {self.names[t['channel']]}")
            for m in mvs:
                if m["t"] >= off:
                    self.writer.annotate(m["t"] - off, m["end"] - m["t"], "movement")
        if tws or mvs:
            self._db(lambda: self.store.add_events(self.night_id, tws, mvs), events=len(tws) + len(mvs))
        if ev.faults:
            faults = list(ev.faults)
            self._db(lambda: self.store.add_health(self.night_id, faults))
        self._db(lambda: self.store.refresh_counts(self.night_id), key="counts")
        dur, rest = self.samples / self.rate_hz, self.det.rest_s
        self._db(lambda: self.store.update_night(self.night_id, duration_s=dur, rest_s=rest), key="running")

    def close(self, wait_s: float = CLOSE_WAIT_S) -> None:
        self._store(self.det.finish())
        try:
            self._close_file()
        except OSError as exc:
            log.warning(f"could not close the raw recording: {exc}")
            self.writer = None
        end = self.start + dt.timedelta(seconds=self.samples / self.rate_hz)
        dur, rest = self.samples / self.rate_hz, self.det.rest_s

        def finish():  # run when the store takes it: every event is in by then
            from .analysis import summary_from_detector  # noqa: PLC0415
            faults = [dict(h) for h in self.store.health(self.night_id)]
            summary = summary_from_detector(self.det, self.store.twitches(self.night_id), faults, dur)
            self.store.update_night(self.night_id, status="complete", duration_s=dur, rest_s=rest,
                                    end_utc=end.isoformat(timespec="seconds"), heart_rate_bpm=self.det.heart_rate_bpm,
                                    mains_hz=self.det.mains_hz, summary=summary)
            self.store.refresh_counts(self.night_id)

        for key in ("running", "duration", "counts"):  # the final write has them all
            self._latest.pop(key, None)
        self._db(finish, key="finish")
        t_end = time.monotonic() + wait_s
        while not self.flush(force=True) and time.monotonic() < t_end:
            time.sleep(min(1.0, max(0.0, t_end - time.monotonic())))
        if self._ordered or self._latest:
            log.warning(f"the database took no writes before the end ({self.db_problem}): "
                  f"{self.held_events} event(s) of this night not stored; its counts stay as last stored")
        elif self.lost_events:
            log.warning(f"{self.lost_events} event(s) of this night were dropped while the database "
                  "took no writes")
        self.on_file_done(self.night_id)  # every event is in: the rest of the night's waveforms


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
    """The LED and button on a Pi; None where gpiozero finds no GPIO (said
    once, as news on a laptop, as a warning when a Pi's pins refuse)."""
    try:
        with warnings.catch_warnings():  # gpiozero's pin-factory fallbacks: a line each, not news
            warnings.simplefilter("ignore")
            return StatusPanel(on_mark=on_mark, on_toggle=on_toggle)
    except BadPinFactory as exc:  # no GPIO here (laptop, CI): run without the LED
        log.info(f"no status LED or button: {exc}")
    except (GPIOZeroError, OSError, RuntimeError) as exc:  # GPIO there, but busy or refused
        log.warning(f"status LED and button not available: {type(exc).__name__}: {exc}")
    return None


def _live_writer(store, ddir: Path, channels: int, rate_hz: float):
    """The live signal ring for the page (see :mod:`.live`); None if it cannot be made."""
    from .live import publish  # noqa: PLC0415
    try:
        return publish(store, ddir, channels, rate_hz)
    except (OSError, ValueError, sqlite3.Error) as exc:
        log.warning(f"no live signal view: {exc}")
        return None


def run_daemon(args) -> int:
    """``twitchmon run``: sample, detect, record in the night window, schedule."""
    from .adc import ADCError  # noqa: PLC0415
    from .config import effective_config, load_config  # noqa: PLC0415
    from .notify import sd_notify, watchdog_interval_s  # noqa: PLC0415
    from .sampler import SamplerProcess  # noqa: PLC0415
    from .schedule import NightScheduler, free_mb, in_window, retention  # noqa: PLC0415

    cfg = load_config(args.config)  # a bad file stops here, before anything starts
    ddir = resolve_data_dir(args.data_dir)
    ddir.mkdir(parents=True, exist_ok=True)
    store = open_store(ddir, busy_timeout_s=DAEMON_BUSY_S, check=True)  # damaged or missing: one line, exit 2
    if store.readonly:
        from .store import ReadOnlyDataDir  # noqa: PLC0415
        raise ReadOnlyDataDir(f"{ddir} is read-only: nothing can be recorded there (remount it read-write, "
                              "or give --data-dir); the page can still show the stored nights")
    cfg = effective_config(args.config, store)  # with the page's Settings on top
    cfg_rev = store.get_setting("config_rev", 0)
    try:
        n = recover(store, ddir)  # also the catch-up: a night a power cut ended gets its summary
    except sqlite3.Error as exc:
        if not unavailable(exc):
            raise
        n = 0  # busy or full now: the next start finishes them (nothing is lost by waiting)
        log.warning(f"could not finish the nights a crash left ({exc}); the next start will")
    if n:
        log.info(f"recovered {n} recording(s)/night(s) left by a crash")
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
        try:
            st = open_store(ddir, busy_timeout_s=DAEMON_BUSY_S)
            try:
                gone = retention(st, ddir, now(), cfg.raw_retention_days)
            finally:
                st.close()
        except sqlite3.Error as exc:
            if not unavailable(exc):
                raise
            log.warning(f"retention skipped today: {exc}")
            return
        if gone:
            log.info(f"retention deleted {len(gone)} raw file(s) older than "
                  f"{cfg.raw_retention_days} days")

    sched = NightScheduler(
        cfg, open_night=lambda: flags.update(night=True),
        close_night=lambda: flags.update(night=bool(args.always) or not clock_is_set(now())),
        retention_job=retention_job,
        disk_guard=lambda: flags.update(low_disk=free_mb(ddir) < cfg.min_free_mb),
        health=lambda: flags.update(health=True))
    sched.start()
    try:
        sampler = SamplerProcess(spec, channels, rate, seed=args.seed, label=str(ddir)).start()
    except ADCError as exc:  # no SPI device, an unreadable file: one line naming the source, exit 1
        sched.shutdown()
        raise ADCError(f"{spec}: {exc}") from None
    if not sampler.realtime:  # once: late samples are likelier, and the page says so while it lasts
        log.warning(f"sampler at {sampler.priority}")
    rec = None
    snippets = SnippetWorker(store, ddir).start()
    snippets.backfill()  # nights recorded before waveforms were stored, or ended by a crash
    live = _live_writer(store, ddir, channels, rate)
    from .mqtt import Publisher, settings_for  # noqa: PLC0415 - its own thread; off unless a broker is named
    pub = Publisher(settings_for(cfg, store), store.path, channels=channels,
                    on_recording=lambda on: flags.update(night=on)).start()
    gaps = GapFiller()
    # button: a press marks the moment, a 2-s hold starts or stops recording
    panel = _status_panel(on_mark=lambda: flags.update(mark=True),
                          on_toggle=lambda: flags.update(night=not flags["night"])) if spec == "adc" else None
    wd = watchdog_interval_s()
    last_ping = 0.0
    ready = False
    try:
        while not stopping["flag"]:
            try:
                block = sampler.queue.get(timeout=0.5)
            except queue.Empty:
                if not sampler.alive:  # died without a word (killed): stop, do not wait forever
                    break
                continue
            if block is None:
                break
            if not ready:
                ready = sd_notify("READY=1") or True
                log.info(f"sampling {channels} channels at {rate:g} Hz from {spec}; data in {ddir}; "
                      f"night window {cfg.night_start:%H:%M}-{cfg.night_end:%H:%M}")
            t = time.monotonic()
            if wd and t - last_ping >= wd:  # blocks flowing: sampler and recorder both alive
                sd_notify("WATCHDOG=1")
                last_ping = t
            if flags["night"] and rec is None:
                rec = NightRecorder(store, ddir, rate, channels, spec, sensitivity=cfg.sensitivity,
                                    on_file_done=snippets.post)
            elif not flags["night"] and rec is not None:
                rec.close()  # rollover: the night's summary is stored
                rec = None
                pub.night_ended()
                if live is not None:
                    live.set_state(night_id=None)
            codes = gaps.fill(block)  # missed periods become repeated frames: time stays true
            if live is not None:
                live.write(codes)
            pub.offer(rec)
            if flags["health"]:
                flags["health"] = False
                try:
                    rev = store.get_setting("config_rev", 0)
                except sqlite3.Error as exc:
                    if not unavailable(exc):
                        raise
                    rev = cfg_rev  # unreadable now: keep the settings we have
                if rev != cfg_rev:  # the owner saved Settings on the page
                    cfg_rev, cfg = rev, effective_config(args.config, store)
                    sched.reschedule(cfg)
                    flags["night"] = window_open()
                    pub.reconfigure(settings_for(cfg, store))
                    log.info(f"settings changed: night window {cfg.night_start:%H:%M}-"
                          f"{cfg.night_end:%H:%M}, sensitivity {cfg.sensitivity:g} (from the next night)")
                if panel is not None:
                    panel.show(health_state(rec))
                spi_errors = gaps.take_errors()
                if spi_errors:
                    log.warning(f"{spi_errors} SPI read error(s) since the last check")
                if rec is not None:
                    rec.fix_clock()
                    try:  # for the page's banner; the next check writes it again
                        store.set_daemon_health({"t": now().isoformat(timespec="seconds"),
                                                 "status": list(rec.det.status), "spi_errors": spi_errors,
                                                 "sampler_priority": sampler.priority,
                                                 "realtime": sampler.realtime})
                    except sqlite3.Error as exc:
                        if not unavailable(exc):
                            raise
            if rec is None:
                continue
            rec.feed(codes)
            if live is not None:
                live.set_state(rec.det.status, rec.night_id)
            if flags["low_disk"] and rec.raw_enabled:
                rec.stop_raw(f"disk nearly full (under {cfg.min_free_mb:g} MB free)")
            if flags.pop("mark", False):
                rec.mark()
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
        pub.close()  # the last night's summary, then offline
        snippets.stop()
        if stats and not sampler.error:
            log.info(f"sampler {stats}")
    if sampler.error and not stopping["flag"]:
        print(f"twitchmon run: {spec}: {sampler.error}", file=sys.stderr, flush=True)
        return 1
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
