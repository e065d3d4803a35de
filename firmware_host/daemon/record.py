"""``twitchmon record``: raw ADC to a file, for building fixtures on a real device."""
from __future__ import annotations

import datetime as dt

from .. import pins
from ..sampler_process import make_source, sample_loop
from ..traces import open_writer


def record(args) -> int:
    """``twitchmon record``: raw ADC to a file for fixtures."""
    src = make_source(args.source, args.channels, args.rate)
    n = int(args.minutes * 60 * args.rate)
    w = open_writer(args.out, args.rate, pins.site_names(args.channels),
                    dt.datetime.now(dt.timezone.utc), n_samples=n)
    try:
        stats = sample_loop(src, lambda b: w.write(b.codes), max_frames=n)
    finally:
        w.close()
        src.close()
    print(f"{args.out}: {stats.frames} frames, {stats.late} late, {stats.missed} missed")
    return 0
