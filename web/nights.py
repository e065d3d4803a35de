"""Nights: the list, one night, its events, and the CSV export."""
from __future__ import annotations

import csv
import datetime as dt
import io

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, send_file, url_for

from firmware_host import pins
from firmware_host.cramps import before_cramp
from firmware_host.events import hourly_counts, per_channel_counts, per_rest_hour
from firmware_host.figures import fault_spans
from firmware_host.paths import confined
from firmware_host.waveforms import AFTER_S, BEFORE_S, UNIT, decode

from . import svg
from .params import int_arg, whole_number

bp = Blueprint("nights", __name__)

NIGHT_KEYS = ("id", "date", "start", "end", "total", "per_channel", "rest_s", "movements")


def _store():
    return current_app.get_store()


def night_json(n: dict) -> dict:
    rate = per_rest_hour(n["total"], n["rest_s"])
    return {"id": n["id"], "date": n["date"], "start": n["start_utc"], "end": n["end_utc"],
            "total": n["total"], "per_channel": n["per_channel"], "rest_s": n["rest_s"],
            "movements": n["movements"], "status": n["status"], "channel_names": n["channel_names"],
            "twitches_per_rest_hour": round(rate, 2) if rate is not None else None,
            "heart_rate_bpm": n["heart_rate_bpm"], "duration_s": n["duration_s"],
            # the lowest 10-minute median, only where the detector gave a heart rate at all
            "heart_rate_lowest_10min_bpm": (n["summary"].get("heart_rate_lowest_10min_bpm")
                                            if n["heart_rate_bpm"] is not None else None),
            "plm_index": n.get("plm_index"), "cramps": n.get("cramps", 0),
            "check": check_rows(n["summary"].get("check"), n["channel_names"])}


def check_rows(check, names: list[str]) -> list[dict] | None:
    """The night's injection check, one row a site: how many test twitches
    were added and found, the size found half and 90% of the time (times
    the noise floor), and whether the channel passed; None before a check."""
    if not isinstance(check, dict) or not isinstance(check.get("per_channel"), list):
        return None
    rows = []
    for i, c in enumerate(check["per_channel"]):
        if not isinstance(c, dict):
            return None
        rows.append({"site": names[i] if i < len(names) else f"channel {i}", "injected": c.get("injected", 0),
                     "found": c.get("found", 0), "amp50_x_noise": c.get("amp50_x_noise"),
                     "amp90_x_noise": c.get("amp90_x_noise"), "passed": bool(c.get("passed"))})
    return rows


def cramp_list(store, n: dict, twitches: list[dict] | None = None, movements: list[dict] | None = None) -> list[dict]:
    """The night's cramps, each timed one with the twitch rate on its leg in
    the 30 min before it against the night's rest rate on the same sites."""
    twitches = store.twitches(n["id"]) if twitches is None else twitches
    movements = store.movements(n["id"]) if movements is None else movements
    legs = pins.legs(n["channels"])
    out = []
    for c in store.cramps(night_id=n["id"]):
        time = _local(n, c["t"]).strftime("%H:%M") if c["t"] is not None else None
        out.append({"t": c["t"], "time": time, "leg": c["leg"], "severity": c["severity"], "source": c["source"],
                    "before": before_cramp(c, n, twitches, movements, legs)})
    return out


@bp.app_template_filter("rate")
def rate_text(rate: float | None) -> str:
    """A rate for people: whole numbers from 10 up ("164"), one decimal
    below ("7.3"); the JSON API and the CSV keep the full figures."""
    if rate is None:
        return "–"
    if rate == 0:
        return "0"
    return f"{rate:.0f}" if rate >= 9.95 else f"{rate:.1f}"


def _night_or_404(night_id: int) -> dict:
    if not 0 <= night_id < 2 ** 63:  # what SQLite can hold
        abort(404)
    n = _store().night(night_id)
    if n is None:
        abort(404)
    return n


def _hourly(store, n) -> list[int]:
    """Twitches per hour: as stored at the night's end, else (a night still
    being recorded) counted from its events."""
    per_hour = n["summary"].get("counts", {}).get("per_hour") if n["status"] != "recording" else None
    if isinstance(per_hour, list) and all(isinstance(k, int) for k in per_hour):
        return per_hour
    return hourly_counts(store.twitches(n["id"]), n["duration_s"] or 0)


