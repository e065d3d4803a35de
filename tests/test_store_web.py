"""Store migrations and the web page's faces."""
import json

import pytest

from firmware_host.store import MIGRATIONS, open_store


def test_migrations_are_versioned_and_idempotent(tmp_path):
    s = open_store(tmp_path)
    assert s.db.execute("SELECT max(version) FROM schema_version").fetchone()[0] == len(MIGRATIONS)
    s.migrate()
    assert s.db.execute("SELECT count(*) FROM schema_version").fetchone()[0] == len(MIGRATIONS)
    assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert s.integrity_ok()


def _saved_night(client, app, night_files, capsys):
    from firmware_host.cli import main
    assert main(["replay", str(night_files["edf"]), "--save", "--json",
                 "--data-dir", app.config["DATA_DIR"]]) == 0
    return json.loads(capsys.readouterr().out)


def test_same_total_on_page_api_and_csv(client, app, night_files, capsys):
    r = _saved_night(client, app, night_files, capsys)
    nid, total = r["night_id"], r["counts"]["total"]
    api = client.get("/api/nights").get_json()["nights"]
    assert api[0]["id"] == nid and api[0]["total"] == total
    one = client.get(f"/api/nights/{nid}").get_json()
    assert one["total"] == total and sum(one["hourly"]) == total
    ev = client.get(f"/api/nights/{nid}/events").get_json()
    assert ev["counts"]["total"] == len(ev["twitches"]) == total
    listing = client.get("/").get_data(as_text=True)
    assert f'<span class="num total">{total}</span>' in listing
    page = client.get(f"/nights/{nid}").get_data(as_text=True)
    assert f'<strong class="total">{total}</strong>' in page
    rows = client.get(f"/export.csv?night={nid}").get_data(as_text=True).splitlines()
    assert sum(1 for row in rows if row.startswith("twitch,")) == total
    allrows = client.get("/export.csv").get_data(as_text=True).splitlines()
    assert allrows[1].split(",")[4] == str(total)
    assert "not a medical device" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("url,code", [
    ("/api/nights?limit=0", 400), ("/api/nights?limit=1001", 400), ("/api/nights?limit=x", 400),
    ("/api/nights/999999", 404), ("/api/nights/abc", 404), ("/api/nights/-1", 404),
    ("/api/nights/1/events", 404), ("/export.csv?night=x", 400), ("/export.csv?night=99", 404),
    ("/nights/0", 404), ("/?limit=-5", 400), ("/api/nights/%2e%2e%2fetc", 404),
    # int() takes these; no form sends them
    ("/api/nights?limit=5_0", 400), ("/api/nights?limit=%EF%BC%95", 400), ("/export.csv?night=1_0", 400),
])
def test_bad_inputs_get_4xx(client, url, code):
    resp = client.get(url)
    assert resp.status_code == code
    if url.startswith("/api/"):
        assert "error" in resp.get_json()


def test_pages_load_nothing_from_outside(client):
    html = client.get("/").get_data(as_text=True)
    assert "http://" not in html and "https://" not in html
    assert "default-src 'self'" in client.get("/").headers["Content-Security-Policy"]
