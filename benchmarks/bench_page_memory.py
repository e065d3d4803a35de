"""The page's memory after it has rendered every page once.

    python benchmarks/bench_page_memory.py [--nights 3] [--minutes 5] [--code DIR]

Fills a data dir with simulated nights (raw recordings and waveforms, as the
daemon leaves them) and a live signal ring, then renders every GET route of
the page in a fresh process (tests/support/pagewalk.py) and prints that
process's resident (VmRSS) and proportional (Pss) memory in MB and the
daemon-side modules it holds.  ``--code DIR`` runs the page from another
checkout (its firmware_host/ and web/ first on the child's PYTHONPATH), to
compare before and after a change over the same data.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from firmware_host.demo import fill_nights
from firmware_host.live import publish
from firmware_host.store import open_store

WALK = Path(__file__).resolve().parent.parent / "tests" / "support" / "pagewalk.py"


def fill(data_dir: Path, nights: int, minutes: float):
    fill_nights(str(data_dir), nights, minutes, log=lambda *_: None)
    store = open_store(data_dir)
    ring = publish(store, data_dir, 4, 1000.0)
    ring.write([[512] * 4] * 5000)
    store.close()
    return ring


def measure(data_dir: Path, code: str | None) -> dict:
    env = dict(os.environ)
    if code:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(code).resolve()), env.get("PYTHONPATH")]))
    r = subprocess.run([sys.executable, str(WALK), str(data_dir)], capture_output=True, text=True, env=env,
                       check=True)
    return json.loads(r.stdout.splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nights", type=int, default=3)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--code", help="a checkout whose page to measure (default: the installed one)")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="twitchmon-pagemem-") as tmp:
        d = Path(tmp) / "data"
        ring = fill(d, a.nights, a.minutes)
        try:
            out = measure(d, a.code)
        finally:
            ring.close()
    bad = [code for code in out["rendered"].values() if code != 200]
    pss = f"{out['pss_kb'] / 1024:.1f} MB" if out["pss_kb"] is not None else "n/a"
    heavy = sorted({m.split(".")[0] if not m.startswith("firmware_host") else m for m in out["modules"]})
    print(f"page after {len(out['rendered'])} pages ({len(bad)} not 200): RSS {out['rss_kb'] / 1024:.1f} MB, "
          f"PSS {pss}; daemon-side modules loaded: {', '.join(heavy) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
