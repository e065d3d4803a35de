"""firmware_host.store on its own: migrations (an old file upgraded, a failed
step leaving the file as it was), what each write stores and each read gives
back, sessions, and the one-line refusals."""
import errno
import os
import sqlite3
import stat
import threading

import pytest

from firmware_host.store import (DB_NAME, MIGRATIONS, Store, StoreError, damaged, describe, open_store,
                                 private, unavailable)

# the first release's schema, as it wrote it (kept here, not read from the code under test)
V1 = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE nights (id INTEGER PRIMARY KEY, date TEXT NOT NULL, start_utc TEXT NOT NULL, end_utc TEXT,
    source TEXT NOT NULL, rate_hz REAL NOT NULL, channels INTEGER NOT NULL,
    channel_names TEXT NOT NULL DEFAULT '[]', duration_s REAL NOT NULL DEFAULT 0,
    rest_s REAL NOT NULL DEFAULT 0, total INTEGER NOT NULL DEFAULT 0, per_channel TEXT NOT NULL DEFAULT '[]',
    movements INTEGER NOT NULL DEFAULT 0, heart_rate_bpm REAL, mains_hz REAL,
    status TEXT NOT NULL DEFAULT 'complete', clock_ok INTEGER NOT NULL DEFAULT 1,
    summary TEXT NOT NULL DEFAULT '{}');
CREATE TABLE events (id INTEGER PRIMARY KEY, night_id INTEGER NOT NULL REFERENCES nights(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('twitch', 'movement', 'mark')), t REAL NOT NULL, end_t REAL,
    channel INTEGER, channels TEXT, duration_ms REAL, peak REAL, snr REAL);
CREATE INDEX events_night ON events(night_id, kind, t);
CREATE TABLE recordings (id INTEGER PRIMARY KEY, night_id INTEGER NOT NULL REFERENCES nights(id) ON DELETE CASCADE,
    path TEXT NOT NULL, start_t REAL NOT NULL, samples INTEGER NOT NULL DEFAULT 0,
    finished INTEGER NOT NULL DEFAULT 0);
CREATE TABLE health (id INTEGER PRIMARY KEY, night_id INTEGER REFERENCES nights(id) ON DELETE CASCADE,
    t REAL NOT NULL, channel INTEGER NOT NULL, status TEXT NOT NULL);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO nights (date, start_utc, end_utc, source, rate_hz, channels, total, per_channel, status)
    VALUES ('2025-11-02', '2025-11-02T22:00:00+00:00', '2025-11-03T06:00:00+00:00', 'adc', 1000, 2, 3,
            '[1, 2]', 'complete');
