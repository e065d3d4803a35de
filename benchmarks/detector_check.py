"""Does the night's own check (injection and recovery) tell the truth?

    python benchmarks/detector_check.py [--nights 20] [--minutes 10]

For labelled nights of the simulator family (our own generator: a model of
the world, not the world), ``twitchmon replay --check``'s per-channel curve
(amplitude found 50% and 90% of the time, from twitches it added to a copy
of the night) predicts the recall on the night's true twitches: the mean,
over the true twitches, of the curve at each one's amplitude.  Printed per
night beside the true recall, then the mean and worst difference in points,
the detection limit (amp50, amp90 in noise multiples) over all channels,
and the check's extra cost (its wall time over the replay's).
"""
from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from detector_family import TUNING, night_for

from firmware_host.analysis import analyse
from firmware_host.simulator.files import write_simulated
from firmware_host.scoring import score


def p_found(row: dict, amp: float) -> float:
    """The channel's fitted curve at ``amp`` codes."""
    a50, a90 = row["amp50_codes"], row["amp90_codes"]
    if a50 is None:  # all found, or none: the curve is a step at the injected range
        return row["found"] / max(row["injected"], 1)
    k = math.log(9.0) / max(math.log(a90 / a50), 1e-6) if a90 else 8.0
    return 1.0 / (1.0 + math.exp(-k * (math.log(amp) - math.log(a50))))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nights", type=int, default=20)
    ap.add_argument("--minutes", type=float, default=10.0)
    a = ap.parse_args(argv)
    diffs, x50, x90, cost = [], [], [], []
    print(f"{'night':>16} {'ch':>2} {'Hz':>5} {'true':>5} {'recall':>7} {'predicted':>9} {'diff pts':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        import datetime as dt
        for prof, seed in [n for n in TUNING if n[0] == "family"][:a.nights]:
            night = night_for(prof, seed, a.minutes)
            path = Path(tmp) / f"{seed}.edf"
            write_simulated(night, path, dt.datetime(2026, 1, 1, 23, tzinfo=dt.timezone.utc))
            truth = night.truth()
            t0 = time.perf_counter()
            plain = analyse(path)
            t1 = time.perf_counter()
            rep = analyse(path, check=True)
            t2 = time.perf_counter()
            cost.append(((t2 - t1) - (t1 - t0)) / (t1 - t0))
            s = score(rep["twitches"], truth["twitches"], ignore=truth["ambiguous"])
            assert rep["twitches"] == plain["twitches"], "the check must not change the counts"
            rows = rep["check"]["per_channel"]
            for r in rows:
                if r["amp50_x_noise"]:
                    x50.append(r["amp50_x_noise"])
                if r["amp90_x_noise"]:
                    x90.append(r["amp90_x_noise"])
            if not truth["twitches"]:
                continue
            pred = float(np.mean([p_found(rows[t["channel"]], t["peak"]) for t in truth["twitches"]]))
            d = 100 * (pred - s["recall"])
            diffs.append(d)
            print(f"{prof + ' ' + str(seed):>16} {night.channels:2d} {night.rate_hz:5.0f} {s['true']:5d} "
                  f"{s['recall']:7.3f} {pred:9.3f} {d:8.1f}")
    d = np.abs(diffs)
    print(f"predicted vs true recall over {len(diffs)} nights: mean |difference| {d.mean():.1f} points, "
          f"median {np.median(d):.1f}, worst {d.max():.1f}; mean signed {np.mean(diffs):+.1f}")
    print(f"detection limit over channels: amp50 median {np.median(x50):.1f}x the noise floor "
          f"(10-90%: {np.percentile(x50, 10):.1f}-{np.percentile(x50, 90):.1f}), amp90 median {np.median(x90):.1f}x "
          f"({np.percentile(x90, 10):.1f}-{np.percentile(x90, 90):.1f})")
    print(f"the check's extra cost: {100 * np.median(cost):.0f}% of a replay (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
