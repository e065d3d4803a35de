"""Issue 18, items 7 and 8: a night's date is the one its recordings are
filed under, and Tonight says when counting has not started yet rather
than showing 0 twitches in 0 min at rest as if it were the count."""
import datetime as dt
import json
import os
import re
import time
from html import unescape
from pathlib import Path

import pytest

from firmware_host.analysis import night_date
from firmware_host.daemon import NightRecorder
from firmware_host.live import LiveWriter
from firmware_host.simulator import Night
from firmware_host.store import open_store
from web import create_app


@pytest.fixture
def london(monkeypatch):
    """The Pi's local zone: Europe/London (UTC in November)."""
    monkeypatch.setenv("TZ", "Europe/London")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_morning_recording_is_filed_under_the_night_the_page_names(tmp_path, london):
    start = dt.datetime(2026, 11, 27, 9, 16, tzinfo=dt.timezone.utc)
    store = open_store(tmp_path)
    night = Night(0.5, seed=3)
    rec = NightRecorder(store, tmp_path, night.rate_hz, night.channels, "sim", clock=lambda: start)
    for b in night.blocks(1000):
        rec.feed(b)
    rec.close()
    n = store.night(rec.night_id)
    assert n["date"] == night_date(start) == "2026-11-26"  # before noon: the evening before
    paths = [Path(r["path"]) for r in store.recordings(rec.night_id)]
    assert paths and all(p.parts[:2] == ("recordings", n["date"]) for p in paths), paths
    assert (tmp_path / paths[0]).is_file()
    store.close()
    client = create_app({"DATA_DIR": str(tmp_path), "HOST": "127.0.0.1"}).test_client()
    body = client.get(f"/nights/{n['id']}").get_data(as_text=True)
    assert "2026-11-26" in body and "2026-11-27" not in re.sub(r"<[^>]+>", " ", body.split("<footer")[0])


def _tonight_text(data_dir) -> tuple[str, str]:
    """(visible text of the state line, the 'counting starts' note or '' when hidden)."""
    client = create_app({"DATA_DIR": str(data_dir), "HOST": "127.0.0.1"}).test_client()
    body = client.get("/tonight").get_data(as_text=True)
    state = unescape(re.sub(r"<[^>]+>", "", re.search(r'<p class="state">(.*?)</p>', body, re.S).group(1)))
    note = re.search(r'<span id="tonight-counting"( hidden)?>(.*?)</span>', body, re.S)
    return " ".join(state.split()), "" if note.group(1) else note.group(2)


def test_tonight_says_counting_has_not_started_then_shows_rest_from_the_detector_s_first_step(tmp_path):
    store = open_store(tmp_path)
    night = Night(1.5, seed=11, profile="quiet", twitches_per_min=0.0)
    rec = NightRecorder(store, tmp_path, night.rate_hz, night.channels, "sim")
    blocks = night.blocks(100)  # 100 ms, as the sampler hands them over
    for _ in range(300):  # the first 30 s
        rec.feed(next(blocks))
    state, note = _tonight_text(tmp_path)
    assert "Recording" in state and "0 twitches" in state
    assert note.startswith("Counting starts 1 min into the recording"), note
    for b in blocks:  # to 90 s: the detector has analysed its first step
        rec.feed(b)
    n = store.night(rec.night_id)
    assert n["total"] == 0 and n["movements"] == 0  # no event: only the step itself can move the counts on
    assert n["rest_s"] == pytest.approx(rec.det.rest_s) and n["rest_s"] > 20
    assert rec.det.analysed_s > 0
    assert store.get_setting(f"night.{rec.night_id}.counted_s") == pytest.approx(rec.det.analysed_s)
    state, note = _tonight_text(tmp_path)
    assert note == ""
    m = re.search(r"in (\d+) (s|min) at rest", state)
    assert m and int(m.group(1)) > 0, state
    store.close()


