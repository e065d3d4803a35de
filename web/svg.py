"""Small charts drawn on the server as inline SVG: no script, no CDN, and
they print.  Colours come from the stylesheet (classes), so the dark and
light themes both work and the CSP needs no inline styles."""
from __future__ import annotations

from markupsafe import Markup, escape

from firmware_host.events import how_many


def _f(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def bars(values: list[float], labels: list[str], *, title: str, width: int = 600, height: int = 160,
         unit: str = "") -> Markup:
    """A bar chart (e.g. twitches per hour) with a label under each bar."""
    n = max(1, len(values))
    top = max(values, default=0) or 1
    pad_l, pad_b, pad_t = 34, 22, 8
    w = (width - pad_l) / n
    h = height - pad_b - pad_t
    parts = [f'<svg class="chart bars" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>",
             f'<text class="axis" x="2" y="{pad_t + 10}">{_f(top)}</text>',
             f'<text class="axis" x="2" y="{pad_t + h}">0</text>',
             f'<line class="base" x1="{pad_l}" x2="{width}" y1="{pad_t + h}" y2="{pad_t + h}"/>']
    # every label that fits side by side at the axis font (~0.6 em a character, 12 units a font)
    label_w = 0.6 * 12 * max((len(lb) for lb in labels), default=1) + 6
    step = max(1, int(-(-n * label_w // (width - pad_l))))
    for i, v in enumerate(values):
        bh = h * v / top
        x = pad_l + i * w
        parts.append(f'<rect class="bar" x="{_f(x + 1)}" y="{_f(pad_t + h - bh)}" width="{_f(max(1, w - 2))}" '
                     f'height="{_f(bh)}"><title>{escape(labels[i])}: {_f(v)}{escape(unit)}</title></rect>')
        if i % step == 0:
            parts.append(f'<text class="axis" x="{_f(x + w / 2)}" y="{height - 6}" text-anchor="middle">'
                         f"{escape(labels[i])}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def timeline(duration_s: float, movements: list[dict], twitches: list[dict], faults: list[tuple[float, float]],
             *, width: int = 600, height: int = 56, start_label: str = "", end_label: str = "",
             cramps: list[dict] = ()) -> Markup:
    """The night left to right: rest (the band), movements (blocks over it),
    sensor faults (hatched), each twitch (a tick) and each timed cramp (a
    triangle above the band)."""
    d = max(duration_s, 1.0)
    x = lambda t: 4 + (width - 8) * min(max(t, 0.0), d) / d  # noqa: E731
    label = ["rest", how_many(len(movements), "movement", "movements"), how_many(len(twitches), "twitch", "twitches"),
             *([how_many(len(cramps), "cramp", "cramps")] if cramps else [])]
    parts = [f'<svg class="chart timeline" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="Timeline: {", ".join(label)}">',
             "<title>Rest, movements and twitches through the night</title>",
             f'<rect class="rest" x="4" y="14" width="{width - 8}" height="18"/>']
    for a, b in faults:
        parts.append(f'<rect class="fault" x="{_f(x(a))}" y="14" width="{_f(max(1, x(b) - x(a)))}" height="18">'
                     "<title>sensor fault</title></rect>")
    for m in movements:
        parts.append(f'<rect class="movement" x="{_f(x(m["t"]))}" y="10" '
                     f'width="{_f(max(1.5, x(m["end"]) - x(m["t"])))}" height="26"><title>movement '
                     f'{_f(m["end"] - m["t"])} s</title></rect>')
    for tw in twitches:
        parts.append(f'<line class="twitch" x1="{_f(x(tw["t"]))}" x2="{_f(x(tw["t"]))}" y1="36" y2="44"/>')
    for c in cramps:
        cx = x(c["t"])
        parts.append(f'<path class="cramp" d="M{_f(cx - 5)},1 L{_f(cx + 5)},1 L{_f(cx)},10 Z"><title>cramp '
                     f'{escape(c.get("time") or "")} {escape(c.get("leg") or "")}</title></path>')
    parts.append(f'<text class="axis" x="4" y="{height - 2}">{escape(start_label)}</text>')
    parts.append(f'<text class="axis" x="{width - 4}" y="{height - 2}" text-anchor="end">{escape(end_label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def waveform(y, rate_hz: float, onset_s: float, *, title: str, width: int = 240, height: int = 90) -> Markup:
    """A twitch's snippet (codes, band-passed) with its onset marked."""
    y = [float(v) for v in y]
    if not y:
        return Markup("")
    m = max(abs(v) for v in y) or 1.0
    n = len(y)
    step = max(1, n // width)
    pts = " ".join(f"{_f(i * width / n)},{_f(height / 2 - (height / 2 - 4) * y[i] / m)}" for i in range(0, n, step))
    xo = onset_s * rate_hz * width / n
    return Markup(f'<svg class="chart wave" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
                  f"<title>{escape(title)}</title>"
                  f'<line class="zero" x1="0" x2="{width}" y1="{height / 2}" y2="{height / 2}"/>'
                  f'<line class="onset" x1="{_f(xo)}" x2="{_f(xo)}" y1="0" y2="{height}"/>'
                  f'<polyline class="trace" points="{pts}"/>'
                  f'<text class="axis" x="2" y="11">±{_f(m)} codes</text></svg>')


def sparkline(values: list[float | None], *, title: str, width: int = 240, height: int = 36) -> Markup:
    """Values left (oldest) to right (newest); None is a gap."""
    vals = [v for v in values if v is not None]
    if not vals:
        return Markup("")
    top = max(vals) or 1.0
    n = len(values)
    x = lambda i: 2 + (width - 4) * (i / max(1, n - 1))  # noqa: E731
    y = lambda v: height - 3 - (height - 6) * v / top  # noqa: E731
    segs, cur = [], []
    for i, v in enumerate(values):
        if v is None:
            if cur:
                segs.append(cur)
            cur = []
        else:
            cur.append(f"{_f(x(i))},{_f(y(v))}")
    if cur:
        segs.append(cur)
    lines = "".join(f'<polyline class="trace" points="{" ".join(s)}"/>' for s in segs)
    dots = "".join(f'<circle class="dot" cx="{_f(x(i))}" cy="{_f(y(v))}" r="1.8"/>'
                   for i, v in enumerate(values) if v is not None)
    return Markup(f'<svg class="chart spark" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
                  f"<title>{escape(title)}</title>{lines}{dots}</svg>")


def lines(series: list[tuple[str, list[float | None]]], labels: list[str], *, title: str, width: int = 600,
          height: int = 200) -> Markup:
    """Several series over the same x (nights), one class each (s0, s1...)."""
    vals = [v for _, s in series for v in s if v is not None]
    n = len(labels)
    if not vals or not n:
        return Markup("")
    top = max(vals) or 1.0
    pad_l, pad_b, pad_t = 34, 22, 8
    label_w = 0.6 * 12 * max((len(lb) for lb in labels), default=1) + 6  # at the axis font, 12 units
    pad_r = label_w / 2  # the last date's label stays inside the drawing
    x = lambda i: pad_l + (width - pad_l - pad_r) * (i / max(1, n - 1))  # noqa: E731
    y = lambda v: pad_t + (height - pad_b - pad_t) * (1 - v / top)  # noqa: E731
    parts = [f'<svg class="chart lines" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>",
             f'<text class="axis" x="2" y="{pad_t + 10}">{_f(top)}</text>',
             f'<text class="axis" x="2" y="{height - pad_b}">0</text>',
             f'<line class="base" x1="{pad_l}" x2="{width}" y1="{height - pad_b}" y2="{height - pad_b}"/>']
    for k, (name, s) in enumerate(series):
        pts = [f"{_f(x(i))},{_f(y(v))}" for i, v in enumerate(s) if v is not None]
        parts.append(f'<polyline class="trace s{k % 8}" points="{" ".join(pts)}"><title>{escape(name)}</title></polyline>')
    step = max(1, int(-(-n * label_w // (width - pad_l - pad_r + label_w))))
    for i in range(0, n, step):
        parts.append(f'<text class="axis" x="{_f(x(i))}" y="{height - 6}" text-anchor="middle">{escape(labels[i])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
