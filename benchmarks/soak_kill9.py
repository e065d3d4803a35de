"""kill -9 soak: the daemon killed at random moments while recording.

    python benchmarks/soak_kill9.py [KILLS] [SEED]      (default 20, 1)

Each round starts `twitchmon run --source sim --always` on the same data
dir, lets it record 2 s plus a random 0-4 s, kills it with SIGKILL, then
recovers as the next start would and measures: store integrity, committed
events lost, earlier nights changed, EDF+ files that do not open in MNE,
sampler processes left behind, and seconds of signal lost.
"""
from __future__ import annotations

import random
import sys
import tempfile
from pathlib import Path

from twitchmon_testkit import crashlib


def main(kills: int = 20, seed: int = 1) -> None:
    rng = random.Random(seed)
    d = Path(tempfile.mkdtemp(prefix="twitchmon-soak-"))
    rows = []
    for k in range(kills):
        r = crashlib.kill_once(d, rng.uniform(0.0, 4.0))
        rows.append(r)
        print(f"kill {k + 1:2d}: lost {r['lost_s']:.2f} s, integrity {'ok' if r['integrity_ok'] else 'BAD'}, "
              f"events lost {r['events_lost']}, EDF {'opens' if r['edf_open'] else 'BROKEN'}, "
              f"night {r['status']}{', ORPHAN sampler' if r['orphan'] else ''}", flush=True)
    lost = sorted(r["lost_s"] for r in rows)
    print(f"{kills} kills: signal lost per kill median {lost[len(lost) // 2]:.2f} s, worst {lost[-1]:.2f} s; "
          f"integrity failures {sum(not r['integrity_ok'] for r in rows)}; "
          f"committed events lost {sum(r['events_lost'] for r in rows)}; "
          f"earlier nights changed {sum(r['earlier_nights_changed'] for r in rows)}; "
          f"EDF files not opening {sum(not r['edf_open'] for r in rows)}; "
          f"orphaned samplers {sum(r['orphan'] for r in rows)}")
    # the promise (README, Reliability): a crash costs at most a few seconds of signal
    print(f"worst loss within 5 s: {'yes' if lost[-1] <= 5.0 else 'NO'}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
