"""Nights: the list, one night, its events, and the CSV export."""
from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

bp = Blueprint("nights", __name__)

NIGHT_KEYS = ("id", "date", "start", "end", "total", "per_channel", "rest_s", "movements")


def _store():
    return current_app.get_store()


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        v = int(raw)
    except ValueError:
        abort(400, description=f"{name} must be a whole number")
    if not lo <= v <= hi:
        abort(400, description=f"{name} must be {lo}..{hi}")
    return v


def night_json(n: dict) -> dict:
    rate = n["total"] / (n["rest_s"] / 3600) if n["rest_s"] else None
    return {"id": n["id"], "date": n["date"], "start": n["start_utc"], "end": n["end_utc"],
            "total": n["total"], "per_channel": n["per_channel"], "rest_s": n["rest_s"],
            "movements": n["movements"], "status": n["status"], "channel_names": n["channel_names"],
            "twitches_per_rest_hour": round(rate, 2) if rate is not None else None,
            "heart_rate_bpm": n["heart_rate_bpm"], "duration_s": n["duration_s"]}


def _night_or_404(night_id: int) -> dict:
    n = _store().night(night_id)
    if n is None:
        abort(404)
    return n


def _hourly(store, n) -> list[int]:
    from firmware_host.analysis import hourly_counts  # noqa: PLC0415
    return hourly_counts(store.twitches(n["id"]), n["duration_s"] or 0)


@bp.get("/")
def index():
    limit = _int_arg("limit", 30, 1, 1000)
    nights = [night_json(n) for n in _store().nights(limit)]
    return render_template("nights/index.html", nights=nights)


@bp.get("/api/nights")
def api_nights():
    limit = _int_arg("limit", 100, 1, 1000)
    return jsonify({"nights": [night_json(n) for n in _store().nights(limit)]})


@bp.get("/nights/<int:night_id>")
def night_page(night_id: int):
    store = _store()
    n = _night_or_404(night_id)
    return render_template("nights/detail.html", night=night_json(n), hourly=_hourly(store, n),
                           twitches=store.twitches(night_id), movements=store.movements(night_id))


@bp.get("/api/nights/<int:night_id>")
def api_night(night_id: int):
    store = _store()
    n = _night_or_404(night_id)
    d = night_json(n)
    d["hourly"] = _hourly(store, n)
    return jsonify(d)


@bp.get("/api/nights/<int:night_id>/events")
def api_events(night_id: int):
    store = _store()
    n = _night_or_404(night_id)
    tw = store.twitches(night_id)
    per = [0] * n["channels"]
    for e in tw:
        per[e["channel"]] += 1
    return jsonify({"night": night_id, "rate_hz": n["rate_hz"], "channels": n["channels"],
                    "duration_s": n["duration_s"], "rest_s": n["rest_s"], "twitches": tw,
                    "movements": store.movements(night_id),
                    "counts": {"total": len(tw), "per_channel": per}})


@bp.get("/export.csv")
def export_csv():
    store = _store()
    night_arg = request.args.get("night")
    if night_arg is not None:
        try:
            night_id = int(night_arg)
        except ValueError:
            abort(400, description="night must be a whole number")
        n = _night_or_404(night_id)
        names = n["channel_names"]

        def rows():
            yield ["kind", "t_s", "end_s", "channel", "site", "duration_ms", "peak_codes"]
            for e in store.twitches(night_id):
                site = names[e["channel"]] if e["channel"] < len(names) else ""
                yield ["twitch", e["t"], "", e["channel"], site, e["duration_ms"], e["peak"]]
            for m in store.movements(night_id):
                yield ["movement", m["t"], m["end"], "", "+".join(map(str, m["channels"])), "", ""]
        fname = f"twitchmon-night-{night_id}.csv"
    else:
        def rows():
            yield ["id", "date", "start_utc", "end_utc", "total", "per_channel", "rest_s", "movements"]
            for n in store.nights(100000):
                yield [n["id"], n["date"], n["start_utc"], n["end_utc"], n["total"],
                       " ".join(map(str, n["per_channel"])), n["rest_s"], n["movements"]]
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
