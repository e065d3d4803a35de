"""Issue 18: the README's first screen (what it is, the disclaimer, the two
commands, a picture, the way to the builder's guide and the page tour) and
the page tour (every page the screenshot script takes, both themes, 412 px)."""
import re
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


ANCHORS = {_anchor(h) for h in re.findall(r"^#+ (.+)$", README, re.M)}


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


def _pictures(text: str) -> list[str]:
    return re.findall(r"\((docs/screenshots/[^)]+\.png)\)|src=\"(docs/screenshots/[^\"]+\.png)\"", text)


def test_the_first_screen_says_what_it_is_and_leads_to_the_guide_and_the_tour():
    first = README[:README.index("## What it is, and what it is not")]
    assert len(first.split()) < 330  # about one screen
    assert "Counts leg-muscle twitches" in first and "Raspberry Pi" in first
    assert "not a medical device" in first
    cmds = re.findall(r"```sh\n(.+?)\n```", first)
    assert cmds[:2] == ["python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/twitchmon demo",
                        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest -q -n auto "
                        "--dist loadfile"]
    pics = [a or b for a, b in _pictures(first)]
    assert pics and all((ROOT / p).is_file() for p in pics)
    links = dict((t.lower(), a) for t, a in re.findall(r"\[([^\]]+)\]\(#([^)]+)\)", first))
    assert links["builder's guide"] == "build-one" and links["page tour"] == "the-page"
    assert {"build-one", "the-page"} <= ANCHORS


def test_the_tour_shows_every_page_the_script_takes_by_night_and_by_day_at_412_px():
    import importlib.util
    spec = importlib.util.spec_from_file_location("shots", ROOT / "scripts" / "screenshots.py")
    shots = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shots)
    tour = README[README.index("### The page"):README.index("### Command line")]
    linked = {a or b for a, b in _pictures(tour)}
    pages = {p.split("#")[0].split("{")[0] for _, p, _ in shots.SHOTS}
    import test_phone_pages  # the pages the phone check walks: the same set
    assert pages == {p.split("{")[0] for p in test_phone_pages.PAGES}
    assert shots.PHONE == {"width": 412, "height": 915}
    for name, _, _ in shots.SHOTS:
        for f in (f"docs/screenshots/{name}.png", f"docs/screenshots/{name}-day.png"):
            assert f in linked, f
            assert _png_size(ROOT / f)[0] == 412, f
