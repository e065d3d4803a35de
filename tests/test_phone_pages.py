"""The page on a phone (390 x 844 and 412 x 915 CSS px) in Debian's chromium: what a
person reads in the morning is legible, in the day theme and the night one.
Sizes are measured as rendered (font size times the SVG's scale), colours
as computed, order as laid out."""
import os
import shutil

import pytest

from twitchmon_testkit import browser as B
from web import create_app

why = B.chromium_available()
if why and os.environ.get("CI"):
    raise RuntimeError(f"browser tests cannot run on CI: {why}")
pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(why), reason=why or "")]

PHONE = {"width": 390, "height": 844}
THEMES = {"day": "light", "night": "dark"}  # the page's theme: the phone's colour scheme


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    from firmware_host.demo import fill_nights
    d = tmp_path_factory.mktemp("phone") / "data"
    ids = fill_nights(str(d), 2, 4.0, log=lambda *_: None)
    return d, ids


@pytest.fixture(scope="module")
def chromium():
    with B.browser() as b:
        yield b


def _site(filled, tmp_path, theme, feed=True):
    d = tmp_path / theme / "data"
    shutil.copytree(filled[0], d)
    app = create_app({"DATA_DIR": str(d), "HOST": "127.0.0.1", "THEME": theme})
    return d, app


def _rgb(css: str) -> tuple[int, int, int]:
    css = css.strip()
    if css.startswith("#"):
        h = css[1:]
        if len(h) == 3:
            h = "".join(ch * 2 for ch in h)
        return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))
    return tuple(int(float(v)) for v in css[css.index("(") + 1:css.index(")")].split(",")[:3])


def _contrast(a, b) -> float:
    def lum(c):
        ch = [v / 255 for v in c]
        ch = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in ch]
        return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2]
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


PIXELS = """(rgb) => { const c = document.querySelector('#live canvas');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0, old = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i] === rgb[0] && d[i+1] === rgb[1] && d[i+2] === rgb[2]) n++;
    if (d[i] === 51 && d[i+1] === 51 && d[i+2] === 51) old++; }
  return [n, old]; }"""


@pytest.mark.parametrize("theme", ["day", "night"])
def test_live_chart_draws_in_the_theme_s_colours_with_readable_axis_labels(chromium, filled, tmp_path, theme):
    d, app = _site(filled, tmp_path, theme)
    with B.live_feed(str(d)), B.served(app) as url:
        page = chromium.new_page(viewport=PHONE, color_scheme=THEMES[theme])
        w = B.Watch(page)
        page.goto(url + "/tonight")
        B.wait_until(page, "!!window.twitchmonLive && window.twitchmonLive.messages >= 3")
        page.wait_for_timeout(300)
        css = page.evaluate("""() => { const s = getComputedStyle(document.documentElement);
            return {grid: s.getPropertyValue('--grid').trim(), muted: s.getPropertyValue('--muted').trim(),
                    bg: getComputedStyle(document.body).backgroundColor}; }""")
        drawn = page.evaluate("window.twitchmonLive.colors")
        assert drawn["grid"] == css["grid"] and drawn["muted"] == css["muted"]
        grid_px, old_px = page.evaluate(PIXELS, list(_rgb(css["grid"])))
        # grid lines in the theme's colour; #333 (the old hard-coded grid) at most as a stray antialiased pixel
        assert grid_px > 500 and old_px < 20, (grid_px, old_px)
        assert _contrast(_rgb(css["muted"]), _rgb(css["bg"])) >= 4.5  # axis labels
        font = page.evaluate("window.twitchmonLive.plots[0].axes[0].font[0]")
        assert float(font.split("px")[0]) >= 12, font
        page.close()
        assert w.errors == []


def test_live_boxes_say_they_wait_for_the_signal_until_the_first_frame(chromium, filled, tmp_path):
    d, app = _site(filled, tmp_path, "day")
    with B.live_feed(str(d)), B.served(app) as url:
        page = chromium.new_page(viewport=PHONE, color_scheme="light")
        page.route("**/api/live*", lambda route: route.abort())  # no frame ever comes
        page.goto(url + "/tonight")
        page.wait_for_timeout(500)
        boxes = page.locator(".plot .waiting")
        assert boxes.count() == 4 and all(boxes.nth(i).is_visible() for i in range(4))
        assert "Waiting for the signal" in boxes.first.inner_text()
        page.close()
        page = chromium.new_page(viewport=PHONE, color_scheme="light")
        page.goto(url + "/tonight")
        B.wait_until(page, "!!window.twitchmonLive && window.twitchmonLive.messages >= 1")
        assert not page.locator(".plot .waiting").first.is_visible()
        page.close()


RENDERED_TEXT = """(sel) => [...document.querySelectorAll(sel)].map(t => {
  const svg = t.ownerSVGElement, m = svg ? svg.getScreenCTM() : null;
  return parseFloat(getComputedStyle(t).fontSize) * (m ? m.a : 1); })"""


