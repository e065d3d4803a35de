"""Render every page of the web app over a data dir, in a process of its own,
and say what that process then holds.

    python tests/support/pagewalk.py DATA_DIR    # prints one JSON line

The JSON: ``rendered`` (url -> status), ``modules`` (the daemon-side modules
loaded: what the page must not hold, see :data:`DAEMON_SIDE`), ``rss_kb`` and
``pss_kb`` (the process's resident and proportional memory, from /proc).
Used by tests/test_page_reads_only.py and benchmarks/bench_page_memory.py;
it imports only the page (``web``), so what is loaded is the page's doing.
"""
from __future__ import annotations

import json
import re
import sqlite3
import sys
from pathlib import Path

#: modules (and packages, with everything under them) the page must never load
DAEMON_SIDE = ("firmware_host.daemon", "firmware_host.detector", "firmware_host.adc", "firmware_host.sampler",
               "firmware_host.traces", "firmware_host.snippets", "firmware_host.analysis",
               "firmware_host.simulator", "firmware_host.mcp3008_emulator", "firmware_host.sources",
               "firmware_host.sampler_process", "firmware_host.mqtt_client", "firmware_host.mqtt_publisher",
               "scipy", "edfio", "pyedflib", "apscheduler", "paho")

#: routes walked elsewhere or never ending (the live stream holds its thread for minutes)
SKIP = {"/api/live", "/static/<path:filename>"}


def loaded(prefixes=DAEMON_SIDE) -> list[str]:
    """The modules in this process that are ``prefixes`` or under one of them."""
    return sorted(m for m in sys.modules if any(m == p or m.startswith(p + ".") for p in prefixes))


def memory_kb() -> dict:
    """This process's VmRSS and (where the kernel gives it) Pss, in kB."""
    out = {}
    status = Path("/proc/self/status").read_text()
    out["rss_kb"] = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    try:
        rollup = Path("/proc/self/smaps_rollup").read_text()
        out["pss_kb"] = int(re.search(r"^Pss:\s+(\d+)", rollup, re.M).group(1))
    except (OSError, AttributeError):
        out["pss_kb"] = None
    return out


def urls(app, data_dir) -> list[str]:
    """Every GET route, with each stored night's and recording's ids filled in."""
    db = sqlite3.connect(Path(data_dir) / "twitchmon.db")
    try:
        nights = [r[0] for r in db.execute("SELECT id FROM nights")]
        first, last = db.execute("SELECT min(date), max(date) FROM nights").fetchone()
        recs = list(db.execute("SELECT night_id, id FROM recordings"))
    finally:
        db.close()
    out = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule in SKIP:
            continue
        if "<int:rec_id>" in rule.rule:
            out += [rule.rule.replace("<int:night_id>", str(n)).replace("<int:rec_id>", str(r)) for n, r in recs]
        elif "<int:night_id>" in rule.rule:
            out += [rule.rule.replace("<int:night_id>", str(n)) for n in nights]
        elif "<" not in rule.rule:
            out.append(rule.rule)
    out += [f"/export.csv?night={n}" for n in nights]
    # the doctor's report wants a period: every stored night's (the PDF and its figures)
    out = [u for u in out if u != "/api/report"]
    if first is not None:
        out += [f"/report?from={first}&to={last}", f"/api/report?from={first}&to={last}"]
    return sorted(set(out))


def walk(data_dir) -> dict:
    from web import create_app

    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True})
    client = app.test_client()
    rendered = {}
    for url in urls(app, data_dir):
        r = client.get(url)
        r.get_data()  # a streamed body (CSV) runs to its end
        rendered[url] = r.status_code
        r.close()
    return {"rendered": rendered, "modules": loaded(), **memory_kb()}


if __name__ == "__main__":
    print(json.dumps(walk(sys.argv[1])))
