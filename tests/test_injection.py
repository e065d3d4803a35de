"""replay --check: the night checks itself by adding known twitches to a copy
of its own signal (contracts section 3)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from firmware_host import injection
from firmware_host.analysis import analyse

FIXTURES = Path(__file__).parent / "fixtures"


def test_check_reports_per_channel_and_leaves_the_counts_alone():
    path = FIXTURES / "normal-811.edf"
    plain = analyse(path)
    rep = analyse(path, check=True)
    assert rep["twitches"] == plain["twitches"] and rep["counts"] == plain["counts"]
    rows = rep["check"]["per_channel"]
    assert len(rows) == rep["channels"]
    n = [r["injected"] for r in rows]
    assert min(n) >= 10 and max(n) - min(n) <= 1  # a 3-minute night has room for most, shared fairly
    for r in rows:
        assert 0 < r["found"] < r["injected"]  # the spread brackets the detection limit
        assert 5.0 <= r["amp50_x_noise"] <= r["amp90_x_noise"] <= 60.0
        # codes = noise multiples x floor, within what the report's rounding
        # leaves (codes and multiples to 0.01, the floor to 0.001)
        slack = 0.005 + 0.005 * r["floor_codes"] + 0.0005 * r["amp50_x_noise"]
        assert abs(r["amp50_codes"] - r["amp50_x_noise"] * r["floor_codes"]) <= slack
    # injections sit at rest, apart from the night's own twitches
    for inj in rep["check"]["injections"]:
        assert all(abs(inj["t"] - tw["t"]) >= 1.5 for tw in rep["twitches"])
        assert all(not (m["t"] - 1 <= inj["t"] <= m["end"] + 6) for m in rep["movements"])


def test_larger_injected_twitches_are_found_more_often():
    rep = analyse(FIXTURES / "normal-811.edf", check=True)
    inj = rep["check"]["injections"]
    for r in rep["check"]["per_channel"]:
        assert r["passed"] is True
    amps = np.array([i["amp_codes"] for i in inj])
    assert amps.min() < np.median([r["amp50_codes"] for r in rep["check"]["per_channel"]]) < amps.max()


def test_check_on_the_command_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "firmware_host.cli", "replay", str(FIXTURES / "quiet-521.edf"),
                          "--json", "--check"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)
    assert rep["counts"]["total"] == 0
    assert [r["injected"] for r in rep["check"]["per_channel"]] == [injection.PER_CHANNEL] * rep["channels"]
    assert all(r["passed"] for r in rep["check"]["per_channel"])


def test_check_without_json_says_what_each_sensor_found(capsys):
    from firmware_host.cli import main
    from firmware_host.replay import _check_line
    assert main(["replay", str(FIXTURES / "quiet-521.edf"), "--check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[1].lstrip().startswith("check")
    for name in ("Left calf", "Left thigh", "Right calf", "Right thigh"):
        assert name in out[1]
    assert f"of {injection.PER_CHANNEL}" in out[1] and "FAILED" not in out[1]
    # a failed sensor is said so, with what to do
    report = {"channel_names": ["Left calf"], "check": {"per_channel": [
        {"injected": 20, "found": 3, "amp50_x_noise": None, "passed": False}]}}
    assert _check_line(report).endswith("Left calf 3 of 20 FAILED: check its strap and lead")
    assert _check_line({"channel_names": []}) is None  # no check asked for: no line


def test_amplitude_curve_fit():
    rng = np.random.default_rng(1)
    amp = np.exp(rng.uniform(np.log(1), np.log(100), 400))
    p = 1 / (1 + np.exp(-4 * (np.log(amp) - np.log(20))))
    found = rng.random(400) < p
    a50 = injection._amp_at(found, amp, 0.5)
    a90 = injection._amp_at(found, amp, 0.9)
    assert 16 < a50 < 25
    assert abs(a90 - 20 * np.exp(np.log(9) / 4)) < 6
    assert injection._amp_at(np.ones(5, bool), amp[:5], 0.5) is None
