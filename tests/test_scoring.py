"""The scorer: which detection is which true twitch."""
from firmware_host.scoring import score


def test_a_twitch_found_at_the_onset_of_another_unit_felt_as_it_is_found():
    # a scored twitch at 10.000 s and another motor unit's onset on its site
    # 13 ms later (closer than RESOLVE_S: one twitch, an onset of its own);
    # the detection at 10.012 s is that twitch found, not a miss plus an
    # excused detection (which the closest-first matching made of it when
    # the later onset was listed as not scored)
    truth = [{"t": 10.0, "channel": 1, "peak": 39.3, "also": [10.013]}]
    s = score([{"t": 10.012, "channel": 1}], truth, ignore=[{"t": 10.6, "channel": 1, "peak": 2.0}])
    assert (s["matched"], s["detected"], s["missed"]) == (1, 1, [])
    # found at the later onset only, beyond the tolerance of the first's
    late = [{"t": 10.0, "channel": 1, "peak": 39.3, "also": [10.12]}]
    s = score([{"t": 10.2, "channel": 1}], late)
    assert s["matched"] == 1 and s["precision"] == 1.0
    assert score([{"t": 10.2, "channel": 1}], [{"t": 10.0, "channel": 1}])["matched"] == 0
    # ... but not on another channel, nor past the tolerance of both
    assert score([{"t": 10.012, "channel": 2}], truth)["matched"] == 0
    assert score([{"t": 10.3, "channel": 1}], truth)["matched"] == 0
    # a second detection of the same twitch is a false alarm: one twitch, one count
    s = score([{"t": 10.0, "channel": 1}, {"t": 10.013, "channel": 1}], truth)
    assert (s["matched"], s["detected"], len(s["false_positives"])) == (1, 2, 1)


def test_truth_without_also_scores_as_before():
    truth = [{"t": 1.0, "channel": 0}, {"t": 2.0, "channel": 0}]
    s = score([{"t": 1.1, "channel": 0}, {"t": 2.2, "channel": 0}, {"t": 5.0, "channel": 0}], truth)
    assert (s["matched"], s["detected"], s["recall"], s["precision"]) == (1, 3, 0.5, round(1 / 3, 4))


def test_the_figures_of_a_night():
    truth = [{"t": 1.0, "channel": 0}, {"t": 2.0, "channel": 0}, {"t": 3.0, "channel": 1}, {"t": 4.0, "channel": 1}]
    det = [{"t": 1.05, "channel": 0}, {"t": 2.15, "channel": 0}, {"t": 2.16, "channel": 0},  # 2.15: at the edge
           {"t": 3.0, "channel": 0}, {"t": 7.0, "channel": 1}]
    s = score(det, truth)
    assert (s["detected"], s["true"], s["matched"]) == (5, 4, 2)
    assert (s["precision"], s["recall"]) == (0.4, 0.5)
    assert s["f1"] == round(2 * 0.4 * 0.5 / 0.9, 4) and s["count_error"] == 0.25
    assert s["missed"] == truth[2:]
    assert s["false_positives"] == [det[2], det[3], det[4]]
    # each truth takes the closest detection, each detection one truth
    s = score([{"t": 1.1, "channel": 0}, {"t": 1.02, "channel": 0}], truth[:1])
    assert s["false_positives"] == [{"t": 1.1, "channel": 0}]
    # a detection matched to a twitch scored neither way is neither a hit nor a false alarm
    s = score([{"t": 1.0, "channel": 0}, {"t": 5.0, "channel": 0}], truth[:1], ignore=[{"t": 5.1, "channel": 0}])
    assert (s["detected"], s["matched"], s["precision"], s["count_error"]) == (1, 1, 1.0, 0.0)


def test_the_edges_of_empty_nights():
    # nothing true, nothing found: perfect; something found: the count is the error
    assert {k: score([], [])[k] for k in ("precision", "recall", "f1", "count_error")} == \
        {"precision": 1.0, "recall": 1.0, "f1": 1.0, "count_error": 0.0}
    s = score([{"t": 1.0, "channel": 0}, {"t": 3.0, "channel": 0}], [])
    assert (s["precision"], s["recall"], s["f1"], s["count_error"]) == (0.0, 1.0, 0.0, 2.0)
    # twitches, none found
    s = score([], [{"t": 1.0, "channel": 0}])
    assert (s["precision"], s["recall"], s["f1"], s["count_error"]) == (1.0, 0.0, 0.0, 1.0)


