"""The night checks itself (issue 12, point 6): after a night, known twitches
go into a copy of its signal; what was found is kept with the night and
shown on Night detail and in the API, and the real counts stay as they were."""
import subprocess
import sys

import pytest

from firmware_host.daemon import NightRecorder
from firmware_host.injection import combine
from firmware_host.simulator import Night
from firmware_host.store import open_store
from web import create_app


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A 3-minute simulated night recorded as the daemon records it."""
    d = tmp_path_factory.mktemp("data")
    store = open_store(d)
    night = Night(3.0, seed=21)
    rec = NightRecorder(store, d, night.rate_hz, night.channels, "sim")
    for block in night.blocks(1000):
        rec.feed(block)
    rec.close()
    nid = rec.night_id
    store.close()
    return d, nid


def test_the_check_runs_after_a_night_and_is_kept_with_it(recorded):
    d, nid = recorded
    before = open_store(d).night(nid)
    out = subprocess.run([sys.executable, "-m", "firmware_host.injection", "--night", str(nid), "--data-dir", str(d)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"twitchmon check: night {nid}: found ") and out.stdout.count("\n") == 1
    after = open_store(d).night(nid)
    check = after["summary"]["check"]
    assert len(check["per_channel"]) == after["channels"]
    for row in check["per_channel"]:
        assert row["injected"] > 0 and 0 <= row["found"] <= row["injected"]
        assert row["passed"] is True  # a clean simulated night: clear test twitches are found
    # the real night is untouched
    assert (after["total"], after["per_channel"], after["rest_s"]) == (before["total"], before["per_channel"],
                                                                        before["rest_s"])
    assert {k: v for k, v in after["summary"].items() if k != "check"} == \
        {k: v for k, v in before["summary"].items() if k != "check"}

    app = create_app({"DATA_DIR": str(d), "TESTING": True})
    c = app.test_client()
    html = c.get(f"/nights/{nid}").get_data(as_text=True)
    site = after["channel_names"][0]
    first = check["per_channel"][0]
    assert f"{site}: {first['found']} of {first['injected']} test twitches found" in html
    assert "Check failed" not in html
    api = c.get(f"/api/nights/{nid}").get_json()
    assert [r["found"] for r in api["check"]] == [r["found"] for r in check["per_channel"]]


def test_a_failed_channel_is_flagged_on_night_detail(recorded, tmp_path):
    d, nid = recorded
    store = open_store(d)
    n = store.night(nid)
    rows = [{"injected": 20, "found": 20, "passed": True, "amp50_x_noise": 12.0, "amp90_x_noise": 15.0}
            for _ in range(n["channels"])]
    rows[1] = {"injected": 20, "found": 3, "passed": False, "amp50_x_noise": None, "amp90_x_noise": None}
    store.update_night(nid, summary={**n["summary"], "check": {"per_channel": rows}})
    store.close()
    html = create_app({"DATA_DIR": str(d), "TESTING": True}).test_client().get(f"/nights/{nid}").get_data(as_text=True)
    assert html.count("Check failed") == 1
    assert f"{n['channel_names'][1]}: 3 of 20 test twitches found" in html


def test_a_night_without_recordings_says_so_in_one_line(tmp_path):
    store = open_store(tmp_path)
    nid = store.add_night(date="2026-11-01", start_utc="2026-11-01T22:00:00+00:00", source="x", rate_hz=1000.0,
                          channels=2, channel_names=["a", "b"], status="complete")
    store.close()
    out = subprocess.run([sys.executable, "-m", "firmware_host.injection", "--night", str(nid),
                          "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "no finished recording" in out.stderr
    out = subprocess.run([sys.executable, "-m", "firmware_host.injection", "--night", "999",
                          "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "no night 999" in out.stderr


def test_files_of_one_night_combine():
    a = {"per_channel": [{"injected": 20, "found": 19, "passed": True, "amp50_codes": 10.0, "amp90_codes": 14.0,
                          "amp50_x_noise": 18.0, "amp90_x_noise": 21.0, "floor_codes": 0.5}]}
    b = {"per_channel": [{"injected": 20, "found": 10, "passed": False, "amp50_codes": 30.0, "amp90_codes": None,
                          "amp50_x_noise": 40.0, "amp90_x_noise": None, "floor_codes": 0.7}]}
    out = combine([a, b])["per_channel"][0]
    assert (out["injected"], out["found"], out["passed"]) == (40, 29, False)
    assert out["amp50_codes"] == 20.0 and out["amp90_codes"] == 14.0
