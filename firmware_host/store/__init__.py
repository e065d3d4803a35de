"""SQLite store of nights, events, sensor health and settings.

One file, ``twitchmon.db`` in the data dir, in WAL mode so the web page
reads while the daemon writes.  The schema has a version table and ordered
migrations from the first release; :func:`open_store` brings any older file
up to date in one transaction per step.

Times are stored as ISO-8601 UTC strings for wall-clock moments and as
seconds from the night's first sample (``t``) for events.

Rooms: :mod:`.db` (the connection, nights, events, recordings), its mixins
:mod:`.settings` and :mod:`.snippets`, :mod:`.schema` (the migrations),
:mod:`.errors` (what a failure means, in one line), :mod:`.opening`.
"""
from __future__ import annotations

from .db import Store
from .errors import ReadOnlyDataDir, StoreError, damaged, describe, unavailable
from .opening import open_store, private
from .schema import DB_NAME, MIGRATIONS

__all__ = ["DB_NAME", "MIGRATIONS", "ReadOnlyDataDir", "Store", "StoreError", "damaged", "describe", "open_store",
           "private", "unavailable"]
