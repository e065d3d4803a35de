"""For your doctor: the report of a period as a PDF (``/report?from=&to=``),
its figures as JSON (``/api/report``), and a page to choose the period."""
from __future__ import annotations

import datetime as dt
import threading
from contextlib import contextmanager

from flask import Blueprint, Response, abort, current_app, g, jsonify, render_template, request

from firmware_host.report import ReportError, gather, parse_period

bp = Blueprint("report", __name__)

DEFAULT_DAYS = 28  #: the period the page offers first: the last four weeks
#: reports drawn at once (seconds of CPU each on a Pi, and 44 MB of fonts): one for LAN
#: read-only viewers together, one kept for the owner, so no viewer can stall the page
_viewer_drawing = threading.BoundedSemaphore(1)
_owner_drawing = threading.BoundedSemaphore(1)


def _period():
    try:
        return parse_period(request.args.get("from"), request.args.get("to"))
    except ReportError as exc:
        abort(400, description=str(exc).replace("--", ""))


def _gather(a, b, waveforms: bool):
    try:
        return gather(current_app.get_store(), a, b, waveforms=waveforms)
    except ReportError as exc:
        abort(400, description=str(exc))


@bp.get("/report")
def page():
    """The period form; with ``from`` and ``to``, the PDF itself."""
    if "from" not in request.args and "to" not in request.args:
        today = dt.date.today()
        # nights are dated by their evening: last night is yesterday's
        return render_template("report.html", date_from=(today - dt.timedelta(days=DEFAULT_DAYS)).isoformat(),
                               date_to=(today - dt.timedelta(days=1)).isoformat())
    a, b = _period()
    # fpdf2 (with fontTools) is 44 MB of the page's memory: loaded when a report is drawn, not before
    from firmware_host.report_pdf import render_pdf  # noqa: PLC0415 - lazy: 44 MB for a monthly PDF
    with _one_at_a_time():
        pdf = render_pdf(_gather(a, b, waveforms=True))
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="twitchmon-report-{a}-to-{b}.pdf"',
        "Cache-Control": "no-store"})


@bp.get("/api/report")
def api():
    """The report's figures (without the waveforms' samples)."""
    a, b = _period()
    with _one_at_a_time():  # a year's figures are a fraction of a second here, several on a Pi
        return jsonify(_gather(a, b, waveforms=False))


@contextmanager
def _one_at_a_time():
    """One report (PDF or figures) for LAN read-only viewers together, one for the owner: more wait (503)."""
    gate = _owner_drawing if g.get("owner") else _viewer_drawing
    if not gate.acquire(blocking=False):
        abort(503, description="a report is being drawn: try again in a minute")
    try:
        yield
    finally:
        gate.release()
