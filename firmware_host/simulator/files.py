"""A simulated night written as a trace file, its truth beside it."""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from .. import pins
from ..traces import open_writer


def write_simulated(night, out: str | os.PathLike, start: dt.datetime) -> dict:
    """Write ``night`` to ``out`` (format by extension) and its truth beside it."""

    names = pins.site_names(night.channels)
    w = open_writer(out, night.rate_hz, names, start, n_samples=night.n_samples)
    try:
        for block in night.blocks(60_000):
            w.write(block)
        truth = night.truth()
        for tw in truth["twitches"]:
            w.annotate(tw["t"], 0, f"truth twitch {names[tw['channel']]}")
        for m in truth["movements"]:
            w.annotate(m["t"], m["end"] - m["t"], "truth movement")
    finally:
        w.close()
    truth["start_unix"] = start.timestamp()
    Path(str(out) + ".truth.json").write_text(json.dumps(truth, indent=1))
    return truth
