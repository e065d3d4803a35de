"""The store's schema: ordered migrations from the first release
(:meth:`Store.migrate` applies each in its own transaction)."""
from __future__ import annotations

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
    # 4: for the doctor (issue 13): cramps however logged, and each night's PLM index
    """
    CREATE TABLE cramps (
        id INTEGER PRIMARY KEY,
        date TEXT NOT NULL,             -- the evening of the night it belongs to, YYYY-MM-DD
        night_id INTEGER REFERENCES nights(id) ON DELETE SET NULL,
        t REAL,                         -- s from the night's first sample, NULL when not timed (diary)
        at_utc TEXT,                    -- when it was logged, ISO-8601 UTC, NULL for the diary's
        leg TEXT CHECK (leg IS NULL OR leg IN ('left', 'right', 'both')),
        severity INTEGER CHECK (severity IS NULL OR severity BETWEEN 0 AND 10),
        source TEXT NOT NULL CHECK (source IN ('button', 'page', 'diary'))
    );
    CREATE INDEX cramps_date ON cramps(date);
    CREATE INDEX cramps_night ON cramps(night_id);
    -- PLMs per rest hour (firmware_host/plm.py), no comment after it: SQLite copies it into the schema
    ALTER TABLE nights ADD COLUMN plm_index REAL
    """,
    # 5: each twitch's waveform for the page's gallery, made once from the raw
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
