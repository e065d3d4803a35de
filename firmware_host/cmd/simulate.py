"""``twitchmon simulate``: a labelled synthetic night and its truth."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..errors import UsageError
from ..events import how_many
from ..simulator import PROFILES, Night
from ..simulator.files import write_simulated
from ..traces import FORMATS


def _parse_start(text: str | None) -> dt.datetime:
    if text is None:
        return dt.datetime(2026, 1, 1, 23, 0, tzinfo=dt.timezone.utc)
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"twitchmon simulate: --start {text!r} is not an ISO-8601 time") from None
    return t if t.tzinfo else t.astimezone()


def main(args) -> int:

    if Path(args.out).suffix.lower() not in FORMATS:
        raise UsageError(f"twitchmon simulate: --out {args.out}: use one of {', '.join(FORMATS)}")
    if args.profile not in PROFILES:
        raise UsageError(f"twitchmon simulate: --profile must be one of {', '.join(PROFILES)}")
    night = Night(args.minutes, seed=args.seed, channels=args.channels, rate_hz=args.rate, profile=args.profile)
    truth = write_simulated(night, args.out, _parse_start(args.start))
    print(f"{args.out}: {args.minutes:g} min, {how_many(len(truth['twitches']), 'twitch', 'twitches')}, "
          f"{how_many(len(truth['movements']), 'movement', 'movements')}; truth in {args.out}.truth.json")
    return 0
