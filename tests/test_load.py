"""The page under load while the daemon samples: nothing fails and the
sampler keeps every block (timing figures: benchmarks/bench_load.py)."""
from twitchmon_testkit import loadlib


def test_page_under_load_while_the_daemon_records(tmp_path):
    loadlib.fill(tmp_path)
    srv, port = loadlib.server(tmp_path)
    p = loadlib.daemon(tmp_path, source="sim")
    try:
        loadlib.wait_recording(p, tmp_path)
        load = loadlib.Load(port, viewers=3, workers=4, requests=25).start()
        load.wait_workers(120)
        load.stop()
        st = loadlib.stop_daemon(p)
    finally:
        if p.poll() is None:
            p.kill()
        srv.terminate()
        srv.wait(10)
    assert load.errors == []
    assert sum(load.status.values()) == 4 * 25 and set(load.status) == {200}
    assert load.events > 0  # the live viewers were fed
    assert st["dropped_blocks"] == 0 and st["frames"] > 0
