"""One night's recording: EDF+ files (one per hour) and events in the store,
with the writes a busy or full store refused held in memory until it takes
them (see :class:`NightRecorder`), and the space kept for the counts
(:class:`Reserve`)."""
from __future__ import annotations

import datetime as dt
import errno
import os
import shutil
import time
from pathlib import Path

from ..config import effective_config
from ..detector import Detector, DetectorConfig
from ..events import night_date, summary_from_detector
from ..heart import HeartTrack
from ..log import get_logger
from ..traces import EdfWriter, set_edf_start
from ..window import clock_is_set
from .guarded import GuardedDetector
from .held import HeldWrites

log = get_logger(__name__)

SYNC_S = 2.0  #: fsync interval for the raw recording, s
FILE_S = 3600.0  #: one EDF+ file per hour of the night
DB_S = 60.0  #: how often the night's running duration goes to SQLite, s (SD-card wear)
CLOSE_WAIT_S = 8.0  #: how long a night's end waits for a busy store, s (systemd's stop timeout is 20 s)
RESERVE_MB = 8.0  #: space kept for the counts on the data filesystem, MB (see :class:`Reserve`)


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
                 sensitivity: float | None = None, clock=None, on_file_done=None, detector=None,
                 gain: float = 1.0):
        """``gain``: the sensor board's (``frontend.detector_gain()`` for the
        board the pin table describes; 1 for a simulated or first-board
        source), for the detector made here and the EDF+ files' headers."""
        self.store, self.data_dir = store, data_dir
        self.gain = gain
        #: told the night's id when a raw file is finished and at the night's end (the waveform maker)
        self.on_file_done = on_file_done or (lambda night_id: None)
        self.rate_hz, self.channels = rate_hz, channels
        self.clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self.start = self.clock()
        self.clock_was_set = clock_is_set(self.start)
        self.raw_stopped_reason: str | None = None
        self.writes = HeldWrites(on_full=self._disk_full)  #: store writes, held while the store takes none
        self._db = self.writes.do
        self.reserve = Reserve(data_dir)
        self.reserve.make()
        self.names = store.site_names(channels)
        self.night_id: int | None = None
        self._source = source
        self._db(self._add_night)
        if sensitivity is None and detector is None:  # the page's Settings (nothing else writes a sensitivity)
            sensitivity = effective_config(None, store).sensitivity
        # a fault of the detector's own restarts it on the signal it had not decided, never ends the night
        self.det = GuardedDetector(detector or Detector(DetectorConfig(rate_hz=rate_hz, channels=channels,
                                                                       sensitivity=sensitivity, gain=gain)))
        self.heart = HeartTrack()  # the lowest 10-minute heart rate, for the doctor's report
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

    # -- store writes that may wait (daemon/held.py) -------------------------------------
    @property
    def held_events(self) -> int:
        return self.writes.held_events

    @property
    def lost_events(self) -> int:
        return self.writes.lost_events

    @property
    def db_problem(self) -> str | None:
        return self.writes.db_problem

    def flush(self, force: bool = False) -> bool:
        """Try the held store writes (see :class:`.held.HeldWrites`); True when nothing is held."""
        return self.writes.flush(force)

    def _disk_full(self, reason: str) -> bool:
        """The store is full: stop raw recording and give back the reserve; True if space was freed."""
        self.stop_raw(reason)
        if self.reserve.release():
            log.warning(f"released the {self.reserve.bytes / 1e6:g} MB reserve for the night's counts")
            self.writes.retry_now()
            return True
        return False

    # -- raw recording ----------------------------------------------------------------------
    def _open_file(self) -> None:
        t = self.start + dt.timedelta(seconds=self.samples / self.rate_hz)
        # filed under the night's date, the one the page shows (not the UTC day it began)
        rel = Path("recordings") / night_date(self.start) / \
            f"night-{self.night_id if self.night_id is not None else 'new'}-{t:%H%M%S}.edf"
        (self.data_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        self.writer = EdfWriter(self.data_dir / rel, self.rate_hz, self.names, t, gain=self.gain)
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
        self.heart.update(self.det)
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
        """The button was pressed: a cramp now (setting ``button_press``,
        the default) or a plain mark of this moment of the night."""
        t = self.samples / self.rate_hz
        at = (self.start + dt.timedelta(seconds=t)).isoformat(timespec="seconds")

        def write():
            if self.store.button_press() == "mark":
                self.store.add_events(self.night_id, marks=[{"t": t}])
            else:
                self.store.add_cramp(date=night_date(self.start), source="button", night_id=self.night_id,
                                     t=round(t, 3), at_utc=at)
        self._db(write, events=1)

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
        self.heart.update(self.det)
        try:
            self._close_file()
        except OSError as exc:
            log.warning(f"could not close the raw recording: {exc}")
            self.writer = None
        end = self.start + dt.timedelta(seconds=self.samples / self.rate_hz)
        dur, rest = self.samples / self.rate_hz, self.det.rest_s

        def finish():  # run when the store takes it: every event is in by then
            faults = [dict(h) for h in self.store.health(self.night_id)]
            summary = summary_from_detector(self.det, self.store.twitches(self.night_id), faults, dur,
                                            self.heart)
            self.store.update_night(self.night_id, status="complete", duration_s=dur, rest_s=rest,
                                    end_utc=end.isoformat(timespec="seconds"), heart_rate_bpm=self.det.heart_rate_bpm,
                                    mains_hz=self.det.mains_hz, summary=summary)
            self.store.refresh_counts(self.night_id)

        for key in ("running", "duration", "counts"):  # the final write has them all
            self.writes.drop(key)
        self._db(finish, key="finish")
        t_end = time.monotonic() + wait_s
        while not self.flush(force=True) and time.monotonic() < t_end:
            time.sleep(min(1.0, max(0.0, t_end - time.monotonic())))
        if self.writes.pending:
            log.warning(f"the database took no writes before the end ({self.db_problem}): "
                  f"{self.held_events} event(s) of this night not stored; its counts stay as last stored")
        elif self.lost_events:
            log.warning(f"{self.lost_events} event(s) of this night were dropped while the database "
                  "took no writes")
        self.on_file_done(self.night_id)  # every event is in: the rest of the night's waveforms