INSERT INTO events (night_id, kind, t, channel, duration_ms, peak) VALUES (1, 'twitch', 12.5, 1, 80, 20);
INSERT INTO settings VALUES ('lan_read_only', 'true');
"""


def _v1(d):
    d.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(d / DB_NAME)
    db.executescript(V1)
    db.close()
    return d


def _night(store, channels=4, **kw):
    args = dict(date="2026-05-01", start_utc="2026-05-01T22:00:00+00:00", source="sim", rate_hz=500.0,
                channels=channels, channel_names=[f"c{i}" for i in range(channels)])
    args.update(kw)
    return store.add_night(**args)


def test_a_first_release_database_is_upgraded_and_keeps_its_nights(tmp_path):
    d = _v1(tmp_path / "data")
    store = open_store(d)
    assert store.schema_version() == len(MIGRATIONS) == 5  # + snippets (4), cramps and PLM (5)
    versions = [r[0] for r in store.db.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == [1, 2, 3, 4, 5]
    n = store.night(1)
    assert (n["total"], n["per_channel"], n["status"]) == (3, [1, 2], "complete")
    assert store.twitches(1) == [{"t": 12.5, "channel": 1, "duration_ms": 80.0, "peak": 20.0, "snr": None}]
    assert store.get_setting("lan_read_only") is True
    store.set_diary("2025-11-02", ["caffeine"], "late coffee", "2025-11-03T08:00:00+00:00")  # migration 2
    store.mark_published(1, "twitchmon/bed1/night", "2025-11-03T08:00:00+00:00")  # migration 3
    assert store.diary() == {"2025-11-02": {"factors": ["caffeine"], "notes": "late coffee"}}
    assert store.published() == {1: "2025-11-03T08:00:00+00:00"}
    assert store.migrate() == 5 and store.db.execute("SELECT count(*) FROM schema_version").fetchone()[0] == 5


def test_a_failed_migration_stops_there_and_leaves_that_step_undone(tmp_path):
    d = _v1(tmp_path / "data")
    db = sqlite3.connect(d / DB_NAME)
    db.execute("CREATE TABLE diary (x)")  # migration 2 cannot run on this file
    db.commit()
    db.close()
    with pytest.raises(sqlite3.OperationalError, match="diary already exists"):
        open_store(d)
    store = Store(d / DB_NAME)
    assert store.schema_version() == 1
    tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "published" not in tables  # the later step did not run on a half-migrated file
    assert not store.db.in_transaction
    # the night is untouched (read raw: Store.night() reads the cramps that a later step adds)
    assert store.db.execute("SELECT total FROM nights WHERE id = 1").fetchone()[0] == 3


def test_schema_version_of_a_file_with_no_schema_is_0(tmp_path):
    assert Store(tmp_path / "new.db").schema_version() == 0


def test_nights_round_trip_newest_first(tmp_path):
    store = open_store(tmp_path)
    a = _night(store, start_utc="2026-05-01T22:00:00+00:00")
    b = _night(store, date="2026-05-02", start_utc="2026-05-02T22:00:00+00:00", status="complete",
               clock_ok=False)
    c = _night(store, date="2026-04-30", start_utc="2026-04-30T22:00:00+00:00")
    assert [n["id"] for n in store.nights()] == [b, a, c]
    assert [n["id"] for n in store.nights(limit=2)] == [b, a]
    n = store.night(a)
    assert (n["status"], n["clock_ok"], n["per_channel"], n["channel_names"], n["summary"]) == \
        ("recording", 1, [0, 0, 0, 0], ["c0", "c1", "c2", "c3"], {})
    assert (store.night(b)["status"], store.night(b)["clock_ok"]) == ("complete", 0)
    assert store.night(9999) is None
    store.update_night(a, total=7, per_channel=[1, 2, 3, 1], summary={"counts": {"total": 7}}, status="complete",
                       end_utc="2026-05-02T06:00:00+00:00", rest_s=100.5)
    n = store.night(a)
    assert (n["total"], n["per_channel"], n["summary"], n["status"], n["rest_s"]) == \
        (7, [1, 2, 3, 1], {"counts": {"total": 7}}, "complete", 100.5)
    store.update_night(a, per_channel="[4, 4, 4, 4]")  # already JSON text: stored as it is
    assert store.night(a)["per_channel"] == [4, 4, 4, 4]
    with pytest.raises(ValueError, match="unknown night fields \\['id'\\]"):
        store.update_night(a, id=5)


def test_a_damaged_json_column_reads_as_empty(tmp_path):
    store = open_store(tmp_path)
    nid = _night(store)
    store.db.execute("UPDATE nights SET per_channel = 'not json', summary = '[1]', channel_names = '{}' "
                     "WHERE id = ?", (nid,))
    n = store.night(nid)
    assert (n["per_channel"], n["summary"], n["channel_names"]) == ([], {}, [])


def test_events_round_trip_in_time_order(tmp_path):
    store = open_store(tmp_path)
    nid = _night(store)
    store.add_events(nid, twitches=[{"t": 5.0, "channel": 2, "duration_ms": 80.0, "peak": 12.0, "snr": 4.0},
                                    {"t": 1.5, "channel": 0}],
                     movements=[{"t": 30.0, "end": 35.5, "channels": [0, 1]}], marks=[{"t": 40.0}])
    assert store.twitches(nid) == [{"t": 1.5, "channel": 0, "duration_ms": None, "peak": None, "snr": None},
                                   {"t": 5.0, "channel": 2, "duration_ms": 80.0, "peak": 12.0, "snr": 4.0}]
    assert store.movements(nid) == [{"t": 30.0, "end": 35.5, "channels": [0, 1]}]
    kinds = [r[0] for r in store.db.execute("SELECT kind FROM events WHERE night_id = ? ORDER BY t", (nid,))]
    assert kinds == ["twitch", "twitch", "movement", "mark"]
    store.add_events(nid)  # nothing to add: no empty transaction either
    assert not store.db.in_transaction


def test_a_failed_event_write_leaves_no_transaction_open(tmp_path):
    store = open_store(tmp_path)
    nid = _night(store)
    with pytest.raises(sqlite3.IntegrityError):
        store.add_events(nid, twitches=[{"t": 1.0, "channel": 0}, {"t": None, "channel": 1}])
    assert not store.db.in_transaction and store.twitches(nid) == []  # all or nothing
    store.add_events(nid, twitches=[{"t": 2.0, "channel": 1}])
    assert [e["t"] for e in store.twitches(nid)] == [2.0]


def test_health_changes_are_stored_per_night_in_order(tmp_path):
    store = open_store(tmp_path)
    nid, other = _night(store), _night(store)
    store.add_health(nid, [{"t": 60.0, "channel": 1, "status": "unplugged"},
                           {"t": 10.0, "channel": 3, "status": "railed"},
                           {"t": 10.0, "channel": 0, "status": "hum"}])
    store.add_health(other, [])
    store.add_health(None, [{"t": 1.0, "channel": 0, "status": "ok"}])  # outside a night
    assert store.health(nid) == [{"t": 10.0, "channel": 0, "status": "hum"},
                                 {"t": 10.0, "channel": 3, "status": "railed"},
                                 {"t": 60.0, "channel": 1, "status": "unplugged"}]
    assert store.health(other) == []
    assert store.db.execute("SELECT count(*) FROM health WHERE night_id IS NULL").fetchone()[0] == 1


def test_refresh_counts_recounts_from_the_events(tmp_path):
    store = open_store(tmp_path)
    nid = _night(store, channels=3)
    store.add_events(nid, twitches=[{"t": float(i), "channel": ch} for i, ch in enumerate([0, 2, 2, 2, 7])],
                     movements=[{"t": 9.0, "end": 10.0, "channels": [0]}, {"t": 20.0, "end": 21.0, "channels": [1]}])
    store.update_night(nid, total=99)
    got = store.refresh_counts(nid)
    assert got == {"total": 4, "per_channel": [1, 0, 3], "movements": 2, "plm_index": None}  # channel 7 is not this night's
    n = store.night(nid)
    assert (n["total"], n["per_channel"], n["movements"]) == (4, [1, 0, 3], 2)


def test_recordings(tmp_path):
    store = open_store(tmp_path)
    a, b = _night(store), _night(store)
    r1 = store.add_recording(a, "recordings/a/1.edf", 0.0)
    r2 = store.add_recording(a, "recordings/a/2.edf", 3600.0)
    r3 = store.add_recording(b, "recordings/b/1.edf", 0.0)
    store.finish_recording(r1, 3_600_000)
    assert [r["id"] for r in store.recordings()] == [r1, r2, r3]
    assert [r["id"] for r in store.recordings(a)] == [r1, r2]
    assert [r["id"] for r in store.recordings(unfinished=True)] == [r2, r3]
    assert [r["id"] for r in store.recordings(a, unfinished=True)] == [r2]
    assert store.recordings(a)[0] == {"id": r1, "night_id": a, "path": "recordings/a/1.edf", "start_t": 0.0,
                                      "samples": 3_600_000, "finished": 1}
    store.delete_recording(r2)
    assert [r["id"] for r in store.recordings(a)] == [r1] and store.night(a) is not None


def test_unpublished_nights_are_the_ended_ones_no_broker_acknowledged(tmp_path):
    store = open_store(tmp_path)
    live = _night(store)
    done = [_night(store, status="complete") for _ in range(3)]
    assert [n["id"] for n in store.unpublished_nights()] == done
    store.mark_published(done[1], "t/1", "2026-05-02T08:00:00+00:00")
    store.mark_published(done[1], "t/1", "2026-05-03T08:00:00+00:00")  # a second ack changes nothing
    assert [n["id"] for n in store.unpublished_nights()] == [done[0], done[2]]
    assert [n["id"] for n in store.unpublished_nights(from_id=done[1])] == [done[2]]
    assert store.published() == {done[1]: "2026-05-02T08:00:00+00:00"}
    assert live not in [n["id"] for n in store.unpublished_nights()]


def test_settings_and_diary(tmp_path):
    store = open_store(tmp_path)
    assert store.get_setting("x") is None and store.get_setting("x", 5) == 5
    store.set_setting("x", {"a": [1, 2]})
    store.set_setting("x", {"a": [3]})
    assert store.get_setting("x") == {"a": [3]}
    store.set_setting("f", False)
    assert store.get_setting("f", True) is False  # a stored false is not the default
    store.delete_setting("x")
    assert store.get_setting("x", "gone") == "gone"
    store.set_diary("2026-05-02", ["alcohol"], "", "t1")
    store.set_diary("2026-05-01", [], "n", "t1")
    store.set_diary("2026-05-02", ["caffeine"], "two", "t2")
    assert store.diary() == {"2026-05-01": {"factors": [], "notes": "n"},
                             "2026-05-02": {"factors": ["caffeine"], "notes": "two"}}
    assert list(store.diary()) == ["2026-05-01", "2026-05-02"]


def test_session_generations(tmp_path):
    store = open_store(tmp_path)
    assert store.session_generation() == 0
    assert store.end_sessions() == 1 and store.end_sessions() == 2 and store.session_generation() == 2
    assert store.set_password_hash("h1") == 3
    assert store.get_setting("password_hash") == "h1" and store.session_generation() == 3
    assert not store.db.in_transaction


def test_a_password_change_that_fails_changes_nothing(tmp_path):
    store = open_store(tmp_path)
    store.set_password_hash("old")
    store.db.execute("CREATE TRIGGER no_gen BEFORE UPDATE ON settings WHEN NEW.key = 'session_generation' "
                     "BEGIN SELECT RAISE(ABORT, 'refused'); END")
    with pytest.raises(sqlite3.IntegrityError):
        store.set_password_hash("new")
    assert store.get_setting("password_hash") == "old" and store.session_generation() == 1
    assert not store.db.in_transaction


def test_one_connection_per_thread(tmp_path):
    store = open_store(tmp_path)
    other = []
    t = threading.Thread(target=lambda: other.append(store.db))
    t.start()
    t.join()
    assert other[0] is not store.db and store.db is store.db
    assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    store.close()
    store.close()  # twice is fine
    assert store.night(1) is None  # and it reconnects


def test_busy_timeout_is_the_one_asked_for(tmp_path):
    store = open_store(tmp_path, busy_timeout_s=2.5)
    assert store.busy_timeout_s == 2.5
    assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] == 2500
    assert open_store(tmp_path).db.execute("PRAGMA busy_timeout").fetchone()[0] == 10000


def test_open_store_makes_the_files_owner_only(tmp_path):
    old = os.umask(0o022)
    try:
        store = open_store(tmp_path)
        _night(store)
    finally:
        os.umask(old)
    for name in (DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    loose = tmp_path / "loose"
    loose.write_text("x")
    os.chmod(loose, 0o640)
    private(loose, tmp_path / "absent")
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600


def test_no_new_database_over_recorded_nights(tmp_path):
    d = tmp_path / "data"
    (d / "recordings" / "2026-05-01").mkdir(parents=True)
    (d / "recordings" / "2026-05-01" / "a.edf").write_bytes(b"0")
    with pytest.raises(StoreError, match="is missing but .*holds 1 recording"):
        open_store(d)
    assert not (d / DB_NAME).exists()
    (d / DB_NAME).write_bytes(b"")
    with pytest.raises(StoreError, match="is empty \\(0 bytes\\)"):
        open_store(d)
    e = tmp_path / "wal"
    e.mkdir()
    (e / (DB_NAME + "-wal")).write_bytes(b"x" * 10)
    with pytest.raises(StoreError, match="holds unwritten pages"):
        open_store(e)
    f = tmp_path / "emptywal"
    f.mkdir()
    (f / (DB_NAME + "-wal")).write_bytes(b"")
    (f / "recordings").mkdir()
    assert open_store(f).schema_version() == len(MIGRATIONS)  # nothing recorded there: a new database


def test_a_file_that_is_not_a_database_is_one_line(tmp_path):
    (tmp_path / DB_NAME).write_bytes(b"these are not the nights you are looking for\n" * 100)
    with pytest.raises(StoreError) as e:
        open_store(tmp_path)
    assert "\n" not in str(e.value) and "damaged, file is not a database" in str(e.value)


@pytest.mark.parametrize("exc,says", [
    (OSError(errno.EROFS, "ro"), "read-only"), (OSError(errno.ENOSPC, "full"), "disk is full"),
    (OSError(errno.EDQUOT, "quota"), "disk is full"),
    (sqlite3.OperationalError("database is locked"), "busy"),
    (sqlite3.OperationalError("attempt to write a readonly database"), "read-only"),
    (sqlite3.OperationalError("database or disk is full"), "disk is full"),
    (sqlite3.DatabaseError("database disk image is malformed"), "damaged")])
def test_describe_says_what_an_error_means(exc, says):
    assert says in describe(exc) and "\n" not in describe(exc)


def test_which_errors_are_the_database_being_unavailable_or_damaged():
    assert unavailable(sqlite3.OperationalError("database is locked"))
    assert unavailable(sqlite3.DatabaseError("file is not a database"))
    assert not unavailable(sqlite3.IntegrityError("UNIQUE constraint failed"))
    assert not unavailable(sqlite3.ProgrammingError("bad"))
    assert damaged(sqlite3.DatabaseError("file is not a database"))
    assert not damaged(sqlite3.OperationalError("database is locked"))
    corrupt = sqlite3.DatabaseError("malformed")
    corrupt.sqlite_errorname = "SQLITE_CORRUPT"
    assert damaged(corrupt)


def test_store_errors_are_value_errors():
    assert issubclass(StoreError, ValueError)  # commands answer ValueErrors with exit 2


def _null_in_a_not_null_column(path):
    """A file SQLite opens but whose integrity check fails (a NOT NULL column holding NULL)."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (a)")
    db.execute("INSERT INTO t VALUES (NULL)")
    db.execute("PRAGMA writable_schema = ON")
    db.execute("UPDATE sqlite_master SET sql = 'CREATE TABLE t (a NOT NULL)' WHERE name = 't'")
    db.commit()
    db.close()


