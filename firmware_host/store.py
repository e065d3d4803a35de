"""SQLite store of nights, events, sensor health and settings.

One file, ``twitchmon.db`` in the data dir, in WAL mode so the web page
reads while the daemon writes.  The schema has a version table and ordered
migrations from the first release; :func:`open_store` brings any older file
up to date in one transaction per step.

Times are stored as ISO-8601 UTC strings for wall-clock moments and as
seconds from the night's first sample (``t``) for events.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterable
from pathlib import Path

from .errors import TwitchmonError
from .sites import names_or_default

DB_NAME = "twitchmon.db"

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE nights (
        id INTEGER PRIMARY KEY,
        date TEXT NOT NULL,              -- the evening's date, YYYY-MM-DD (local)
        start_utc TEXT NOT NULL,         -- first sample, ISO-8601 UTC
        end_utc TEXT,                    -- last sample
        source TEXT NOT NULL,
        rate_hz REAL NOT NULL,
        channels INTEGER NOT NULL,
        channel_names TEXT NOT NULL DEFAULT '[]',
        duration_s REAL NOT NULL DEFAULT 0,
        rest_s REAL NOT NULL DEFAULT 0,
        total INTEGER NOT NULL DEFAULT 0,
        per_channel TEXT NOT NULL DEFAULT '[]',
        movements INTEGER NOT NULL DEFAULT 0,
        heart_rate_bpm REAL,
        mains_hz REAL,
        status TEXT NOT NULL DEFAULT 'complete',   -- recording | complete | recovered
        clock_ok INTEGER NOT NULL DEFAULT 1,
        summary TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        night_id INTEGER NOT NULL REFERENCES nights(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('twitch', 'movement', 'mark')),
        t REAL NOT NULL,                 -- seconds from the night's first sample
        end_t REAL,
        channel INTEGER,
        channels TEXT,
        duration_ms REAL,
        peak REAL,
        snr REAL
    );
    CREATE INDEX events_night ON events(night_id, kind, t);
    CREATE TABLE recordings (
        id INTEGER PRIMARY KEY,
        night_id INTEGER NOT NULL REFERENCES nights(id) ON DELETE CASCADE,
        path TEXT NOT NULL,              -- relative to the data dir
        start_t REAL NOT NULL,           -- seconds from the night's first sample
        samples INTEGER NOT NULL DEFAULT 0,
        finished INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE health (
        id INTEGER PRIMARY KEY,
        night_id INTEGER REFERENCES nights(id) ON DELETE CASCADE,
        t REAL NOT NULL,
        channel INTEGER NOT NULL,
        status TEXT NOT NULL
    );
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 2: the diary: what was different about a night (factors the user ticks, notes)
    """
    CREATE TABLE diary (
        date TEXT PRIMARY KEY,          -- the evening the night began, YYYY-MM-DD
        factors TEXT NOT NULL DEFAULT '[]',
        notes TEXT NOT NULL DEFAULT '',
        updated_utc TEXT NOT NULL
    );
    """,
    # 3: which nights' summaries an MQTT broker acknowledged (see firmware_host/mqtt.py)
    """
    CREATE TABLE published (
        night_id INTEGER PRIMARY KEY REFERENCES nights(id) ON DELETE CASCADE,
        topic TEXT NOT NULL,
        published_utc TEXT NOT NULL
    );
    """,
    # 4: each twitch's waveform for the page's gallery, made once from the raw
    # recording (firmware_host/snippets.py) so no request reads EDF; it goes
    # with its recording when retention deletes the raw file
    """
    CREATE TABLE snippets (
        recording_id INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
        night_id INTEGER NOT NULL REFERENCES nights(id) ON DELETE CASCADE,
        t REAL NOT NULL,                 -- the twitch's onset, s from the night's first sample
        channel INTEGER NOT NULL,
        values_f32 BLOB NOT NULL,        -- band-passed codes, little-endian float32, at the night's rate
        PRIMARY KEY (night_id, t, channel)
    );
    CREATE TABLE snippet_nights (
        night_id INTEGER PRIMARY KEY REFERENCES nights(id) ON DELETE CASCADE,
        done_utc TEXT NOT NULL
    );
    """,
]


def unavailable(exc: BaseException) -> bool:
    """True for SQLite errors that say the database cannot take this write
    now (busy or locked by another process, disk full, read-only, I/O error,
    damaged), as opposed to a mistake in the query: a writer that can wait
    holds its data and tries again."""
    return isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError


def _json(text, default):
    """A JSON column's value; ``default`` when damaged bytes made it unreadable
    (one bad row must not take the page down)."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return default
    return value if isinstance(value, type(default)) else default


