"""The store's settings: the key-value table, the typed faces between the
daemon and the page, the diary and the page's sessions (a mixin of
:class:`~.db.Store`, which gives ``db``)."""
from __future__ import annotations

import json
import sqlite3

from ..sites import names_or_default
from .rows import _json


class SettingsFaces:
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

    def button_press(self) -> str:
        """What the bedside button's short press logs: ``cramp`` (the default) or ``mark``."""
        return "mark" if self.get_setting("button_press", "cramp") == "mark" else "cramp"

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
                      mqtt_enabled: bool, mqtt_remote_control: bool, saved_utc: str,
                      button_press: str = "cramp") -> int:
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
            self.set_setting("button_press", button_press)  # the bedside button's press: cramp or mark
            rev = int(self.get_setting("config_rev", 0)) + 1
            self.set_setting("config_rev", rev)
            self.set_setting("config_saved_utc", saved_utc)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return rev

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