@pytest.mark.parametrize("theme", ["day", "night"])
def test_night_detail_on_a_phone_has_readable_charts_and_downloads_before_the_gallery(chromium, filled, tmp_path,
                                                                                       theme):
    d, app = _site(filled, tmp_path, theme)
    with B.served(app) as url:
        page = chromium.new_page(viewport=PHONE, color_scheme=THEMES[theme])
        page.goto(url + f"/nights/{filled[1][-1]}")
        hourly = page.evaluate(RENDERED_TEXT, "svg.bars text.axis")
        timeline = page.evaluate(RENDERED_TEXT, "svg.timeline text.axis")
        assert hourly and min(hourly) >= 11, hourly
        assert timeline and min(timeline) >= 11, timeline
        labels = page.evaluate("""() => [...document.querySelectorAll('svg.bars text.axis')]
            .filter(t => t.getAttribute('text-anchor') === 'middle').map(t => t.getBoundingClientRect())
            .map(r => [r.left, r.right])""")
        assert all(a[1] <= b[0] for a, b in zip(labels, labels[1:])), labels  # no label over another
        order = page.evaluate("""() => { const h = [...document.querySelectorAll('main h2')];
            const y = (txt) => h.find(e => e.textContent.startsWith(txt)).getBoundingClientRect().top;
            return [y('Download'), y('Each twitch')]; }""")
        assert order[0] < order[1]
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.close()


def test_rates_read_as_people_say_them_and_the_api_keeps_the_figures(chromium, tmp_path):
    from firmware_host.store import open_store
    d = tmp_path / "data"
    st = open_store(d)
    ids = []
    for day, total, rest_s in (("2026-11-20", 1641, 36000.0), ("2026-11-21", 22, 3 * 3600.0)):
        nid = st.add_night(date=day, start_utc=f"{day}T22:00:00+00:00", source="t", rate_hz=1000.0, channels=4,
                           channel_names=["a", "b", "c", "d"])
        st.update_night(nid, total=total, per_channel=[total, 0, 0, 0], rest_s=rest_s, movements=1,
                        duration_s=36000.0, status="complete", end_utc=f"{day}T23:00:00+00:00")
        ids.append(nid)
    hi, lo = ids
    st.close()
    app = create_app({"DATA_DIR": str(d), "HOST": "127.0.0.1", "THEME": "day"})
    with B.served(app) as url:
        page = chromium.new_page(viewport=PHONE, color_scheme="light")
        page.goto(url + "/")
        text = page.inner_text("main")
        assert "164 per rest hour" in text and "164.1" not in text  # 1641 in 10 h
        assert "7.3 per rest hour" in text and "7.33" not in text  # 22 in 3 h
        page.goto(url + f"/nights/{hi}")
        assert "(164 per rest hour)" in page.inner_text("main")
        api = page.request.get(url + "/api/nights").json()
        assert {n["id"]: n["twitches_per_rest_hour"] for n in api["nights"]} == {hi: 164.1, lo: 7.33}
        page.close()


@pytest.mark.parametrize("theme", ["day", "night"])
def test_hardware_parts_table_shows_it_scrolls_and_the_schematic_opens_full_size(chromium, filled, tmp_path, theme):
    d, app = _site(filled, tmp_path, theme)
    with B.served(app) as url:
        page = chromium.new_page(viewport=PHONE, color_scheme=THEMES[theme])
        page.goto(url + "/hardware")
        t = page.evaluate("""() => { const t = document.querySelector('table.bom');
            return {scroll: t.scrollWidth, client: t.clientWidth, bg: getComputedStyle(t).backgroundImage}; }""")
        assert t["scroll"] > t["client"]  # wider than the phone ...
        assert t["bg"].count("gradient") >= 2  # ... and the edge shadows say so
        assert page.locator(".scroll-hint").is_visible() and "sideways" in page.inner_text(".scroll-hint")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        link = page.locator("figure.schematic a").first
        assert link.get_attribute("href") == page.locator("figure.schematic img").first.get_attribute("src")
        page.goto(url + link.get_attribute("href"))
        assert page.evaluate("document.documentElement.scrollWidth") > 2 * PHONE["width"]  # full size, to pan and zoom
        page.close()


PAGES = ["/", "/nights/{last}", "/tonight", "/trends", "/diary", "/hardware", "/settings", "/login", "/report"]

SCROLLERS = """() => [...document.querySelectorAll('main *')].filter(e => {
    const s = getComputedStyle(e); return /auto|scroll/.test(s.overflowX) && e.scrollWidth > e.clientWidth + 1; })
  .map(e => ({tag: e.tagName + '.' + e.className, cue: getComputedStyle(e).backgroundImage.includes('gradient')}))"""


@pytest.mark.parametrize("theme", ["day", "night"])
@pytest.mark.parametrize("size", [PHONE, {"width": 412, "height": 915}], ids=["390", "412"])
def test_no_page_has_text_under_11_px_or_overflows_a_phone_without_a_scroll_cue(chromium, filled, tmp_path, theme,
                                                                                  size):
    d, app = _site(filled, tmp_path, theme)
    with B.served(app) as url:
        page = chromium.new_page(viewport=size, color_scheme=THEMES[theme])
        for path in PAGES:
            page.goto(url + path.format(last=filled[1][-1]))
            smallest = page.evaluate(B.SMALLEST_TEXT)
            assert smallest[0][0] >= 11, (path, smallest)
            assert page.evaluate("document.documentElement.scrollWidth") <= size["width"], path
            assert all(s["cue"] for s in page.evaluate(SCROLLERS)), (path, page.evaluate(SCROLLERS))
        page.close()
