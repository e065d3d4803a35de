"""``twitchmon replay FILE...``: the detector over recordings (:mod:`..replay`)."""
from __future__ import annotations

from ..replay import run


def main(args) -> int:
    return run(args.files, jobs=args.jobs, as_json=args.json, save=args.save, data_dir=args.data_dir,
               rate_hz=args.rate, sensitivity=args.sensitivity, check=args.check)
