"""Every event on every fixture and golden night, compared with a stored baseline.

    python scripts/events_identical.py            # check: exit 0 when identical, 1 with a diff line per night
    python scripts/events_identical.py --write    # regenerate the baseline (after a deliberate detector change)

A restructuring must not change a single event; this is the proof.  The
nights are the labelled fixtures in tests/fixtures/ (read through
``analyse``, the path ``twitchmon replay`` takes) and the golden simulated
nights (``Night(minutes, seed, profile)`` over the first generator's
profiles, streamed through the detector as the daemon does).  The baseline
keeps each night's twitches, movements, faults, rest, heart rate and mains
frequency exactly as JSON (floats round-trip).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from firmware_host.analysis import analyse
from firmware_host.detector import run_detector
from firmware_host.simulator import Night

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
BASELINE = FIXTURES / "events_baseline.json"
#: (profile, seed, minutes): one night of each first-generator profile, short enough for CI
GOLDEN = (("normal", 1, 10.0), ("normal", 801, 10.0), ("hard", 4, 10.0), ("hard", 901, 10.0),
          ("quiet", 501, 10.0))
KEYS = ("twitches", "movements", "faults", "rest_s", "heart_rate_bpm", "mains_hz")


def _plain(value):
    """JSON's view of a value (tuples as lists, numpy scalars as floats)."""
    return json.loads(json.dumps(value, default=float))


def fixture_events(path: Path) -> dict:
    report = analyse(path)
    return _plain({k: report[k] for k in KEYS})


def golden_events(profile: str, seed: int, minutes: float) -> dict:
    night = Night(minutes, seed=seed, profile=profile)
    events, det = run_detector(night.blocks(50_000), night.rate_hz, night.channels)
    return _plain({
        "twitches": [t.as_dict() for t in sorted(events.twitches, key=lambda t: t.t)],
        "movements": [m.as_dict() for m in sorted(events.movements, key=lambda m: m.t)],
        "faults": events.faults, "rest_s": round(det.rest_s, 1),
        "heart_rate_bpm": det.heart_rate_bpm, "mains_hz": det.mains_hz,
    })


def all_events(only=None) -> dict:
    """{night name: its events} for every fixture and golden night (or those named in ``only``)."""
    out = {}
    for path in sorted(FIXTURES.glob("*.edf")):
        if only is None or path.name in only:
            out[path.name] = fixture_events(path)
    for profile, seed, minutes in GOLDEN:
        name = f"{profile}-{seed}-{minutes:g}min"
        if only is None or name in only:
            out[name] = golden_events(profile, seed, minutes)
    return out


def differences(baseline: dict, now: dict) -> list[str]:
    """One line per night whose events differ from the baseline (empty: identical)."""
    lines = []
    for name in sorted(set(baseline) | set(now)):
        if name not in now:
            lines.append(f"{name}: in the baseline, not replayed")
        elif name not in baseline:
            lines.append(f"{name}: not in the baseline (run with --write)")
        else:
            for key in KEYS:
                a, b = baseline[name].get(key), now[name].get(key)
                if a != b:
                    detail = (f"{len(a)} -> {len(b)} entries" if isinstance(a, list) and isinstance(b, list)
                              else f"{a!r} -> {b!r}")
                    lines.append(f"{name}: {key} differ ({detail})")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="regenerate the baseline from this code")
    a = ap.parse_args(argv)
    now = all_events()
    if a.write:
        BASELINE.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
        print(f"wrote {BASELINE.relative_to(ROOT)}: {len(now)} nights, "
              f"{sum(len(v['twitches']) for v in now.values())} twitches")
        return 0
    try:
        baseline = json.loads(BASELINE.read_text())
    except (OSError, ValueError) as exc:
        print(f"events_identical: cannot read {BASELINE}: {exc}", file=sys.stderr)
        return 2
    diff = differences(baseline, now)
    for line in diff:
        print(line)
    if not diff:
        print(f"identical: {len(now)} nights, {sum(len(v['twitches']) for v in now.values())} twitches")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
