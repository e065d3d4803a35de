"""``twitchmon run``: the :class:`Daemon`, one method per event.

The main loop owns the recorder and the store's writes.  Everything else
that happens (the scheduler's jobs, the button, an MQTT command, SIGTERM)
posts a small typed message on the daemon's queue, from whatever thread it
runs in, and the loop handles each between two blocks: no thread changes
the daemon's state.
"""
from __future__ import annotations

import datetime as dt
import queue
import signal
import sqlite3
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from gpiozero.exc import BadPinFactory, GPIOZeroError

from .. import pins
from ..adc import ADCError
from ..config import effective_config, load_config
from ..detector import Detector, DetectorConfig
from ..detector.faults import classify_window
from ..frontend import detector_gain
from ..live import publish
from ..log import get_logger
from ..mqtt import settings_for
from ..mqtt_publisher import Publisher
from ..notify import sd_notify, watchdog_interval_s
from ..paths import data_dir as resolve_data_dir
from ..sampler_process import SamplerProcess
from ..schedule import NightScheduler, free_mb, retention
from ..snippets import SnippetWorker
from ..sources import default_source, kind
from ..status import StatusPanel
from ..store import ReadOnlyDataDir, open_store, unavailable
from ..traces import open_trace
from ..window import clock_is_set, in_window
from .gaps import GapFiller
from .nightcheck import NightChecks
from .recorder import NightRecorder
from .recovery import recover

log = get_logger(__name__)

DAEMON_BUSY_S = 2.0  #: the daemon's SQLite busy timeout, s: short, it holds its writes rather than wait
DEFAULT_RATE_HZ = 1000.0  #: samples per second per channel when ``--rate`` is not given
SENSOR_CHECK_S = 1.0  #: how often the sensors' state in the live ring is judged anew, s


# -- the messages ----------------------------------------------------------------------

@dataclass(frozen=True)
class NightWanted:
    """Record (True) or not: the window's edges, the button's hold, MQTT."""
    on: bool


@dataclass(frozen=True)
class ToggleNight:
    """The button was held: start recording if not, else stop."""


@dataclass(frozen=True)
class DiskCheck:
    """The disk guard's minute: is the data filesystem nearly full?"""
    low: bool


@dataclass(frozen=True)
class HealthCheck:
    """Every 30 s: settings, the LED, SPI errors, the page's banner, the clock."""


@dataclass(frozen=True)
class Mark:
    """The button was pressed: a cramp now, or a mark of this moment (Settings' ``button_press``)."""


def health_state(rec) -> str:
    """The status LED's state: idle (not recording), fault (a sensor is not
    ok), or recording."""
    if rec is None:
        return "idle"
    return "fault" if any(st != "ok" for st in rec.det.status) else "recording"


def status_panel(on_mark, on_toggle):
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


