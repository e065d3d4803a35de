"""The store's connection and its nights, events and recordings
(:class:`Store`); settings and snippets come from mixins beside it."""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterable

from .. import pins, plm
from .cramps import CRAMPS_OF_NIGHT, CrampFaces
from .rows import _json
from .schema import MIGRATIONS
from .settings import SettingsFaces
from .snippets import SnippetFaces


class Store(SettingsFaces, SnippetFaces, CrampFaces):
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
                if n == 4:  # the nights already stored get their PLM index from their movements
                    self._backfill_plm()
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (n,))
                db.execute("COMMIT")
            except Exception:
                db.execute("ROLLBACK")
                raise
        return len(MIGRATIONS)

    def _backfill_plm(self) -> None:
        for r in self.db.execute("SELECT id, channels, rest_s FROM nights").fetchall():
            idx = plm.plm_index(self.movements(r["id"]), pins.legs(r["channels"]), r["rest_s"])
            self.db.execute("UPDATE nights SET plm_index = ? WHERE id = ?", (idx, r["id"]))

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

    def night_saved_from(self, source: str, start_utc: str) -> int | None:
        """The complete night already stored from this recording (same
        source and start), if any."""
        row = self.db.execute("SELECT id FROM nights WHERE source = ? AND start_utc = ? AND status = 'complete' "
                              "ORDER BY id LIMIT 1", (source, start_utc)).fetchone()
        return int(row[0]) if row else None

    def update_night(self, night_id: int, **fields) -> None:
        allowed = {"end_utc", "duration_s", "rest_s", "total", "per_channel", "movements",
                   "heart_rate_bpm", "mains_hz", "status", "summary", "date", "start_utc", "clock_ok",
                   "plm_index"}
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
        rows = self.db.execute(f"SELECT *, {CRAMPS_OF_NIGHT} FROM nights ORDER BY start_utc DESC, id DESC LIMIT ?",
                               (limit,))
        return [self._night(r) for r in rows]

    def night(self, night_id: int) -> dict | None:
        r = self.db.execute(f"SELECT *, {CRAMPS_OF_NIGHT} FROM nights WHERE id = ?", (night_id,)).fetchone()
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
        plm_index = plm.plm_index(self.movements(night_id), pins.legs(n["channels"]), n.get("rest_s"))
        self.update_night(night_id, total=sum(per), per_channel=per, movements=mv, plm_index=plm_index)
        return {"total": sum(per), "per_channel": per, "movements": mv, "plm_index": plm_index}

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
        rows = self.db.execute(f"SELECT *, {CRAMPS_OF_NIGHT} FROM nights WHERE id >= ? AND status != 'recording' "
                               "AND id NOT IN (SELECT night_id FROM published) ORDER BY id", (from_id,))
        return [self._night(r) for r in rows]

    def mark_published(self, night_id: int, topic: str, published_utc: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO published (night_id, topic, published_utc) VALUES (?,?,?)",
                        (night_id, topic, published_utc))

    def published(self) -> dict[int, str]:
        """Night id -> when its summary was acknowledged."""
        return {r[0]: r[1] for r in self.db.execute("SELECT night_id, published_utc FROM published")}