def test_the_live_stream_carries_rest_and_how_far_counting_has_come(tmp_path):
    """The page refreshes from the stream every 5 s: it must carry what the page shows."""
    store = open_store(tmp_path)
    night = Night(1.0, seed=11, profile="quiet", twitches_per_min=0.0)
    rec = NightRecorder(store, tmp_path, night.rate_hz, night.channels, "sim")
    for b in night.blocks(100):
        rec.feed(b)
    ring = LiveWriter(tmp_path / "live.ring", night.channels, night.rate_hz)
    store.set_setting("live_path", str(tmp_path / "live.ring"))
    ring.set_state(night_id=rec.night_id)
    ring.write(night.render(0, 2000))
    client = create_app({"DATA_DIR": str(tmp_path), "HOST": "127.0.0.1"}).test_client()
    resp = client.get("/api/live", buffered=False)
    found = None
    for chunk in resp.response:
        text = chunk.decode() if isinstance(chunk, bytes) else chunk
        for line in text.splitlines():
            if line.startswith("data: ") and '"night"' in line:
                found = json.loads(line[6:])["night"]
        if found:
            break
    resp.close()
    ring.close()
    assert found["rest_s"] == pytest.approx(rec.det.rest_s) and found["rest_s"] > 0
    assert found["counted_s"] == pytest.approx(rec.det.analysed_s)
    store.close()


@pytest.mark.browser
def test_an_open_tonight_page_moves_from_counting_starts_to_the_rest_so_far(tmp_path, monkeypatch):
    """In chromium: the page opened before the detector's first step updates
    itself from the stream (rest, the note hidden) without a reload."""
    import threading

    from twitchmon_testkit import browser as B
    import web.tonight as tn
    # streams end by themselves soon, so none outlives the test holding a live-view slot
    monkeypatch.setattr(tn, "STREAM_S", 2.0)
    why = B.chromium_available()
    if why:
        if os.environ.get("CI"):  # .ci/run installs Debian's chromium: missing there is a failure
            pytest.fail(f"browser test cannot run on CI: {why}")
        pytest.skip(why)
    store = open_store(tmp_path)
    night = Night(1.5, seed=11, profile="quiet", twitches_per_min=0.0)
    rec = NightRecorder(store, tmp_path, night.rate_hz, night.channels, "sim")
    blocks = night.blocks(100)
    for _ in range(300):
        rec.feed(next(blocks))
    ring_path = tmp_path / "live.ring"
    store.set_setting("live_path", str(ring_path))
    stop, ring = threading.Event(), {}

    def feed_ring():  # fresh frames, as the daemon writes them, once the page is open
        ring["w"] = w = LiveWriter(ring_path, night.channels, night.rate_hz)
        w.set_state(night_id=rec.night_id)
        i = 0
        while not stop.is_set():
            w.write(night.render(i % night.n_samples, 100))
            i += 100
            time.sleep(0.1)
        w.close()

    app = create_app({"DATA_DIR": str(tmp_path), "HOST": "127.0.0.1", "THEME": "night"})
    with B.served(app) as url, B.browser() as b:
        page = b.new_page(viewport={"width": 412, "height": 915})
        page.goto(url + "/tonight")
        assert page.locator("#tonight-counting").is_visible()
        assert page.locator("#tonight-rest").inner_text() == "0 s"
        for blk in blocks:  # meanwhile the detector analyses its first step
            rec.feed(blk)
        t = threading.Thread(target=feed_ring, daemon=True)
        t.start()
        try:
            B.wait_until(page, "!!window.twitchmonLive && window.twitchmonLive.messages >= 1")
            assert not page.locator("#tonight-counting").is_visible()
            r = rec.det.rest_s  # as the page's dur filter says it: "40 s", "1 min"
            assert r > 0
            assert page.locator("#tonight-rest").inner_text() == (f"{r / 60:.0f} min" if r >= 59.5 else f"{r:.0f} s")
        finally:
            page.goto("about:blank")
            stop.set()
            t.join(5)
    # the server's stream threads see their deadline (STREAM_S) and give their slots back, so the
    # next test in this process finds every live view free
    deadline = time.monotonic() + tn.STREAM_S + 5.0
    while tn._streams.total and time.monotonic() < deadline:
        time.sleep(0.05)
    store.close()
