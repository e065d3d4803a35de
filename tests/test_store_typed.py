"""The store's typed faces between the daemon and the page: health, the live
ring's path, site names, Settings saved in one transaction, and the
waveform snippets the daemon makes so the page never reads EDF."""
import datetime as dt
import json
import shutil

import numpy as np
import pytest

from firmware_host.demo import fill_nights
from firmware_host.schedule import retention
from firmware_host.snippets import SnippetWorker, make_snippets
from firmware_host.store import open_store
from firmware_host.waveforms import decode, encode


@pytest.fixture
def store(tmp_path):
    st = open_store(tmp_path / "data")
    yield st
    st.close()


def test_daemon_health_reads_what_the_daemon_writes_and_the_old_double_encoding(store):
    assert store.daemon_health() is None
    h = {"t": "2026-01-01T00:00:00+00:00", "status": ["ok"] * 4, "spi_errors": 0}
    store.set_daemon_health(h)
    assert store.daemon_health() == h
    assert json.loads(store.db.execute("SELECT value FROM settings WHERE key='health'").fetchone()[0]) == h
    store.set_setting("health", json.dumps(h))  # as the daemon wrote it before
    assert store.daemon_health() == h
    store.set_setting("health", "{broken")
    assert store.daemon_health() is None


def test_live_path_and_site_names(store):
    assert store.live_path() is None
    store.set_live_path("/dev/shm/x.ring")
    assert store.live_path() == "/dev/shm/x.ring"
    assert store.site_names(4) == ["Left calf", "Left thigh", "Right calf", "Right thigh"]
    store.set_setting("channel_names", ["a", "b", "c", "d"])
    assert store.site_names(4) == ["a", "b", "c", "d"] and store.site_names(2) == ["a", "b"]
    store.set_setting("channel_names", ["a", "a", "c", "d"])  # not usable: the pin table's names
    assert store.site_names(4)[0] == "Left calf"


def test_settings_are_saved_whole_or_not_at_all(store):
    kw = dict(config={"detector": {"sensitivity": 4.0}}, lan_read_only=True, mqtt_enabled=False,
              mqtt_remote_control=False, saved_utc="2026-01-01T00:00:00+00:00")
    assert store.save_settings(channel_names=["a", "b", "c", "d"], **kw) == 1
    assert store.get_setting("config_rev") == 1 and store.get_setting("channel_names") == ["a", "b", "c", "d"]
    with pytest.raises(TypeError):  # the names cannot be stored: nothing of this save may be
        store.save_settings(channel_names=[object()], **dict(kw, config={"changed": True}))
    assert store.get_setting("config") == {"detector": {"sensitivity": 4.0}}
    assert store.get_setting("config_rev") == 1 and not store.db.in_transaction


def test_a_snippet_round_trips_as_float32():
    y = [0.0, 1.5, -2.25, 1e3]
    assert decode(encode(y)) == y


@pytest.fixture
def nights(tmp_path):
    d = tmp_path / "data"
    ids = fill_nights(str(d), 1, 2.0, log=lambda *_: None)
    return d, ids[0]


def test_made_snippets_are_kept_and_go_with_their_recording(nights):
    d, nid = nights
    st = open_store(d)
    stored = st.snippets(nid)
    twitches = st.twitches(nid)
    assert twitches and len(stored) == len(twitches)
    assert make_snippets(st, d, nid) == 0  # made once
    assert st.nights_without_snippets() == []
    y = np.array(decode(next(iter(stored.values()))[1]))
    assert len(y) == 1000 and np.abs(y).max() > 0
    old = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=400)
    assert retention(st, d, old, 30)  # the raw file goes, and its waveforms with it
    assert st.snippets(nid) == {}
    st.close()


def test_the_daemon_worker_backfills_nights_recorded_before_snippets(nights):
    d, nid = nights
    st = open_store(d)
    st.db.execute("DELETE FROM snippets")
    st.db.execute("DELETE FROM snippet_nights")
    assert st.nights_without_snippets() == [nid]
    w = SnippetWorker(st, d).start()
    w.backfill()
    w.stop(timeout_s=60)
    assert len(st.snippets(nid)) == len(st.twitches(nid)) and st.nights_without_snippets() == []
    st.close()


def test_a_missing_raw_file_costs_the_waveforms_not_the_night(nights):
    d, nid = nights
    st = open_store(d)
    st.db.execute("DELETE FROM snippets")
    st.db.execute("DELETE FROM snippet_nights")
    shutil.rmtree(d / "recordings")
    assert make_snippets(st, d, nid) == 0
    assert st.night(nid)["total"] == len(st.twitches(nid)) > 0
    st.close()


def test_a_recorded_night_gets_its_waveforms_from_the_daemon_at_its_end(tmp_path):
    """The recorder tells the waveform maker when a file and the night are done;
    the page then finds a snippet for every twitch in the raw recording."""
    from firmware_host.daemon import NightRecorder
    from firmware_host.simulator import Night
    night = Night(3.0, seed=21, profile="normal")
    store = open_store(tmp_path)
    worker = SnippetWorker(store, tmp_path).start()
    told = []
    rec = NightRecorder(store, tmp_path, night.rate_hz, night.channels, "sim",
                        on_file_done=lambda nid: (told.append(nid), worker.post(nid)))
    for b in night.blocks(1000):
        rec.feed(b)
    rec.close()
    worker.stop(timeout_s=60)
    assert told and set(told) == {rec.night_id}
    n = len(store.twitches(rec.night_id))
    assert n > 0 and len(store.snippets(rec.night_id)) == n
    assert store.nights_without_snippets() == []
    store.close()
