"""What a pulse with a second wave does to the count: the family's nights
scored as they are and again with each beat's pulse given a later, second
wave (``Night(second_wave=True)``: the reflected wave after the dicrotic
notch, 0.25-0.45 s after the first at 60 bpm, 0.3-0.8 of its size).

    python benchmarks/detector_heart_waves.py [--seeds 10001-10060] [--minutes 5] [--board] [--jobs N]

The family's pulse is one burst per beat (0.05-0.12 s wide); the
detector's beat model spans 0.3 s either side of a beat's peak, so a second
wave later than that is not subtracted.  A figure from our own generator,
outside the family so far: the nights and seeds are the family's, the
second wave is drawn from a stream of its own (everything else about each
night is the same).  Prints the nights whose F1 moved by 0.05 or more, then
for each form the mean F1, its 10th percentile, the worst night, the mean
count error and the heart rate (reported, largest error), overall and by the
heartbeat's size (times the noise).
"""
from __future__ import annotations

import argparse
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from detector_family import night_for
from firmware_host import frontend
from firmware_host.detector import run_detector
from firmware_host.scoring import score


def one(args) -> dict:
    seed, minutes, board, wave2 = args
    n = night_for("family", seed, minutes, board, second_wave=wave2)
    truth = n.truth()
    ev, det = run_detector(n.blocks(50_000), n.rate_hz, n.channels, gain=frontend.detector_gain() if board else 1.0)
    s = score([x.as_dict() for x in ev.twitches], truth["twitches"], ignore=truth["ambiguous"])
    return {"seed": seed, "s": s, "hb_x": truth["heartbeat_x_noise"], "hr": det.heart_rate_bpm,
            "hr_true": truth["heart_rate_true_bpm"], "delay_s": n.wave2_delay_s, "share": n.wave2_share}


def summary(name: str, rows: list[dict]) -> None:
    for label, keep in (("all", lambda r: True), ("heartbeat < 3x noise", lambda r: r["hb_x"] < 3),
                        ("3-10x", lambda r: 3 <= r["hb_x"] < 10), (">= 10x", lambda r: r["hb_x"] >= 10)):
        sub = [r for r in rows if keep(r) and r["s"]["true"] > 0]
        if not sub:
            continue
        f1 = np.array([r["s"]["f1"] for r in sub])
        ce = np.array([r["s"]["count_error"] for r in sub])
        rep = [r for r in rows if keep(r) and r["hr"] is not None]
        err = max((abs(r["hr"] - r["hr_true"]) for r in rep), default=0.0)
        worst = sub[int(np.argmin(f1))]
        print(f"{name:>13} {label:>21}: {len(sub):3d} nights, mean F1 {f1.mean():.3f}, 10th pct "
              f"{np.percentile(f1, 10):.3f}, worst {f1.min():.3f} ({worst['seed']}), count error {100 * ce.mean():.1f}%; "
              f"heart rate on {len(rep)}, max error {err:.1f} bpm")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="10001-10060", help="family seeds, A-B")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--board", action="store_true", help="through the v2 sensor board")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args(argv)
    lo, hi = (int(x) for x in a.seeds.split("-"))
    seeds = list(range(lo, hi + 1))
    with ProcessPoolExecutor(a.jobs) as ex:
        one_wave = list(ex.map(one, [(s, a.minutes, a.board, False) for s in seeds]))
        two_waves = list(ex.map(one, [(s, a.minutes, a.board, True) for s in seeds]))
    print(f"{'seed':>7} {'hb x':>5} {'wave2 s':>7} {'share':>5} {'true':>5} {'found 1':>7} {'found 2':>7} "
          f"{'F1 1':>6} {'F1 2':>6} {'HR 1':>6} {'HR 2':>6} {'HR true':>7}")
    for r1, r2 in zip(one_wave, two_waves):
        if abs(r1["s"]["f1"] - r2["s"]["f1"]) >= 0.05:
            print(f"{r1['seed']:>7} {r1['hb_x']:5.1f} {r2['delay_s']:7.2f} {r2['share']:5.2f} {r1['s']['true']:5d} "
                  f"{r1['s']['detected']:7d} {r2['s']['detected']:7d} {r1['s']['f1']:6.3f} {r2['s']['f1']:6.3f} "
                  f"{str(r1['hr']):>6} {str(r2['hr']):>6} {r1['hr_true']:7.1f}")
    summary("one wave", one_wave)
    summary("second wave", two_waves)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