def test_integrity_and_the_quick_check_at_start_see_damage(tmp_path):
    store = open_store(tmp_path)
    assert store.integrity_ok()
    store.close()
    _null_in_a_not_null_column(tmp_path / DB_NAME)
    assert not Store(tmp_path / DB_NAME).integrity_ok()
    assert open_store(tmp_path).schema_version() == len(MIGRATIONS)  # without the check it opens
    with pytest.raises(StoreError) as e:
        open_store(tmp_path, check=True)
    assert "damaged, NULL value in t.a" in str(e.value) and "\n" not in str(e.value)


def test_schema_version_of_an_empty_version_table_is_0(tmp_path):
    db = sqlite3.connect(tmp_path / "x.db")
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    db.commit()
    db.close()
    assert Store(tmp_path / "x.db").schema_version() == 0


def test_open_store_makes_a_nested_data_dir(tmp_path):
    assert open_store(tmp_path / "a" / "b" / "c").schema_version() == len(MIGRATIONS)


def test_night_fields_are_keywords_only(tmp_path):
    store = open_store(tmp_path)
    with pytest.raises(TypeError):
        store.add_night("2026-05-01", "2026-05-01T22:00:00+00:00", "sim", 500.0, 4, ["a", "b", "c", "d"])


def test_a_twitch_on_a_channel_the_night_does_not_have_is_not_counted(tmp_path):
    store = open_store(tmp_path)
    nid = _night(store, channels=2)
    store.add_events(nid, twitches=[{"t": 1.0, "channel": 2}, {"t": 2.0, "channel": -1}, {"t": 3.0, "channel": 1}])
    assert store.refresh_counts(nid) == {"total": 1, "per_channel": [0, 1], "movements": 0, "plm_index": None}


