"""Where twitchmon keeps its data (contracts section 1)."""
from __future__ import annotations

import os
from pathlib import Path

SYSTEM_DIR = Path("/var/lib/twitchmon")


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """``--data-dir``, else ``$TWITCHMON_DATA``, else /var/lib/twitchmon when
    writable, else the user's data dir (``~/.local/share/twitchmon``)."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("TWITCHMON_DATA")
    if env:
        return Path(env)
    if SYSTEM_DIR.is_dir() and os.access(SYSTEM_DIR, os.W_OK):
        return SYSTEM_DIR
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "twitchmon"
