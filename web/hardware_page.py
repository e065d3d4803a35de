"""Hardware: the schematic, the parts list, the wiring table and where the
sensors go, all from ``hardware/`` (shipped in the package as
``web.hardware``), which ``hardware/build.py`` generates from the same pin
table the daemon reads (``firmware_host/pins.py``)."""
from __future__ import annotations

import csv
import io
from importlib import resources
from pathlib import Path

import markdown
from flask import Blueprint, Response, jsonify, render_template
from markupsafe import Markup

from firmware_host import pins

bp = Blueprint("hardware", __name__)


def _file(name: str) -> str:
    """A file of hardware/: in the package when installed, beside it in a checkout."""
    checkout = Path(__file__).resolve().parent.parent / "hardware" / name
    if checkout.is_file():
        return checkout.read_text(encoding="utf-8")
    return resources.files("web.hardware").joinpath(name).read_text(encoding="utf-8")


def bom() -> list[dict]:
    return list(csv.DictReader(io.StringIO(_file("BOM.csv"))))


def guide_html() -> Markup:
    """WIRING.md (our own file, generated) as HTML."""
    return Markup(markdown.markdown(_file("WIRING.md"), extensions=["tables"]))


@bp.get("/hardware")
def page():
    return render_template("hardware.html", bom=bom(), guide=guide_html(), sites=pins.SITES)


def _svg(name: str) -> Response:
    resp = Response(_file(name), mimetype="image/svg+xml")
    # schemdraw's SVG carries its own inline style: allow that for this file only
    resp.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    resp.headers["Cache-Control"] = "max-age=3600"
    return resp


@bp.get("/hardware/schematic.svg")
def schematic():
    return _svg("schematic.svg")


@bp.get("/hardware/layout.svg")
def layout():
    return _svg("layout.svg")


@bp.get("/api/hardware")
def api():
    return jsonify({"bom": bom(), "wiring": pins.wiring_rows(),
                    "sites": [{"channel": s.channel, "key": s.key, "name": s.name, "leg": s.leg,
                               "placement": s.placement} for s in pins.SITES],
                    "spi": {"bus": pins.SPI_BUS, "device": pins.SPI_DEVICE, "clock_hz": pins.SPI_CLOCK_HZ,
                            "mode": pins.SPI_MODE},
                    "led_pin": pins.LED_PIN, "button_pin": pins.BUTTON_PIN,
                    "schematic": "/hardware/schematic.svg", "layout": "/hardware/layout.svg"})
