"""What a failed store operation means: SQLite errors sorted into
"cannot take this write now" and "the file is bad", each said in one line."""
from __future__ import annotations

import errno
import sqlite3

from ..errors import TwitchmonError


def unavailable(exc: BaseException) -> bool:
    """True for SQLite errors that say the database cannot take this write
    now (busy or locked by another process, disk full, read-only, I/O error,
    damaged), as opposed to a mistake in the query: a writer that can wait
    holds its data and tries again."""
    return isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError


def damaged(exc: BaseException) -> bool:
    """True for SQLite errors that say the file itself is bad (not a database, malformed)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or type(exc) is sqlite3.DatabaseError


def describe(exc: BaseException) -> str:
    """What an :func:`unavailable` error (or a file write's EROFS/ENOSPC) means
    for the owner, in one line."""
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
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in str(exc):
        return "the database cannot be opened there: the data dir must be a directory this user can write"
    if name.startswith("SQLITE_IOERR"):
        return f"the disk gave an I/O error ({exc})"
    return f"the database file is damaged ({exc}); see the README, Reliability, to restore it"


class StoreError(TwitchmonError, ValueError):
    """The data dir's database cannot be used as it is; the message is one
    line that says what and what to do.  Commands exit 2 (unreadable input),
    which the systemd units do not restart on."""


class ReadOnlyDataDir(TwitchmonError, OSError):
    """The recorder's data dir cannot be written; the message is one line."""
