"""Issue 15, the daemon and storage half: each fault as it was found on
7b505e1, reproduced, and what must hold now.  Trace input (15), site names
(13), one-line errors at start (14), a full disk (3), a busy database (7), a
damaged or missing database (8) and a read-only data dir (11)."""
import subprocess
import sys

import pytest

from firmware_host.traces import TraceError, open_trace


def _replay(path, *extra):
    return subprocess.run([sys.executable, "-m", "firmware_host.cli", "replay", str(path), *extra],
                          capture_output=True, text=True, timeout=120)


def _csv(path, body_rows, tail=""):
    rows = "".join(f"{i / 1000:.3f},{v},512\n" for i, v in enumerate(body_rows))
    path.write_text("t,left,right\n" + rows + tail)
    return path


# -- 15: trace input ---------------------------------------------------------------------

@pytest.mark.parametrize("value", ["1e308", "1e26", "nan", "-inf"])
def test_csv_of_absurd_numbers_is_one_line_and_exit_2(tmp_path, value):
    """Not a sensor's output: refused before the detector overflows on it."""
    p = _csv(tmp_path / "x.csv", [512] * 10 + [value] + [512] * 3000)
    r = _replay(p)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.strip() == f"twitchmon replay: {p}: line 12: {value!r} is not a sample " \
                               "(a finite number within +-1e+06)"
    p2 = _csv(tmp_path / "y.csv", [value] * 3000)  # in the rows the rate is read from
    r = _replay(p2)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "line 2:" in r.stderr


def test_csv_whose_last_line_is_letters_is_a_bad_row_not_a_power_cut(tmp_path):
    p = _csv(tmp_path / "x.csv", [512] * 2000, tail="hello,world,again\n")
    with pytest.raises(TraceError, match=r"line 2002: could not convert string to float: 'world'"):
        with open_trace(p) as r:
            list(r.blocks())
    # a last line cut without its newline is still a power cut: read up to it
    p = _csv(tmp_path / "cut.csv", [512] * 2000, tail="2.000,51")
    with open_trace(p) as r:
        assert sum(len(b) for b in r.blocks()) == 2000 and r.info.truncated


@pytest.mark.parametrize("bad_line", [3, 4, 12])
def test_a_bad_csv_row_is_reported_at_its_own_line(tmp_path, bad_line):
    """Line 1 is the header; the first data row is line 2."""
    vals = [512] * 20
    vals[bad_line - 2] = "abc"
    p = _csv(tmp_path / "x.csv", vals)
    r = _replay(p)
    assert r.returncode == 2
    assert r.stderr.strip() == f"twitchmon replay: {p}: line {bad_line}: could not convert string to float: 'abc'"


# -- 13: site names ------------------------------------------------------------------------

def test_names_equal_in_their_first_16_characters_stay_distinct_edf_labels(tmp_path):
    """Names the EDF header cuts to the same 16 characters (or to the same
    ASCII) still label distinct signals; MNE keeps them as written."""
    import datetime as dt

    import mne
    import numpy as np

    from firmware_host.traces import EdfWriter
    names = ["Left calf upper part", "Left calf upper part 2", "Mollet gauché", "Mollet gauche"]
    w = EdfWriter(tmp_path / "n.edf", 1000, names, dt.datetime(2026, 1, 1, 23))
    w.write(np.full((2000, 4), 512.0))
    w.close()
    with open_trace(tmp_path / "n.edf") as r:
        labels = r.info.channel_names
    assert len(set(labels)) == 4 and all(len(lab) <= 16 and lab.isascii() for lab in labels)
    assert labels[0] == "Left calf upper" and labels[2] == "Mollet gauche"
    raw = mne.io.read_raw_edf(tmp_path / "n.edf", verbose="error")
    assert raw.ch_names == labels


def _settings_form(client):
    import re
    tok = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/settings").get_data(as_text=True)).group(1)
    return {"csrf_token": tok, "name0": "Left calf", "name1": "Left thigh", "name2": "Right calf",
            "name3": "Right thigh", "night_start": "22:00", "night_end": "07:30", "sensitivity": "5",
            "raw_retention_days": "30"}


@pytest.mark.parametrize("names, says", [
    ({"name0": "Left calf upper part", "name1": "Left calf upper part 2"}, "first 16 characters"),
    ({"name0": "Left\x00calf"}, "control or invisible"),
    ({"name1": "Left \u202eflow"}, "control or invisible"),   # right-to-left override
    ({"name2": "Right \u2067calf"}, "control or invisible"),  # first-strong isolate
    ({"name3": "Left calf"}, "own name"),
])
def test_settings_refuse_names_that_would_collide_or_hide_characters(client, names, says):
    form = _settings_form(client)
    r = client.post("/settings", data={**form, **names}, headers={"Accept": "application/json"})
    assert r.status_code == 400 and says in r.get_json()["error"], r.get_data(as_text=True)
    assert client.get("/api/settings").get_json()["channel_names"][0] == "Left calf"
    ok = client.post("/settings", data={**form, "name0": "Mollet gauche", "name1": "Cuisse gauche"})
    assert ok.status_code == 302


def test_the_daemon_ignores_bad_names_a_hand_edited_store_holds(tmp_path):
    from firmware_host.daemon import site_names
    from firmware_host.store import open_store
    st = open_store(tmp_path)
    st.set_setting("channel_names", ["a\u202eb", "x", "y", "z"])
    assert site_names(st, 4) == ["Left calf", "Left thigh", "Right calf", "Right thigh"]
    st.set_setting("channel_names", ["a", "x", "y", "z"])
    assert site_names(st, 4) == ["a", "x", "y", "z"]