@bp.get("/")
def index():
    limit = int_arg("limit", 30, 1, 1000)
    nights = [night_json(n) for n in _store().nights(limit)]
    last30 = list(reversed(nights[:30]))
    spark = svg.sparkline([n["twitches_per_rest_hour"] for n in last30],
                          title=f"Twitches per rest hour, last {len(last30)} nights, oldest first")
    return render_template("nights/index.html", nights=nights, spark=spark, spark_n=len(last30))


@bp.get("/api/nights")
def api_nights():
    limit = int_arg("limit", 100, 1, 1000)
    return jsonify({"nights": [night_json(n) for n in _store().nights(limit)]})


PER_PAGE = 24  #: twitches per page of the waveform gallery
PHONE_W = 360  #: the night's charts' drawing width in SVG units: about a phone's CSS px


def _local(n: dict, t_s: float) -> dt.datetime:
    return (dt.datetime.fromisoformat(n["start_utc"]) + dt.timedelta(seconds=t_s)).astimezone()


def _on_device(data_dir, recordings: list[dict]) -> set[int]:
    """Ids of the recordings whose raw file is still in the data dir
    (retention deletes them; a snippet goes with its file)."""
    out = set()
    for r in recordings:
        p = confined(data_dir, r["path"])
        if p is not None and p.exists():
            out.add(r["id"])
    return out


