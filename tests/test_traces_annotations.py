"""Every trace writer keeps what it is asked to annotate: EDF+ in the file,
the formats without a place for it (WAV, NPZ, CSV) beside the file."""
import csv
import datetime as dt

import numpy as np
import pytest

from firmware_host.traces import TraceWriter, open_trace, open_writer


@pytest.mark.parametrize("ext", [".wav", ".npz", ".csv"])
def test_annotations_of_a_format_without_them_go_beside_the_file(tmp_path, ext):
    p = tmp_path / f"night{ext}"
    w = open_writer(p, 250.0, ["a", "b"], dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), n_samples=500)
    assert isinstance(w, TraceWriter)
    w.write(np.full((500, 2), 512))
    w.annotate(0.5, 0.0, "twitch a")
    w.annotate(1.0, 0.25, "movement")
    w.close()
    with open(f"{p}.annotations.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [["onset_s", "duration_s", "text"], ["0.5", "0.0", "twitch a"], ["1.0", "0.25", "movement"]]
    with open_trace(p, 250.0) as r:
        assert r.info.channels == 2


def test_no_sidecar_without_annotations(tmp_path):
    p = tmp_path / "night.wav"
    w = open_writer(p, 250.0, ["a"])
    w.write(np.full((10, 1), 512))
    w.close()
    assert not (tmp_path / "night.wav.annotations.csv").exists()


def test_edf_keeps_its_annotations_in_the_file(tmp_path):
    p = tmp_path / "night.edf"
    w = open_writer(p, 250.0, ["a"], dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    w.write(np.full((500, 1), 512))
    w.annotate(0.5, 0.0, "twitch a")
    w.close()
    with open_trace(p) as r:
        assert any(text == "twitch a" for _, _, text in r.annotations())
    assert not (tmp_path / "night.edf.annotations.csv").exists()
