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
from collections.abc import Iterable
from pathlib import Path

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
]


class Store:
    """A connection per thread to one database file."""

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        self._local = threading.local()

    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
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
        db.executemany("INSERT INTO events (night_id, kind, t, end_t, channel, channels, duration_ms, peak, snr) "
                       "VALUES (?,?,?,?,?,?,?,?,?)", rows)
        db.execute("COMMIT")

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
        d["per_channel"] = json.loads(d["per_channel"])
        d["channel_names"] = json.loads(d["channel_names"])
        d["summary"] = json.loads(d["summary"])
        return d

    def twitches(self, night_id: int) -> list[dict]:
        rows = self.db.execute("SELECT t, channel, duration_ms, peak, snr FROM events "
                               "WHERE night_id = ? AND kind = 'twitch' ORDER BY t", (night_id,))
        return [dict(r) for r in rows]

    def movements(self, night_id: int) -> list[dict]:
        rows = self.db.execute("SELECT t, end_t, channels FROM events WHERE night_id = ? AND kind = 'movement' "
                               "ORDER BY t", (night_id,))
        return [{"t": r["t"], "end": r["end_t"], "channels": json.loads(r["channels"])} for r in rows]

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
        return {r["date"]: {"factors": json.loads(r["factors"]), "notes": r["notes"]} for r in rows}

    def get_setting(self, key: str, default=None):
        r = self.db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return json.loads(r[0]) if r else default

    def set_setting(self, key: str, value) -> None:
        self.db.execute("INSERT INTO settings (key, value) VALUES (?, ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, json.dumps(value)))


def open_store(data_dir: str | os.PathLike) -> Store:
    """Open (creating and migrating) the store in ``data_dir``."""
    d = Path(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    store = Store(d / DB_NAME)
    store.migrate()
    return store
