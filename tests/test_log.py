"""twitchmon's log: levels, warnings on stderr, and the journal's priority
prefix only when stderr really is the journal's stream."""
import os
import sys

from firmware_host.log import get_logger


def test_levels_go_to_their_streams(capsys):
    log = get_logger("test.levels")
    log.info("news")
    log.warning("trouble")
    log.debug("noise")  # below the level: not said
    out, err = capsys.readouterr()
    assert out == "twitchmon: news\n" and err == "twitchmon: trouble\n"


def test_the_journal_gets_the_priority_prefix(tmp_path, monkeypatch):
    path = tmp_path / "journal"
    with open(path, "w") as f:
        st = os.fstat(f.fileno())
        monkeypatch.setattr(sys, "stderr", f)
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        get_logger("test.journal").error("the disk is full")
        monkeypatch.setenv("JOURNAL_STREAM", "1:2")  # another stream is the journal: no prefix here
        get_logger("test.journal").warning("plain")
    assert path.read_text() == "<3>twitchmon: the disk is full\ntwitchmon: plain\n"