def _gallery(store, n: dict, twitches: list[dict], page: int) -> tuple[list[dict], int, bool]:
    """A page of the waveform gallery from the stored snippets (made by the
    daemon at the night's end, firmware_host/snippets.py)."""
    pages = max(1, -(-len(twitches) // PER_PAGE))
    if page > pages:
        abort(404)
    recs = store.recordings(n["id"])
    on_device = _on_device(current_app.config["DATA_DIR"], recs)
    stored = store.snippets(n["id"]) if on_device else {}
    names = n["channel_names"]
    items = []
    first = (page - 1) * PER_PAGE
    for k, tw in enumerate(twitches[first: first + PER_PAGE], start=first + 1):
        rec_id, values = stored.get((tw["t"], tw["channel"]), (None, None))
        y = decode(values) if rec_id in on_device else None
        site = names[tw["channel"]] if tw["channel"] < len(names) else f"channel {tw['channel']}"
        items.append({"n": k, "t": tw["t"], "time": _local(n, tw["t"]).strftime("%H:%M:%S"),
                      "channel": tw["channel"], "site": site, "peak": tw["peak"],
                      "duration_ms": tw["duration_ms"], "rate_hz": n["rate_hz"], "before_s": BEFORE_S,
                      "after_s": AFTER_S, "y": None if y is None else [round(v, 2) for v in y]})
    return items, pages, bool(on_device)


@bp.get("/nights/<int:night_id>")
def night_page(night_id: int):
    store = _store()
    n = _night_or_404(night_id)
    page = int_arg("page", 1, 1, 100000)
    twitches, movements = store.twitches(night_id), store.movements(night_id)
    hourly = _hourly(store, n)
    labels = [_local(n, 3600 * i).strftime("%H:00") for i in range(len(hourly))]
    dur = n["duration_s"] or 0.0
    items, pages, has_raw = _gallery(store, n, twitches, page)
    for it in items:
        it["svg"] = svg.waveform(it["y"], it["rate_hz"], it["before_s"],
                                 title=f"Twitch at {it['time']}, {it['site']}") if it["y"] else None
    cramps = cramp_list(store, n, twitches, movements)
    charts = {
        # drawn at a phone's width, so its 12-unit labels are 12 px there (and grow no further than the CSS allows)
        "hourly": svg.bars(hourly, labels, title="Twitches per hour", unit=" twitches", width=PHONE_W),
        "timeline": svg.timeline(dur, movements, twitches, fault_spans(store.health(night_id), dur), width=PHONE_W,
                                 start_label=_local(n, 0).strftime("%H:%M"),
                                 end_label=_local(n, dur).strftime("%H:%M"),
                                 cramps=[c for c in cramps if c["t"] is not None]),
    }
    recs = [r for r in store.recordings(night_id) if r["finished"] or n["status"] != "recording"]
    return render_template("nights/detail.html", night=night_json(n), hourly=hourly, hour_labels=labels,
                           charts=charts, gallery=items, page=page, pages=pages, has_raw=has_raw,
                           recordings=recs, movements=movements, cramps=cramps,
                           raw_stopped=store.raw_stopped(night_id))


@bp.get("/api/nights/<int:night_id>")
def api_night(night_id: int):
    store = _store()
    n = _night_or_404(night_id)
    d = night_json(n)
    d["hourly"] = _hourly(store, n)
    d["cramp_list"] = cramp_list(store, n)
    d["recordings"] = [{"id": r["id"], "start_t": r["start_t"], "samples": r["samples"],
                        "url": url_for("nights.download_edf", night_id=night_id, rec_id=r["id"])}
                       for r in store.recordings(night_id)]
    return jsonify(d)


@bp.get("/api/nights/<int:night_id>/waveforms")
def api_waveforms(night_id: int):
    store = _store()
    n = _night_or_404(night_id)
    page = int_arg("page", 1, 1, 100000)
    items, pages, has_raw = _gallery(store, n, store.twitches(night_id), page)
    return jsonify({"night": night_id, "page": page, "pages": pages, "per_page": PER_PAGE, "raw": has_raw,
                    "unit": UNIT, "twitches": items})


@bp.get("/nights/<int:night_id>/recordings/<int:rec_id>.edf")
def download_edf(night_id: int, rec_id: int):
    """One of the night's EDF+ files (an hour each), twitches annotated."""
    store = _store()
    n = _night_or_404(night_id)
    rec = next((r for r in store.recordings(night_id) if r["id"] == rec_id), None)
    path = confined(current_app.config["DATA_DIR"], rec["path"]) if rec else None
    if path is None or not path.is_file():
        abort(404)
    k = [r["id"] for r in store.recordings(night_id)].index(rec_id) + 1
    return send_file(path, mimetype="application/octet-stream", as_attachment=True,
                     download_name=f"twitchmon-{n['date']}-night{night_id}-part{k}.edf", max_age=0)


@bp.get("/api/nights/<int:night_id>/events")
def api_events(night_id: int):
    store = _store()
    n = _night_or_404(night_id)
    tw = store.twitches(night_id)
    per = per_channel_counts(tw, n["channels"])
    return jsonify({"night": night_id, "rate_hz": n["rate_hz"], "channels": n["channels"],
                    "duration_s": n["duration_s"], "rest_s": n["rest_s"], "twitches": tw,
                    "movements": store.movements(night_id),
                    "cramps": [{"t": c["t"], "leg": c["leg"], "severity": c["severity"], "source": c["source"]}
                               for c in store.cramps(night_id=night_id)],
                    "counts": {"total": len(tw), "per_channel": per}})


@bp.get("/export.csv")
def export_csv():
    store = _store()
    night_arg = request.args.get("night")
    if night_arg is not None:
        try:
            night_id = whole_number(night_arg)
        except ValueError:
            abort(400, description="night must be a whole number")
        n = _night_or_404(night_id)
        names = n["channel_names"]

        def rows():
            yield ["kind", "t_s", "end_s", "channel", "site", "duration_ms", "peak_codes", "severity_0_10",
                   "logged_by"]
            for e in store.twitches(night_id):
                site = names[e["channel"]] if e["channel"] < len(names) else ""
                yield ["twitch", e["t"], "", e["channel"], site, e["duration_ms"], e["peak"], "", ""]
            for m in store.movements(night_id):
                yield ["movement", m["t"], m["end"], "", "+".join(map(str, m["channels"])), "", "", "", ""]
            for c in store.cramps(night_id=night_id):  # site: the leg; t_s empty for the diary's
                yield ["cramp", "" if c["t"] is None else c["t"], "", "", c["leg"] or "", "", "",
                       "" if c["severity"] is None else c["severity"], c["source"]]
        fname = f"twitchmon-night-{night_id}.csv"
    else:
        def rows():
            yield ["id", "date", "start_utc", "end_utc", "total", "per_channel", "rest_s", "movements",
                   "plm_index_per_rest_hour", "cramps", "heart_rate_bpm"]
            for n in store.nights(100000):
                yield [n["id"], n["date"], n["start_utc"], n["end_utc"], n["total"],
                       " ".join(map(str, n["per_channel"])), n["rest_s"], n["movements"],
                       "" if n["plm_index"] is None else n["plm_index"], n["cramps"],
                       "" if n["heart_rate_bpm"] is None else n["heart_rate_bpm"]]
        fname = "twitchmon-nights.csv"

    def stream():
        buf = io.StringIO()
        w = csv.writer(buf)
        for row in rows():
            w.writerow(row)
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    return Response(stream(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{fname}"'})