def damaged(exc: BaseException) -> bool:
    """True for SQLite errors that say the file itself is bad (not a database, malformed)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or type(exc) is sqlite3.DatabaseError


def describe(exc: BaseException) -> str:
    """What an :func:`unavailable` error (or a file write's EROFS/ENOSPC) means
    for the owner, in one line."""
    import errno  # noqa: PLC0415
    if isinstance(exc, OSError) and exc.errno == errno.EROFS:
        return "the data dir is read-only: stored nights can be read, nothing can be saved"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full: nothing can be saved until space is freed"
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(exc):
        return "the database is busy (another program holds its write lock); try again in a minute"
    if name.startswith("SQLITE_READONLY") or "readonly" in str(exc):
        return "the data dir is read-only: stored nights can be read, nothing can be saved"
    if name == "SQLITE_FULL" or "full" in str(exc):
        return "the disk is full: nothing can be saved until space is freed"
    if name.startswith("SQLITE_IOERR"):
        return f"the disk gave an I/O error ({exc})"
    return f"the database file is damaged ({exc}); see the README, Reliability, to restore it"


class Store:
    """A connection per thread to one database file.

    ``busy_timeout_s``: how long a write waits for another process's write
    lock before it fails with "database is locked" (the daemon waits less
    than the page: it has a sampler to keep up with, and holds its writes)."""

    def __init__(self, path: str | os.PathLike, busy_timeout_s: float = 10.0):
        self.path = str(path)
        self.busy_timeout_s = busy_timeout_s
        self._local = threading.local()

    @property
    def readonly(self) -> bool:
        """The data dir cannot be written (a read-only mount, or not ours):
        the store is opened read-only, reads work, a write is SQLITE_READONLY."""
        return not os.access(os.path.dirname(os.path.abspath(self.path)), os.W_OK)

    def _connect(self) -> sqlite3.Connection:
        if not self.readonly:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")  # the first statement reads the schema
            return conn
        # WAL read-only needs its -shm and -wal files; where they are gone (a clean
        # close removes them, so the WAL held nothing) the file is read as it is
        uri = "file:" + urllib.parse.quote(os.path.abspath(self.path))
        conn = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=self.busy_timeout_s, isolation_level=None)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            conn.close()
            conn = sqlite3.connect(uri + "?immutable=1", uri=True, isolation_level=None)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn

    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = self._connect()
            except UnicodeDecodeError:  # SQLite's message quotes schema bytes that are no longer UTF-8
                raise sqlite3.DatabaseError("malformed database schema (bytes that are not text)") from None
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- schema -------------------------------------------------------------
    def migrate(self) -> int:
        db = self.db
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = db.execute("SELECT max(version) FROM schema_version").fetchone()
        current = row[0] or 0
        for n, sql in enumerate(MIGRATIONS, start=1):
            if n <= current:
                continue
            db.execute("BEGIN IMMEDIATE")
            try:
                for stmt in sql.split(";"):
                    if stmt.strip():
                        db.execute(stmt)
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (n,))
                db.execute("COMMIT")
            except Exception:
                db.execute("ROLLBACK")
                raise
        return len(MIGRATIONS)

    def schema_version(self) -> int:
        try:
            return self.db.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return 0
            raise

    def integrity_ok(self) -> bool:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # -- nights -------------------------------------------------------------
    def add_night(self, *, date: str, start_utc: str, source: str, rate_hz: float, channels: int,
                  channel_names: list[str], status: str = "recording", clock_ok: bool = True) -> int:
        cur = self.db.execute(
            "INSERT INTO nights (date, start_utc, source, rate_hz, channels, channel_names, status, "
            "per_channel, clock_ok) VALUES (?,?,?,?,?,?,?,?,?)",
            (date, start_utc, source, rate_hz, channels, json.dumps(channel_names), status,
             json.dumps([0] * channels), int(clock_ok)))
        return int(cur.lastrowid)

    def update_night(self, night_id: int, **fields) -> None:
        allowed = {"end_utc", "duration_s", "rest_s", "total", "per_channel", "movements",
                   "heart_rate_bpm", "mains_hz", "status", "summary", "date", "start_utc", "clock_ok"}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"unknown night fields {sorted(bad)}")
        for k in ("per_channel", "summary"):
            if k in fields and not isinstance(fields[k], str):
                fields[k] = json.dumps(fields[k])
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE nights SET {sets} WHERE id = ?", (*fields.values(), night_id))

    def add_events(self, night_id: int, twitches: Iterable[dict] = (), movements: Iterable[dict] = (),
                   marks: Iterable[dict] = ()) -> None:
        rows = [(night_id, "twitch", e["t"], None, e["channel"], None, e.get("duration_ms"),
                 e.get("peak"), e.get("snr")) for e in twitches]
        rows += [(night_id, "movement", m["t"], m["end"], None, json.dumps(m["channels"]), None, None, None)
                 for m in movements]
        rows += [(night_id, "mark", m["t"], None, None, None, None, None, None) for m in marks]
        if not rows:
            return
        db = self.db
        db.execute("BEGIN")
        try:
            db.executemany("INSERT INTO events (night_id, kind, t, end_t, channel, channels, duration_ms, peak, "
                           "snr) VALUES (?,?,?,?,?,?,?,?,?)", rows)
            db.execute("COMMIT")
        except sqlite3.Error:  # busy or full: leave no transaction open for the next write
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def add_health(self, night_id: int | None, changes: Iterable[dict]) -> None:
        rows = [(night_id, c["t"], c["channel"], c["status"]) for c in changes]
        if rows:
            self.db.executemany("INSERT INTO health (night_id, t, channel, status) VALUES (?,?,?,?)", rows)

    def health(self, night_id: int) -> list[dict]:
        """Sensor status changes of a night: t (s from its start), channel, status."""
        rows = self.db.execute("SELECT t, channel, status FROM health WHERE night_id = ? ORDER BY t, channel",
                               (night_id,))
        return [dict(r) for r in rows]

    def nights(self, limit: int = 1000) -> list[dict]:
        rows = self.db.execute("SELECT * FROM nights ORDER BY start_utc DESC, id DESC LIMIT ?", (limit,))
        return [self._night(r) for r in rows]

    def night(self, night_id: int) -> dict | None:
        r = self.db.execute("SELECT * FROM nights WHERE id = ?", (night_id,)).fetchone()
        return self._night(r) if r else None

    @staticmethod
    def _night(r: sqlite3.Row) -> dict:
        d = dict(r)
        d["per_channel"] = _json(d["per_channel"], [])
        d["channel_names"] = _json(d["channel_names"], [])
        d["summary"] = _json(d["summary"], {})
        return d

    def twitches(self, night_id: int) -> list[dict]:
        rows = self.db.execute("SELECT t, channel, duration_ms, peak, snr FROM events "
                               "WHERE night_id = ? AND kind = 'twitch' ORDER BY t", (night_id,))
        return [dict(r) for r in rows]

    def movements(self, night_id: int) -> list[dict]:
        rows = self.db.execute("SELECT t, end_t, channels FROM events WHERE night_id = ? AND kind = 'movement' "
                               "ORDER BY t", (night_id,))
        return [{"t": r["t"], "end": r["end_t"], "channels": _json(r["channels"], [])} for r in rows]

    def refresh_counts(self, night_id: int) -> dict:
        """Recompute a night's totals from its events (the events are the truth)."""
        n = self.night(night_id)
        per = [0] * n["channels"]
        for (ch, k) in self.db.execute("SELECT channel, count(*) FROM events WHERE night_id = ? "
                                       "AND kind = 'twitch' GROUP BY channel", (night_id,)):
            if ch is not None and 0 <= ch < len(per):
                per[ch] = k
        mv = self.db.execute("SELECT count(*) FROM events WHERE night_id = ? AND kind = 'movement'",
                             (night_id,)).fetchone()[0]
        self.update_night(night_id, total=sum(per), per_channel=per, movements=mv)
        return {"total": sum(per), "per_channel": per, "movements": mv}

    # -- recordings ------------------------------------------------------------
    def add_recording(self, night_id: int, path: str, start_t: float) -> int:
        cur = self.db.execute("INSERT INTO recordings (night_id, path, start_t) VALUES (?,?,?)",
                              (night_id, path, start_t))
        return int(cur.lastrowid)

    def delete_recording(self, rec_id: int) -> None:
        """Forget a raw file (retention deleted it); the night and its events stay."""
        self.db.execute("DELETE FROM recordings WHERE id = ?", (rec_id,))

    def finish_recording(self, rec_id: int, samples: int) -> None:
        self.db.execute("UPDATE recordings SET samples = ?, finished = 1 WHERE id = ?", (samples, rec_id))

    def recordings(self, night_id: int | None = None, unfinished: bool = False) -> list[dict]:
        q = "SELECT * FROM recordings WHERE 1=1"
        args: list = []
        if night_id is not None:
            q += " AND night_id = ?"
            args.append(night_id)
        if unfinished:
            q += " AND finished = 0"
        return [dict(r) for r in self.db.execute(q + " ORDER BY id", args)]

    # -- MQTT ---------------------------------------------------------------------
    def unpublished_nights(self, from_id: int = 0) -> list[dict]:
        """Ended nights (id >= ``from_id``) whose summary no broker has acknowledged, oldest first."""
        rows = self.db.execute("SELECT * FROM nights WHERE id >= ? AND status != 'recording' AND id NOT IN "
                               "(SELECT night_id FROM published) ORDER BY id", (from_id,))
        return [self._night(r) for r in rows]

    def mark_published(self, night_id: int, topic: str, published_utc: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO published (night_id, topic, published_utc) VALUES (?,?,?)",
                        (night_id, topic, published_utc))

    def published(self) -> dict[int, str]:
        """Night id -> when its summary was acknowledged."""
        return {r[0]: r[1] for r in self.db.execute("SELECT night_id, published_utc FROM published")}

    # -- settings ---------------------------------------------------------------
    def set_diary(self, date: str, factors: list[str], notes: str, updated_utc: str) -> None:
        self.db.execute("INSERT INTO diary (date, factors, notes, updated_utc) VALUES (?,?,?,?) "
                        "ON CONFLICT(date) DO UPDATE SET factors = excluded.factors, notes = excluded.notes, "
                        "updated_utc = excluded.updated_utc", (date, json.dumps(factors), notes, updated_utc))

    def diary(self) -> dict[str, dict]:
        """Every diary entry by date: {"factors": [...], "notes": str}."""
        rows = self.db.execute("SELECT date, factors, notes FROM diary ORDER BY date")
        return {r["date"]: {"factors": _json(r["factors"], []), "notes": r["notes"]} for r in rows}

    def get_setting(self, key: str, default=None):
        r = self.db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return json.loads(r[0]) if r else default

    def set_setting(self, key: str, value) -> None:
        self.db.execute("INSERT INTO settings (key, value) VALUES (?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, json.dumps(value)))

    def delete_setting(self, key: str) -> None:
        self.db.execute("DELETE FROM settings WHERE key = ?", (key,))

    # -- typed settings: what the daemon tells the page, and what the page saves --------
    def site_names(self, channels: int) -> list[str]:
        """The sensor sites' names: as the owner named them on the page, else pins.SITES."""
        try:
            names = self.get_setting("channel_names")
        except sqlite3.Error:  # unreadable now: the default names still label the recording
            names = None
        return names_or_default(names, channels)

    def daemon_health(self) -> dict | None:
        """The daemon's last health check (``t`` ISO-8601 UTC, ``status`` per
        channel, ``spi_errors``, ``sampler_priority``, ``realtime``), or None."""
        value = self.get_setting("health")
        if isinstance(value, str):  # written JSON-in-JSON before the store had this method
            try:
                value = json.loads(value)
            except ValueError:
                return None
        return value if isinstance(value, dict) else None

    def set_daemon_health(self, health: dict) -> None:
        self.set_setting("health", health)

    def live_path(self) -> str | None:
        """Where the daemon's live signal ring is (firmware_host/live.py), or None."""
        path = self.get_setting("live_path")
        return path if isinstance(path, str) and path else None

    def set_live_path(self, path: str) -> None:
        self.set_setting("live_path", str(path))

    def set_counted_s(self, night_id: int, counted_s: float) -> None:
        """How much of a night being recorded the stored counts cover, s."""
        self.set_setting(f"night.{night_id}.counted_s", counted_s)

    def counted_s(self, night_id: int) -> float | None:
        return self.get_setting(f"night.{night_id}.counted_s")

    def set_raw_stopped(self, night_id: int, reason: str) -> None:
        """Why a night's raw recording stopped (disk full, I/O error)."""
        self.set_setting(f"night.{night_id}.raw_stopped", reason)

    def raw_stopped(self, night_id: int) -> str | None:
        return self.get_setting(f"night.{night_id}.raw_stopped")

    def save_settings(self, *, config: dict, channel_names: list[str], lan_read_only: bool,
                      mqtt_enabled: bool, mqtt_remote_control: bool, saved_utc: str) -> int:
        """The page's Settings in one transaction (the daemon never sees half
        of them); the new ``config_rev``, which tells the daemon to reload."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            self.set_setting("config", config)
            self.set_setting("mqtt_enabled", bool(mqtt_enabled))
            self.set_setting("mqtt_remote_control", bool(mqtt_remote_control))
            self.set_setting("channel_names", list(channel_names))
            self.set_setting("lan_read_only", bool(lan_read_only))
            rev = int(self.get_setting("config_rev", 0)) + 1
            self.set_setting("config_rev", rev)
            self.set_setting("config_saved_utc", saved_utc)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return rev

    # -- waveform snippets ----------------------------------------------------------
    def add_snippets(self, night_id: int, rows: Iterable[tuple[int, float, int, bytes]]) -> None:
        """(recording id, t, channel, float32 bytes) per twitch; one already there is kept."""
        self.db.executemany("INSERT OR IGNORE INTO snippets (recording_id, night_id, t, channel, values_f32) "
                            "VALUES (?,?,?,?,?)", [(r, night_id, t, c, b) for r, t, c, b in rows])

    def snippets(self, night_id: int) -> dict[tuple[float, int], tuple[int, bytes]]:
        """(t, channel) -> (recording id, float32 bytes) for a night's stored waveforms."""
        rows = self.db.execute("SELECT t, channel, recording_id, values_f32 FROM snippets WHERE night_id = ?",
                               (night_id,))
        return {(r[0], r[1]): (r[2], bytes(r[3])) for r in rows}

    def mark_snippets_done(self, night_id: int, done_utc: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO snippet_nights (night_id, done_utc) VALUES (?, ?)",
                        (night_id, done_utc))

    def nights_without_snippets(self) -> list[int]:
        """Ended nights with raw recordings whose waveforms were never made (oldest first)."""
        rows = self.db.execute("SELECT id FROM nights WHERE status != 'recording' AND id NOT IN "
                               "(SELECT night_id FROM snippet_nights) AND id IN "
                               "(SELECT night_id FROM recordings WHERE finished = 1) ORDER BY id")
        return [r[0] for r in rows]

    # -- the page's sessions ----------------------------------------------------
    def session_generation(self) -> int:
        """The page's login sessions carry this number; one with an older
        number is logged out (sessions are signed cookies, not rows)."""
        return int(self.get_setting("session_generation", 0))

    def end_sessions(self) -> int:
        """Log out every session of the page; the new generation."""
        self.db.execute("INSERT INTO settings (key, value) VALUES ('session_generation', '1') ON CONFLICT(key) "
                        "DO UPDATE SET value = CAST(value AS INTEGER) + 1")
        return self.session_generation()

    def set_password_hash(self, password_hash: str) -> int:
        """A new owner's password, and every session made under the old one ended
        (in one transaction); the new session generation."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            self.set_setting("password_hash", password_hash)
            gen = self.end_sessions()
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return gen


class StoreError(TwitchmonError, ValueError):
    """The data dir's database cannot be used as it is; the message is one
    line that says what and what to do.  Commands exit 2 (unreadable input),
    which the systemd units do not restart on."""


class ReadOnlyDataDir(TwitchmonError, OSError):
    """The recorder's data dir cannot be written; the message is one line."""


def _evidence_of_nights(d: Path) -> str | None:
    """What in ``d`` shows nights were recorded here (raw files, a WAL)."""
    edfs = sum(1 for _ in (d / "recordings").glob("*/*.edf")) if (d / "recordings").is_dir() else 0
    if edfs:
        return f"{d / 'recordings'} holds {edfs} recording(s)"
    wal = d / (DB_NAME + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return f"{wal} holds unwritten pages"
    return None


def open_store(data_dir: str | os.PathLike, busy_timeout_s: float = 10.0, *, check: bool = False) -> Store:
    """Open (creating and migrating) the store in ``data_dir``.

    Never makes a new, empty database where one is missing or empty (0
    bytes) but the data dir shows nights were recorded, and says in one
    line when the file is not a database or is damaged: :class:`StoreError`.
    ``check``: also run SQLite's quick check (the daemon and the page at
    start; a few seconds for years of nights)."""
    d = Path(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    path = d / DB_NAME
    if not path.exists() or path.stat().st_size == 0:
        evidence = _evidence_of_nights(d)
        if evidence:
            state = "is missing" if not path.exists() else "is empty (0 bytes)"
            raise StoreError(f"{path} {state} but {evidence}: refusing to start a new database over those "
                             "nights; restore it from a backup, or move the data dir away to start afresh")
    store = Store(path, busy_timeout_s)
    try:
        if store.readonly:  # the page can still show the nights; nothing can be migrated
            if not path.exists():
                raise StoreError(f"{d} is read-only and holds no database ({DB_NAME})")
            if store.schema_version() != len(MIGRATIONS):
                raise StoreError(f"{path} needs upgrading, but {d} is read-only: remount it read-write once")
        else:
            store.migrate()
            private(path, Path(f"{path}-wal"), Path(f"{path}-shm"))
        if check:
            problems = [r[0] for r in store.db.execute("PRAGMA quick_check(3)")]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError(problems[0])
    except sqlite3.DatabaseError as exc:
        store.close()
        if not damaged(exc):
            raise
        why = " ".join(str(exc).split())[:160]  # SQLite quotes schema text, newlines and all
        raise StoreError(f"{path}: damaged, {why}; the page and the recorder will not start on it: "
                         "restore it from a backup (sqlite3 .recover can save what is readable)") from None
    return store


def private(*paths: Path) -> None:
    """Owner-only (0600) for those of ``paths`` that exist and are ours: the
    nights are health data, and a manual install's umask left them 0644.
    (SQLite gives a new -wal/-shm the database file's mode.)"""
    for p in paths:
        try:
            if p.stat().st_mode & 0o077:
                os.chmod(p, 0o600)
        except OSError:  # gone, not ours, or a read-only filesystem: nothing we can do here
            pass
