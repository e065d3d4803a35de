"""Reading stored JSON columns."""
from __future__ import annotations

import json


def _json(text, default):
    """A JSON column's value; ``default`` when damaged bytes made it unreadable
    (one bad row must not take the page down)."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return default
    return value if isinstance(value, type(default)) else default