def test_the_command_scores_a_report_against_its_truth(tmp_path, capsys):
    import json

    from firmware_host.scoring import main
    rep, tru = tmp_path / "r.json", tmp_path / "t.json"
    rep.write_text(json.dumps({"twitches": [{"t": 1.0, "channel": 0}, {"t": 9.0, "channel": 0}]}))
    tru.write_text(json.dumps({"twitches": [{"t": 1.05, "channel": 0}]}))
    assert main([str(rep), str(tru)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "detected: 2", "true: 1", "matched: 1", "precision: 0.5", "recall: 1.0", "f1: 0.6667", "count_error: 1.0"]
    # bad input: one line on stderr, exit 2
    for args in ([str(rep)], [str(rep), str(tmp_path / "missing.json")], [str(tmp_path / "missing.json"), str(tru)]):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1
    (tmp_path / "bad.json").write_text("{not json")
    assert main([str(tmp_path / "bad.json"), str(tru)]) == 2
    assert capsys.readouterr().err.startswith(f"scoring: cannot score {tmp_path / 'bad.json'} against {tru}: ")
    (tmp_path / "none.json").write_text("{}")
    assert main([str(rep), str(tmp_path / "none.json")]) == 2  # no twitches in it
    capsys.readouterr()
    assert main([]) == 2
    assert capsys.readouterr().err.startswith("usage: python -m firmware_host.scoring REPORT.json TRUTH.json")


def test_matching_goes_on_past_a_detection_already_taken():
    truth = [{"t": 1.0, "channel": 0}, {"t": 2.0, "channel": 0}]
    s = score([{"t": 1.0, "channel": 0}, {"t": 1.01, "channel": 0}, {"t": 2.05, "channel": 0}], truth)
    assert (s["matched"], s["recall"]) == (2, 1.0)
    # three detections, one excused by a twitch scored neither way, one by another
    s = score([{"t": 1.0, "channel": 0}, {"t": 5.0, "channel": 0}, {"t": 6.0, "channel": 0}], truth[:1],
              ignore=[{"t": 5.0, "channel": 0}, {"t": 6.0, "channel": 0}])
    assert (s["detected"], s["matched"], s["precision"]) == (1, 1, 1.0)


def test_figures_to_four_places_and_the_worst_cases():
    truth = [{"t": float(k), "channel": 0} for k in range(3)]
    s = score([{"t": 0.0, "channel": 0}], truth)
    assert (s["recall"], s["count_error"]) == (0.3333, 0.6667)
    # found only where nothing was: F1 0
    s = score([{"t": 9.0, "channel": 0}], truth)
    assert (s["precision"], s["recall"], s["f1"]) == (0.0, 0.0, 0.0)
    # a twitch-free night with one false alarm: count error 1 (with none: 0)
    assert score([{"t": 9.0, "channel": 0}], [])["count_error"] == 1.0


def test_the_command_from_the_shell(tmp_path, monkeypatch, capsys):
    import json
    import subprocess
    import sys

    from firmware_host.scoring import main
    rep, tru = tmp_path / "r.json", tmp_path / "t.json"
    rep.write_text(json.dumps({"twitches": [{"t": 1.0, "channel": 0}]}))
    tru.write_text(json.dumps({"twitches": [{"t": 1.0, "channel": 0}]}))
    monkeypatch.setattr(sys, "argv", ["scoring", str(rep), str(tru)])
    assert main() == 0 and capsys.readouterr().out.startswith("detected: 1\n")
    assert main([str(rep), str(tru), str(tru)]) == 2  # one file too many
    r = subprocess.run([sys.executable, "-m", "firmware_host.scoring", str(rep), str(tru)], capture_output=True,
                       text=True)
    assert r.returncode == 0 and "f1: 1.0" in r.stdout
