"""Every event on every fixture and golden night stays what the baseline
says (scripts/events_identical.py; regenerate with ``--write`` after a
deliberate detector change)."""
import copy
import json
import runpy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "events_identical.py"


def test_every_event_matches_the_baseline():
    r = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("identical:")


def test_one_moved_twitch_is_a_difference():
    mod = runpy.run_path(str(SCRIPT))
    baseline = json.loads(mod["BASELINE"].read_text())
    name = next(n for n, v in baseline.items() if v["twitches"])
    changed = copy.deepcopy(baseline)
    changed[name]["twitches"][0]["t"] += 0.001
    assert mod["differences"](baseline, baseline) == []
    n = len(baseline[name]["twitches"])
    assert mod["differences"](baseline, changed) == [f"{name}: twitches differ ({n} -> {n} entries)"]
