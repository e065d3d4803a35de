"""Opening the store in a data dir: created and migrated, never a new
empty database over nights a data dir shows were kept, and owner-only files."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from .db import Store
from .errors import StoreError, damaged
from .schema import DB_NAME, MIGRATIONS


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
    if d.exists() and not d.is_dir():
        raise StoreError(f"{d} is a file, not a directory: the data dir must be a directory")
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
