"""Where the false alarms are: the share of false detections that sit on a
heartbeat (within 0.35 s after a true beat), on the simulator family.

    python benchmarks/detector_false_alarms.py [--set tuning] [--board] [--minutes 5] [--nights N]

Every figure comes from our own generator.  Prints one line a night (false
alarms, how many on a beat) and the share over the nights, worst first.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from detector_family import HELD_OUT, TUNING, night_for
from firmware_host import frontend
from firmware_host.detector import run_detector
from firmware_host.scoring import score


def on_beat(t: float, beats: np.ndarray) -> bool:
    k = np.searchsorted(beats, t)
    return bool(k and 0.0 <= t - beats[k - 1] < 0.35)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", choices=["tuning", "held-out"], default="tuning")
    ap.add_argument("--board", action="store_true")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--nights", type=int, default=40)
    a = ap.parse_args(argv)
    rows = []
    for prof, seed in (TUNING if a.set == "tuning" else HELD_OUT):
        n = night_for(prof, seed, a.minutes, a.board)
        tr = n.truth()
        ev, _ = run_detector(n.blocks(50_000), n.rate_hz, n.channels,
                             gain=frontend.detector_gain() if a.board else 1.0)
        s = score([x.as_dict() for x in ev.twitches], tr["twitches"], ignore=tr["ambiguous"])
        beats = np.asarray(n.beats, dtype=float)
        fp = s["false_positives"]
        rows.append((s["f1"], prof, seed, len(fp), sum(on_beat(d["t"], beats) for d in fp)))
    rows.sort()
    for f1, prof, seed, nfp, nb in rows[:a.nights]:
        print(f"{prof:16} {seed:6d} F1 {f1:.3f} false alarms {nfp:4d} on a beat {nb:4d}")
    tot, beat = sum(r[3] for r in rows), sum(r[4] for r in rows)
    print(f"all {len(rows)} nights: {tot} false alarms, {beat} on a heartbeat ({100 * beat / max(tot, 1):.0f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
