"""Build firmware_host/data/twitch_shapes.npz from the shared TMG twitches.

The simulator ships a few kB of real leg-twitch time courses so that it
works after ``pip install`` without ../shared.  Source: E. J. Mastnak,
spm-potentiation dataset, CC-BY 4.0 (see firmware_host/data/TWITCH_SHAPES.md).

Each kept twitch is the rectus femoris displacement from the stimulus,
baseline removed, scaled to a peak of 1, tapered to zero over its last
50 ms, and stored at 500 Hz as int16 (1.0 == 30000).

    python scripts/build_twitch_shapes.py [../shared/data/tmg-twitches]
"""
import sys
from pathlib import Path

import numpy as np

N_SHAPES = 32
RATE_HZ = 500.0
SCALE = 30000


def main(src: str = "../shared/data/tmg-twitches") -> None:
    files = sorted(Path(src).glob("*/*.csv"))
    if not files:
        sys.exit(f"no CSV files under {src}")
    waves = []
    for f in files:
        data = np.loadtxt(f, delimiter=",", skiprows=1, ndmin=2)
        for col in range(data.shape[1]):
            waves.append((f"{f.parent.name}/{f.name}:{col}", data[:, col]))
    # Evenly spaced picks over subjects, sessions and columns.
    picks = np.linspace(0, len(waves) - 1, N_SHAPES).round().astype(int)
    out, names = [], []
    taper = np.ones(500)
    taper[-50:] = 0.5 * (1 + np.cos(np.linspace(0, np.pi, 50)))
    for i in picks:
        name, x = waves[i]
        x = (x - x[0]) / np.abs(x).max()
        x = x * taper
        out.append(np.round(x[::2] * SCALE).astype(np.int16))  # 1 kHz -> 500 Hz
        names.append(name)
    dest = Path(__file__).resolve().parent.parent / "firmware_host" / "data" / "twitch_shapes.npz"
    np.savez_compressed(dest, shapes=np.stack(out), rate_hz=np.float64(RATE_HZ),
                        scale=np.int32(SCALE), names=np.array(names))
    print(f"{dest}: {len(out)} shapes, {dest.stat().st_size} bytes")


if __name__ == "__main__":
    main(*sys.argv[1:])