def live_writer(store, ddir: Path, channels: int, rate_hz: float):
    """The live signal ring for the page (see :mod:`..live`); None if it cannot be made."""
    try:
        return publish(store, ddir, channels, rate_hz)
    except (OSError, ValueError, sqlite3.Error) as exc:
        log.warning(f"no live signal view: {exc}")
        return None


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Daemon:
    """Sample, detect, record in the night window, schedule (``args``: the
    ``run`` command's options)."""

    def __init__(self, args):
        self.args = args
        self.messages: queue.SimpleQueue = queue.SimpleQueue()
        self.stopping = False
        self.cfg = load_config(args.config)  # a bad file stops here, before anything starts
        self.ddir = resolve_data_dir(args.data_dir)
        # damaged or missing: one line, exit 2
        self.store = open_store(self.ddir, busy_timeout_s=DAEMON_BUSY_S, check=True)
        if self.store.readonly:
            raise ReadOnlyDataDir(f"{self.ddir} is read-only: nothing can be recorded there (remount it "
                                  "read-write, or give --data-dir); the page can still show the stored nights")
        self.cfg = effective_config(args.config, self.store)  # with the page's Settings on top
        self.cfg_rev = self.store.get_setting("config_rev", 0)
        self.spec = args.source or default_source()
        self.source = kind(self.spec)
        self.channels, self.rate = args.channels or len(pins.SITES), args.rate or DEFAULT_RATE_HZ
        if self.source.rendered == "file":
            with open_trace(self.spec) as r:
                self.channels, self.rate = r.info.channels, r.info.rate_hz
        # the sensor board's gain: the real ADC reads the board the pin table
        # describes; a simulated night is drawn in the first board's codes
        self.gain = detector_gain() if self.source.hardware else 1.0
        self.rec: NightRecorder | None = None
        self.checks = NightChecks()  # each ended night's injection check (its own process)
        self.sensors_at = 0.0  # when the live ring's sensor states were last judged (monotonic s)
        self.night_wanted = self.window_open()
        self.low_disk = self.health_due = self.mark_due = False
        self.gaps = GapFiller()

    def window_open(self) -> bool:
        # with the clock unset the window is unknown: record, date it later
        return bool(self.args.always) or not clock_is_set(now()) or in_window(now(), self.cfg)

    def post(self, message) -> None:
        """Hand the main loop a message (any thread)."""
        self.messages.put(message)

    # -- start and stop -------------------------------------------------------------
    def recover(self) -> None:
        try:
            n = recover(self.store, self.ddir)  # also the catch-up: a night a power cut ended gets its summary
        except sqlite3.Error as exc:
            if not unavailable(exc):
                raise
            n = 0  # busy or full now: the next start finishes them (nothing is lost by waiting)
            log.warning(f"could not finish the nights a crash left ({exc}); the next start will")
        if n:
            log.info(f"recovered {n} recording(s)/night(s) left by a crash")

    def start(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.on_term)
        self.sched = NightScheduler(
            self.cfg, open_night=lambda: self.post(NightWanted(True)),
            close_night=lambda: self.post(NightWanted(bool(self.args.always) or not clock_is_set(now()))),
            retention_job=self.retention_job,
            disk_guard=lambda: self.post(DiskCheck(free_mb(self.ddir) < self.cfg.min_free_mb)),
            health=lambda: self.post(HealthCheck()))
        self.sched.start()
        try:
            self.sampler = SamplerProcess(self.spec, self.channels, self.rate, seed=self.args.seed,
                                          label=str(self.ddir)).start()
        except ADCError as exc:  # no SPI device, an unreadable file: one line naming the source, exit 1
            self.sched.shutdown()
            raise ADCError(f"{self.spec}: {exc}") from None
        if not self.sampler.realtime:  # once: late samples are likelier, and the page says so while it lasts
            log.warning(f"sampler at {self.sampler.priority}")
        self.snippets = SnippetWorker(self.store, self.ddir).start()
        self.snippets.backfill()  # nights recorded before waveforms were stored, or ended by a crash
        self.live = live_writer(self.store, self.ddir, self.channels, self.rate)
        # its own thread; off unless a broker is named
        self.pub = Publisher(settings_for(self.cfg, self.store), self.store.path, channels=self.channels,
                             on_recording=lambda on: self.post(NightWanted(on))).start()
        # button: a press logs a cramp (or marks the moment), a 2-s hold starts or stops recording
        self.panel = status_panel(on_mark=lambda: self.post(Mark()),
                                  on_toggle=lambda: self.post(ToggleNight())) if self.source.hardware else None

    def on_term(self, *_) -> None:
        self.stopping = True

    def stop(self) -> None:
        if self.panel is not None:
            self.panel.show("idle")
            self.panel.close()
        self.sched.shutdown()
        if self.live is not None:
            self.live.close()
        stats = self.sampler.stop()
        if self.rec is not None:
            self.rec.close()
        self.pub.close()  # the last night's summary, then offline
        self.snippets.stop()
        if stats and not self.sampler.error:
            log.info(f"sampler {stats}")

    def run(self) -> int:
        self.recover()
        self.start()
        try:
            self.loop()
        finally:
            self.stop()
        if self.sampler.error and not self.stopping:
            print(f"twitchmon run: {self.spec}: {self.sampler.error}", file=sys.stderr, flush=True)
            return 1
        return 0

    # -- the loop -------------------------------------------------------------------
    def loop(self) -> None:
        wd = watchdog_interval_s()
        last_ping, ready = 0.0, False
        while not self.stopping:
            try:
                block = self.sampler.queue.get(timeout=0.5)
            except queue.Empty:
                if not self.sampler.alive:  # died without a word (killed): stop, do not wait forever
                    break
                continue
            if block is None:
                break
            if not ready:
                ready = sd_notify("READY=1") or True
                log.info(f"sampling {self.channels} channels at {self.rate:g} Hz from {self.spec}; data in "
                         f"{self.ddir}; night window {self.cfg.night_start:%H:%M}-{self.cfg.night_end:%H:%M}")
            t = time.monotonic()
            if wd and t - last_ping >= wd:  # blocks flowing: sampler and recorder both alive
                sd_notify("WATCHDOG=1")
                last_ping = t
            self.handle_messages()
            self.on_block(block)

    def handle_messages(self) -> None:
        while True:
            try:
                m = self.messages.get_nowait()
            except queue.Empty:
                return
            if isinstance(m, NightWanted):
                self.night_wanted = m.on
            elif isinstance(m, ToggleNight):
                self.night_wanted = not self.night_wanted
            elif isinstance(m, DiskCheck):
                self.low_disk = m.low
            elif isinstance(m, HealthCheck):
                self.health_due = True
            elif isinstance(m, Mark):
                self.mark_due = True

    def on_block(self, block) -> None:
        """One block from the sampler: open or close the night, show it live, count and record it."""
        self.open_or_close_night()
        codes = self.gaps.fill(block)  # missed periods become repeated frames: time stays true
        if self.live is not None:
            self.live.write(codes)
            self.judge_sensors()
        self.pub.offer(self.rec)
        if self.health_due:
            self.health_due = False
            self.on_health()
        rec = self.rec
        if rec is None:
            return
        rec.feed(codes)
        if self.low_disk and rec.raw_enabled:
            rec.stop_raw(f"disk nearly full (under {self.cfg.min_free_mb:g} MB free)")
        if self.mark_due:
            self.mark_due = False
            rec.mark()

    def open_or_close_night(self) -> None:
        if self.night_wanted and self.rec is None:
            det = Detector(DetectorConfig(rate_hz=self.rate, channels=self.channels,
                                          sensitivity=self.cfg.sensitivity, gain=self.gain))
            self.rec = NightRecorder(self.store, self.ddir, self.rate, self.channels, self.spec, detector=det,
                                     on_file_done=self.snippets.post, gain=self.gain)
            if self.live is not None:
                self.live.set_state(night_id=self.rec.night_id)
        elif not self.night_wanted and self.rec is not None:
            self.rec.close()  # rollover: the night's summary is stored
            self.checks.start(self.rec.night_id, self.ddir)
            self.rec = None
            self.pub.night_ended()
            if self.live is not None:
                self.live.set_state(night_id=None)

    def judge_sensors(self) -> None:
        """Once a second, each sensor's state over the last second of the
        ring, by the detector's own tests (its faults stage), into the ring
        for the page's sensor check: the page reads it, never the detector.
        Also reaps the nights' checks that have ended."""
        t = time.monotonic()
        if t - self.sensors_at < SENSOR_CHECK_S:
            return
        self.sensors_at = t
        status = classify_window(self.live.tail(int(self.rate)), self.rate, self.gain)
        self.live.set_state(status, self.rec.night_id if self.rec is not None else None)
        self.checks.reap()

    def on_health(self) -> None:
        """Every 30 s: settings saved on the page, the LED, SPI errors, the clock, the banner."""
        self.on_settings()
        if self.panel is not None:
            self.panel.show(health_state(self.rec))
        spi_errors = self.gaps.take_errors()
        if spi_errors:
            log.warning(f"{spi_errors} SPI read error(s) since the last check")
        if self.rec is None:
            return
        self.rec.fix_clock()
        try:  # for the page's banner; the next check writes it again
            self.store.set_daemon_health({"t": now().isoformat(timespec="seconds"),
                                          "status": list(self.rec.det.status), "spi_errors": spi_errors,
                                          "sampler_priority": self.sampler.priority,
                                          "realtime": self.sampler.realtime})
        except sqlite3.Error as exc:
            if not unavailable(exc):
                raise

    def on_settings(self) -> None:
        """The owner saved Settings on the page (``config_rev`` moved): the new window now, the rest next night."""
        try:
            rev = self.store.get_setting("config_rev", 0)
        except sqlite3.Error as exc:
            if not unavailable(exc):
                raise
            return  # unreadable now: keep the settings we have
        if rev == self.cfg_rev:
            return
        self.cfg_rev, self.cfg = rev, effective_config(self.args.config, self.store)
        self.sched.reschedule(self.cfg)
        self.night_wanted = self.window_open()
        self.pub.reconfigure(settings_for(self.cfg, self.store))
        log.info(f"settings changed: night window {self.cfg.night_start:%H:%M}-{self.cfg.night_end:%H:%M}, "
                 f"sensitivity {self.cfg.sensitivity:g} (from the next night)")

    def retention_job(self) -> None:
        """Noon: delete raw files older than the retention (in the scheduler's thread, its own connection)."""
        days = self.cfg.raw_retention_days
        try:
            st = open_store(self.ddir, busy_timeout_s=DAEMON_BUSY_S)
            try:
                gone = retention(st, self.ddir, now(), days)
            finally:
                st.close()
        except sqlite3.Error as exc:
            if not unavailable(exc):
                raise
            log.warning(f"retention skipped today: {exc}")
            return
        if gone:
            log.info(f"retention deleted {len(gone)} raw file(s) older than {days} days")


def run_daemon(args) -> int:
    """``twitchmon run``: sample, detect, record in the night window, schedule."""
    return Daemon(args).run()
