"""Screenshots of the main pages for the README, taken the way the tests
drive the page: simulated nights, a live feed, waitress on 127.0.0.1 and
Debian's chromium through Playwright.

    python scripts/screenshots.py [OUT_DIR] [--day | --night]     (default: docs/screenshots, both)

Phone-sized (412 x 915 CSS px, a common Android phone): the night theme
(as the page is at night, NAME.png) and the day theme as a phone in light
mode sees it (NAME-day.png); --day or --night takes one.  Each line printed
gives the page's smallest text as rendered and its width, measured as
tests/test_phone_pages.py measures them.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from twitchmon_testkit import browser as B  # noqa: E402
from firmware_host.demo import fill_nights  # noqa: E402
from web import create_app  # noqa: E402

SHOTS = [("tonight", "/tonight", 4.0), ("nights", "/", 0), ("night", "/nights/{last}", 0),
         ("night-charts", "/nights/{last}#charts", 0), ("gallery", "/nights/{last}#gallery", 0),
         ("trends", "/trends", 0), ("diary", "/diary", 0), ("hardware", "/hardware", 0),
         ("hardware-parts", "/hardware#parts", 0), ("settings", "/settings", 0), ("login", "/login", 0),
         ("report", "/report", 0)]
PHONE = {"width": 412, "height": 915}  #: CSS px


def main(out: Path, day: bool = False) -> None:
    out.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix="twitchmon-shots-")) / "data"
    ids = fill_nights(str(d), 6, 4.0, log=print)
    # a password, as on an installed Pi: the login page then shows its form (and no temporary path)
    subprocess.run([sys.executable, "-m", "firmware_host.cli", "passwd", "--data-dir", str(d)], check=True,
                   input="owl at night 7\n", text=True, capture_output=True, cwd=ROOT)
    app = create_app({"DATA_DIR": str(d), "HOST": "127.0.0.1", "DEMO": True, "THEME": "day" if day else "night"})
    with B.live_feed(str(d)), B.served(app) as url, B.browser() as b:
        page = b.new_page(viewport=PHONE, device_scale_factor=1,
                          color_scheme="light" if day else "dark")
        for name, path, wait_s in SHOTS:
            page.goto(url + path.format(last=ids[-1]))
            page.wait_for_load_state("load")
            if wait_s:
                page.wait_for_timeout(wait_s * 1000)
            p = out / f"{name}{'-day' if day else ''}.png"
            page.screenshot(path=str(p))
            size, text = page.evaluate(B.SMALLEST_TEXT)[0]
            print(f"{p}: {p.stat().st_size // 1024} kB; smallest text {size:.1f} px ({text!r}); "
                  f"page {page.evaluate('document.documentElement.scrollWidth')} px wide")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a not in ("--day", "--night")]
    themes = [t for t in (True, False) if ("--day" if t else "--night") in sys.argv[1:]] or [False, True]
    for day in themes:
        main(Path(args[0]) if args else ROOT / "docs" / "screenshots", day=day)