def test_private_leaves_files_that_are_already_private_as_they_are(tmp_path):
    for mode in (0o400, 0o700, 0o600):
        p = tmp_path / f"f{mode:o}"
        p.write_text("x")
        os.chmod(p, mode)
        private(p)
        assert stat.S_IMODE(p.stat().st_mode) == mode, oct(mode)


def test_damaged_by_sqlites_own_error_name():
    for name in ("SQLITE_CORRUPT", "SQLITE_CORRUPT_INDEX", "SQLITE_NOTADB"):
        e = sqlite3.OperationalError("x")
        e.sqlite_errorname = name
        assert damaged(e), name
    e = sqlite3.OperationalError("x")
    e.sqlite_errorname = "SQLITE_BUSY"
    assert not damaged(e)


@pytest.fixture
def read_only(monkeypatch):
    """The data dirs named become unwritable to the store (as a read-only mount is; root ignores modes)."""
    dirs = set()
    real = os.access

    def access(path, mode, *a, **kw):
        if mode & os.W_OK and os.path.abspath(path) in dirs:
            return False
        return real(path, mode, *a, **kw)

    monkeypatch.setattr(os, "access", access)
    return lambda d: dirs.add(os.path.abspath(d))


def test_a_read_only_data_dir_is_read_but_never_written(tmp_path, read_only):
    d = tmp_path / "data dir?#1"  # characters a file: URI must quote
    store = open_store(d)
    nid = _night(store)
    store.close()
    read_only(d)
    store = open_store(d)
    assert store.readonly and store.night(nid)["date"] == "2026-05-01"
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        store.set_setting("x", 1)
    assert not (d / (DB_NAME + "-wal")).exists() or (d / (DB_NAME + "-wal")).stat().st_size == 0


def test_a_read_only_data_dir_without_a_database_or_with_an_old_one_is_one_line(tmp_path, read_only):
    empty = tmp_path / "empty"
    empty.mkdir()
    read_only(empty)
    with pytest.raises(StoreError, match="is read-only and holds no database"):
        open_store(empty)
    old = _v1(tmp_path / "old")
    read_only(old)
    with pytest.raises(StoreError, match="needs upgrading, but .* is read-only"):
        open_store(old)


def test_the_default_busy_wait_is_the_pages(tmp_path):
    assert Store(tmp_path / DB_NAME).busy_timeout_s == 10.0 == open_store(tmp_path).busy_timeout_s
