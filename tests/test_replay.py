"""replay: same report from every format, cut files, foreign files."""
import json

import pytest

from firmware_host.cli import main


def replay_json(path, capsys):
    assert main(["replay", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_same_report_from_edf_wav_npz_csv(night_files, capsys):
    reports = {ext: replay_json(p, capsys) for ext, p in night_files.items()}
    base = reports["edf"]
    assert base["counts"]["total"] == len(base["twitches"]) == sum(base["counts"]["per_channel"])
    assert base["duration_s"] == 180.0 and base["rate_hz"] == 1000.0 and base["channels"] == 4
    assert base["counts"]["total"] > 0
    for ext, r in reports.items():
        for key in set(base) - {"source", "start_unix"}:  # WAV and CSV carry no start time
            assert r[key] == base[key], (ext, key)


@pytest.mark.parametrize("ext", ["edf", "wav", "npz", "csv"])
def test_cut_file_replays_up_to_the_cut(night_files, tmp_path, capsys, ext):
    data = night_files[ext].read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: len(data) // 2 + 777])
    full = replay_json(night_files[ext], capsys)
    r = replay_json(cut, capsys)
    assert r["truncated"] is True
    assert 80 < r["duration_s"] < 100  # about half of 180 s, to the last whole record
    early = [t for t in full["twitches"] if t["t"] < r["duration_s"] - 15]
    assert [t["t"] for t in r["twitches"][: len(early)]] == [t["t"] for t in early]


@pytest.mark.parametrize("name,content", [
    ("random.edf", None), ("random.wav", None), ("random.npz", None), ("random.csv", None),
    ("text.edf", b"hello, world\n"), ("text.wav", b"hello\n"), ("text.npz", b"hi\n"),
    ("text.csv", b"just one line\n"), ("night.json", b"{}"), ("empty.edf", b""),
])
def test_foreign_files_exit_2_with_one_line(tmp_path, capsys, name, content):
    import os
    p = tmp_path / name
    p.write_bytes(os.urandom(4000) if content is None else content)
    assert main(["replay", str(p), "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and name in err


def _with_field(data: bytes, lo: int, hi: int, value: str) -> bytes:
    """An EDF's bytes with one fixed-header field (bytes lo..hi) replaced."""
    return data[:lo] + value.ljust(hi - lo).encode() + data[hi:]


@pytest.mark.parametrize("lo,hi,value,says", [
    (252, 256, "0", "has no signals"),
    (244, 252, "0", "a data record lasts 0 s"),
    (184, 192, "12", "it says 12 header bytes"),  # was read with every sample in the wrong place
    (236, 244, "many", "not a number"),
])
def test_an_edf_header_at_odds_with_itself_is_one_line_exit_2(night_files, tmp_path, capsys, lo, hi, value, says):
    p = tmp_path / "damaged.edf"
    p.write_bytes(_with_field(night_files["edf"].read_bytes(), lo, hi, value))
    assert main(["replay", str(p), "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and says in err and "damaged.edf" in err


def test_an_edf_cut_inside_its_header_is_one_line_exit_2(night_files, tmp_path, capsys):
    p = tmp_path / "head.edf"
    p.write_bytes(night_files["edf"].read_bytes()[:300])
    assert main(["replay", str(p), "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ends inside its header" in err


def test_an_edf_cut_on_a_record_boundary_or_short_of_its_records_is_truncated(night_files, tmp_path, capsys):
    data = night_files["edf"].read_bytes()
    full = replay_json(night_files["edf"], capsys)
    header = 256 * (int(data[252:256]) + 1)
    records = int(data[236:244])
    record_bytes = (len(data) - header) // records
    cut = tmp_path / "boundary.edf"
    cut.write_bytes(data[:header + record_bytes * (records // 2)])
    r = replay_json(cut, capsys)
    assert r["truncated"] is True and r["duration_s"] == pytest.approx(full["duration_s"] / 2, abs=1)
    claims = tmp_path / "claims.edf"
    claims.write_bytes(_with_field(data, 236, 244, "99999999"))
    r = replay_json(claims, capsys)
    assert r["truncated"] is True and r["duration_s"] == full["duration_s"]
    assert r["counts"] == full["counts"]


def test_missing_file_and_bad_usage(capsys):
    assert main(["replay", "/nonexistent/x.edf"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["simulate", "--minutes", "-1", "--out", "x.edf"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize("argv", [
    ["simulate", "--minutes", "1", "--out", "x.edf", "--seed", "-5"],  # numpy's seed must be >= 0
    ["simulate", "--out", "x.edf", "--minutes", "1e9"],  # a night is at most a day
    ["simulate", "--out", "x.edf", "--minutes", "0.01"],  # shorter than the detector's first step: numpy warnings
    ["simulate", "--minutes", "1", "--out", "x.edf", "--channels", "9"],
    ["record", "--minutes", "1", "--out", "x.edf", "--channels", "0"],
    ["record", "--minutes", "1", "--out", "x.edf", "--channels", "-1"],
    ["record", "--minutes", "1", "--out", "x.edf", "--rate", "50"],
    ["run", "--source", "sim", "--always", "--seed", "-1"],
    ["run", "--channels", "0"],
    ["replay", "x.edf", "--sensitivity", "inf"],  # was stored and shown as Infinity
    ["replay", "x.edf", "--sensitivity", "11"],
    ["replay", "x.edf", "--sensitivity", "nan"],
    ["demo", "--minutes", "inf"],
])
def test_numbers_out_of_range_are_one_line_and_exit_2_before_anything_runs(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and f"{argv[-2]}: '{argv[-1]}'" in err
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("text", ["\u0665", "\uff15", "1e0", "1_0", "_5", "nan", "inf", "0x5", "five"])
def test_a_sensitivity_that_is_not_plain_ascii_digits_is_not_a_number(text, tmp_path, monkeypatch, capsys):
    """float() took other scripts' digits ("\u0665", the fullwidth "\uff15"), "1e0" and
    "1_0" as numbers (and called "nan" out of range): one line, exit 2, nothing run."""
    monkeypatch.chdir(tmp_path)
    assert main(["replay", "x.edf", "--sensitivity", text]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--sensitivity: {text!r} is not a number" in err, err
    assert list(tmp_path.iterdir()) == []


def test_a_plain_sensitivity_from_1_to_10_is_taken():
    from firmware_host.cli import build_parser
    for text, value in [("1", 1.0), ("10", 10.0), ("7.5", 7.5), ("+3", 3.0), (" 2.5", 2.5), ("4.", 4.0)]:
        assert build_parser().parse_args(["replay", "x.edf", "--sensitivity", text]).sensitivity == value, text


@pytest.mark.parametrize("cmd", [["replay", "NIGHT", "--save"], ["run", "--source", "sim"], ["serve"]])
def test_a_file_given_as_the_data_dir_is_one_line_exit_2(cmd, night_files, tmp_path, capsys):
    f = tmp_path / "not-a-dir"
    f.write_text("x")
    argv = [str(night_files["edf"]) if a == "NIGHT" else a for a in cmd] + ["--data-dir", str(f)]
    assert main(argv) == 2  # was "File exists", exit 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file, not a directory" in err and f.read_text() == "x"


def test_a_data_dir_where_no_database_can_be_made_is_not_called_damaged(night_files, capsys):
    # /proc takes no files: SQLite cannot open a database there; the old
    # wording ("the database file is damaged") sent owners to restore a
    # healthy backup
    assert main(["replay", str(night_files["edf"]), "--save", "--data-dir", "/proc"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot be opened there" in err and "damaged" not in err


def test_replay_save_stores_the_night(night_files, tmp_path, capsys):
    from firmware_host.store import open_store
    d = tmp_path / "data"
    assert main(["replay", str(night_files["edf"]), "--save", "--json", "--data-dir", str(d)]) == 0
    r = json.loads(capsys.readouterr().out)
    store = open_store(d)
    n = store.night(r["night_id"])
    assert n["total"] == r["counts"]["total"]
    assert n["per_channel"] == r["counts"]["per_channel"]
    assert store.integrity_ok()


def test_saving_the_same_recording_twice_stores_one_night(night_files, tmp_path, capsys):
    from firmware_host.store import open_store
    d = tmp_path / "data"
    assert main(["replay", str(night_files["edf"]), "--save", "--json", "--data-dir", str(d)]) == 0
    first = json.loads(capsys.readouterr().out)["night_id"]
    assert main(["replay", str(night_files["edf"]), "--save", "--json", "--data-dir", str(d)]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["night_id"] == first
    assert out.err.count("\n") == 1 and f"saved before, as night {first}" in out.err
    assert [n["id"] for n in open_store(d).nights(10)] == [first]  # its twitches count once in the trends


def test_code_blocks_give_the_codes_blocks_give(night_files, tmp_path):
    # replay reads an EDF as int16 codes (code_blocks); they must be the very
    # codes blocks() gives as float64, the file whole or cut mid-record
    import numpy as np

    from firmware_host.traces import open_trace

    data = night_files["edf"].read_bytes()
    cut = tmp_path / "cut.edf"
    cut.write_bytes(data[: len(data) // 3 + 101])
    for path in (night_files["edf"], cut):
        with open_trace(path) as r:
            a = np.concatenate(list(r.blocks(7_000)))
            b = np.concatenate(list(r.code_blocks(7_000)))
        assert b.dtype == np.int16 and a.shape == b.shape and len(a) > 0
        assert np.array_equal(a, b)


def test_foreign_edf_range_is_scaled_to_codes_the_same_way_everywhere(tmp_path):
    # another tool's EDF stores -32768..32767 for its physical range: blocks,
    # code_blocks and read (the waveform view) all give it as 0..1023 codes
    import edfio
    import numpy as np

    from firmware_host.traces import open_trace

    rng = np.random.default_rng(3)
    phys = [np.clip(rng.normal(0, 150, 2500), -499, 499) for _ in range(2)]
    sigs = [edfio.EdfSignal(p, sampling_frequency=250, label=f"ch{i}", physical_range=(-500, 500),
                            digital_range=(-32768, 32767)) for i, p in enumerate(phys)]
    path = tmp_path / "foreign.edf"
    edfio.Edf(sigs).write(path)
    with open_trace(path) as r:
        a = np.concatenate(list(r.blocks(777)))
        b = np.concatenate(list(r.code_blocks(777)))
        c = r.read(1234, 999)
    want = (np.stack(phys, axis=1) + 500) / 1000 * 1023
    np.testing.assert_allclose(a, want, atol=0.02)  # a digital step is 1023/65535 codes
    assert np.array_equal(a, b)
    assert np.array_equal(c, a[1234:1234 + 999])


# -- many files, many processes -------------------------------------------------

def _replay(*args, **kw):
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "firmware_host.cli", "replay", *map(str, args)],
                          capture_output=True, **kw)


def test_replay_on_two_processes_gives_the_same_reports_byte_for_byte(night_files, tmp_path):
    from pathlib import Path
    fixtures = sorted((Path(__file__).parent / "fixtures").glob("*.edf"))
    bad = tmp_path / "not-a-night.edf"
    bad.write_bytes(b"this is not an EDF header" * 20)
    files = [night_files["edf"], fixtures[0], night_files["wav"], bad, fixtures[1], night_files["npz"],
             night_files["csv"], fixtures[2]]
    one = _replay(*files, "--json", "--jobs", "1")
    two = _replay(*files, "--json", "--jobs", "2")
    assert one.returncode == two.returncode == 2
    assert one.stdout == two.stdout  # same reports, same order
    lines = two.stdout.decode().splitlines()
    assert [json.loads(ln)["source"] for ln in lines] == [Path(f).name for f in files if f != bad]
    for r in (one, two):
        err = r.stderr.decode()
        assert err.count("\n") == 1 and "not-a-night.edf" in err and "Traceback" not in err


def test_replay_saves_every_night_and_says_so_one_line_each(night_files, tmp_path):
    from firmware_host.store import open_store
    files = [night_files["edf"], night_files["npz"], night_files["wav"]]
    r = _replay(*files, "--save", "--jobs", "2", "--data-dir", tmp_path / "d")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert len(lines) == 3 and all("saved" in ln for ln in lines)
    assert len(open_store(tmp_path / "d").nights()) == 3
    assert r.stderr == b""  # no progress bar off a terminal


def test_replay_shows_a_progress_bar_on_a_terminal(night_files):
    import os
    import pty
    import subprocess
    import sys
    import fcntl
    import struct
    import termios
    master, slave = pty.openpty()
    # a terminal's size: tqdm draws within it
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    from pathlib import Path
    fixture = sorted((Path(__file__).parent / "fixtures").glob("*.edf"))[0]  # EDF headers give the total
    p = subprocess.Popen([sys.executable, "-m", "firmware_host.cli", "replay", str(night_files["edf"]),
                          str(fixture), "--jobs", "2"], stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = bytearray()

    def drain():  # as a terminal would, so the bar never waits on a full pty
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            seen.extend(chunk)

    import threading
    t = threading.Thread(target=drain)
    t.start()
    out, _ = p.communicate(timeout=120)
    t.join(10)
    os.close(master)
    assert p.returncode == 0 and out.decode().count("\n") == 2
    assert b"100%" in seen and b"replay 2 file(s) on 2 process(es)" in seen


def test_the_readmes_first_example_agrees_with_itself(tmp_path, capsys):
    # issue 18, item 10: `simulate --minutes 2` wrote 7 twitches and `replay`
    # of it reported 10 (three extra on one sensor in the first 30 s)
    out = tmp_path / "night.edf"
    assert main(["simulate", "--minutes", "2", "--out", str(out)]) == 0
    truth = json.loads((tmp_path / "night.edf.truth.json").read_text())
    capsys.readouterr()
    assert main(["replay", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["total"] == len(truth["twitches"]) > 0
