"""hardware/: the drawn schematic, BOM and wiring guide agree with the pin
table the daemon reads (firmware_host/pins.py) and are what the script draws."""
import csv
import importlib.util
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from firmware_host import pins

HW = Path(__file__).resolve().parent.parent / "hardware"


def _build_module():
    spec = importlib.util.spec_from_file_location("hw_build", HW / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _svg_texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return ["".join(t.itertext()).strip() for t in root.iter() if t.tag.endswith("text")]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    pytest.importorskip("schemdraw")
    out = tmp_path_factory.mktemp("hw")
    _build_module().build(out)
    return out


@pytest.mark.parametrize("name", ["schematic.svg", "BOM.csv", "WIRING.md"])
def test_committed_files_are_what_the_script_draws(built, name):
    assert (built / name).read_text(encoding="utf-8") == (HW / name).read_text(encoding="utf-8"), \
        f"hardware/{name} is stale: run python hardware/build.py"


def test_schematic_has_every_mcp3008_pin_and_the_pi_pins_the_code_uses():
    texts = _svg_texts((HW / "schematic.svg").read_text(encoding="utf-8"))
    for number, name in pins.MCP3008_PINS.items():
        assert name in texts, name
        assert str(number) in texts, number
    joined = " ".join(texts)
    for mcp_pin, pi_pin in pins.MCP3008_TO_PI.items():
        bcm = pins.PI_HEADER[pi_pin][0]
        assert f"J1 pin {pi_pin} ({bcm})" in joined
    assert f"({pins.LED_PIN})" in joined and f"({pins.BUTTON_PIN}, pull-up)" in joined


def test_bom_references_are_drawn_and_counts_follow_the_sites():
    rows = list(csv.DictReader((HW / "BOM.csv").open(encoding="utf-8")))
    assert [*rows[0]] == ["reference", "part", "value", "quantity", "example part number"]
    svg = " ".join(_svg_texts((HW / "schematic.svg").read_text(encoding="utf-8")))
    for r in rows:
        first = re.split(r"[-, ]", r["reference"])[0]
        assert first in svg or first.startswith("J"), f"{first} is in the BOM but not drawn"
        assert int(r["quantity"]) >= 1
    per_channel = {r["reference"]: int(r["quantity"]) for r in rows if r["reference"].startswith(("PZ", "R1-", "C1-"))}
    assert set(per_channel.values()) == {len(pins.SITES)}
    mcp = [r for r in rows if r["value"] == "MCP3008"]
    assert len(mcp) == 1


def test_wiring_guide_lists_every_wire_and_site_from_the_pin_table():
    text = (HW / "WIRING.md").read_text(encoding="utf-8")
    for row in pins.wiring_rows():
        assert f"| {row['from']} | {row['to']} | {row['signal']} |" in text
    for s in pins.SITES:
        assert s.placement in text and s.name in text
