"""Where twitchmon keeps its data (contracts section 1)."""
from __future__ import annotations

import os
from pathlib import Path

SYSTEM_DIR = Path("/var/lib/twitchmon")


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """``--data-dir``, else ``$TWITCHMON_DATA``, else /var/lib/twitchmon when
    writable, else the user's data dir (``~/.local/share/twitchmon``); made
    absolute here, once, so what is stored of it (the MQTT password file's
    path) holds for a process started in another directory."""
    return Path(os.path.abspath(_data_dir(explicit)))


def _data_dir(explicit: str | os.PathLike | None) -> str | os.PathLike:
    if explicit:
        return explicit
    env = os.environ.get("TWITCHMON_DATA")
    if env:
        return env
    if SYSTEM_DIR.is_dir() and os.access(SYSTEM_DIR, os.W_OK):
        return SYSTEM_DIR
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "twitchmon"


def confined(data_dir: str | os.PathLike, rel: str) -> Path | None:
    """``data_dir/rel`` if it stays inside the data dir (no ``..``, no
    absolute path, no symlink out), else None."""
    base = Path(data_dir).resolve()
    try:
        p = (base / rel).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    return p if p.is_relative_to(base) and p != base else None
