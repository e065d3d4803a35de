"""How far a twitch's relaxation still reaches, after its onset.

    python benchmarks/relaxation_envelope.py [--twitches 3000] [--seed 1]

Twitches drawn as the simulator draws them (the recorded time courses in
``firmware_host/data``, from ../shared/data/tmg-twitches, CC-BY 4.0; each
stretched 0.5-1.4x, one in five 1.1-1.6x as a long one, through a piezo
high-pass of 2-15 Hz), band-passed as the detector does (3-35 Hz), their
activity taken as the detector takes it (40-ms mean of |band|).  Printed:
percentiles, over the twitches, of the most the activity reaches from
``t`` after the onset on, as a share of its peak; ``--board``: through the
v2 sensor board's analog chain (its ~1 Hz high-pass) as well.  Beside
``params.RELAX_ENVELOPE`` (the rules', set on the tuning nights: 0.8 of
the peak until 0.4 s, 0.6 until 0.6 s, 0.3 until 0.7 s), the 99th
percentile says how far a clean relaxation reaches: 0.59 at 0.4 s, 0.39 at
0.6 s, 0.27 at 0.7 s, 0.12 at 0.8 s.  (The eleventh session cut long
regions at that envelope and took it back: on fresh nights, noise on the
lobes of small twitches passed it, see docs/detector.md.)  The shapes are
real; the stretch and high-pass ranges are our simulator's.
"""
from __future__ import annotations

import argparse

import numpy as np
import scipy.signal as sps

from firmware_host import frontend
from firmware_host.detector.filters import BAND_HZ
from firmware_host.simulator.parts import twitch_shapes, twitch_wave

FS_HZ = 1000.0
AFTER_S = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def reach(n: int, seed: int, board: bool = False) -> np.ndarray:
    """(n, len(AFTER_S)): each twitch's largest activity from each time on,
    share of its peak (``board``: through the v2 sensor board's analog chain too)."""
    shapes, shape_rate = twitch_shapes()
    chain = sps.bilinear(*frontend.analog_tf(), fs=FS_HZ) if board else None
    sos = sps.butter(2, BAND_HZ, "bandpass", fs=FS_HZ, output="sos")
    box = np.ones(int(0.04 * FS_HZ)) / int(0.04 * FS_HZ)
    rng = np.random.default_rng(seed)
    pre = int(0.2 * FS_HZ)
    out = np.empty((n, len(AFTER_S)))
    for i in range(n):
        stretch = rng.uniform(1.1, 1.6) if i % 5 == 0 else None
        w = twitch_wave(rng, FS_HZ, shapes, shape_rate, stretch=stretch)
        x = np.concatenate([np.zeros(pre), w, np.zeros(int(1.5 * FS_HZ))])
        if chain is not None:
            x = sps.lfilter(*chain, x)
        act = np.convolve(np.abs(sps.sosfilt(sos, x)), box, mode="same")
        out[i] = [act[pre + int(t * FS_HZ):].max() / act.max() for t in AFTER_S]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--twitches", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--board", action="store_true", help="through the v2 sensor board's analog chain too")
    a = ap.parse_args()
    r = reach(a.twitches, a.seed, a.board)
    print(f"{a.twitches} twitches{' through the v2 board' if a.board else ''}; "
          "the most their activity reaches from t on, share of its peak")
    print("t after onset (s): " + " ".join(f"{t:5.1f}" for t in AFTER_S))
    for q in (50, 90, 95, 99, 100):
        print(f"{q:3d}th percentile:  " + " ".join(f"{v:5.2f}" for v in np.percentile(r, q, axis=0)))


if __name__ == "__main__":
    main()
