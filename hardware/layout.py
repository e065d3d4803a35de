"""Where each part sits on a 2.54 mm perfboard, and the wires between them.

Positions are in holes (column, row) on a 100 x 160 mm board seen from the
component side; every pad takes its net from ``firmware_host/board.py``, and
each net is drawn as the shortest tree of straight wires joining its pads
(a builder lays them on the back as bare or insulated wire).  ``build.py``
writes ``layout.svg`` from :func:`svg`; ``tests/test_hardware.py`` checks
that every part is placed, no two pads share a hole and every pad is on the
board.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from firmware_host import board, pins  # noqa: E402

COLS, ROWS = 63, 39  # 160 x 100 mm at 2.54 mm
PITCH_PX = 22
#: Lead spacing of each kind of two-lead part, in holes.
SPAN = {"R": 4, "C": 2, "D": 4, "LED": 1}

#: Channel parts: role -> (column, row offset in the channel's band, orientation)
CHANNEL_PLACE = {
    "J": (0, 0), "RP": (3, 0), "DH": (9, 0), "DL": (15, 0), "CIN": (21, 0), "RB": (25, 0),
    "RF": (31, 0), "CF": (37, 0), "RG": (41, 0), "CG": (47, 0),
    "RBT": (3, 2), "RBB": (9, 2), "CB": (15, 2), "RA1": (19, 2), "CA1": (25, 2), "RA2": (29, 2), "CA2": (35, 2),
}
BAND_ROW0, BAND_STEP = 17, 5
#: Shared two-lead parts: role -> (column, row)
SHARED_PLACE = {
    "RREF": (50, 4), "CREF": (50, 6), "CDREF": (50, 8), "CDADC": (50, 10), "CDOP": (34, 8), "CBULK": (24, 4),
    "RLED": (3, 5), "LED": (9, 5), "RPU": (3, 8), "RSW": (3, 10), "CSW": (9, 10),
}
#: Multi-pin parts: ref -> {pin: (column, row)}
J1_COL0 = 2
U2_AT, U1_AT = (28, 6), (43, 6)


def _dip(at: tuple[int, int], n: int) -> dict[str, tuple[int, int]]:
    """DIP-n pads seen from the component side: pin 1 top left, down, then up the right row."""
    x, y = at
    half = n // 2
    out = {str(p): (x, y + p - 1) for p in range(1, half + 1)}
    out.update({str(p): (x + 3, y + (n - p)) for p in range(half + 1, n + 1)})
    return out


def pads() -> dict[str, dict[str, tuple[tuple[int, int], str]]]:
    """ref -> {pin: ((column, row), net)} for every part on the board."""
    nets = board.ic_pin_nets()
    out: dict[str, dict[str, tuple[tuple[int, int], str]]] = {}
    j1 = {}
    for p in range(1, 41):  # odd pins in row 1, even in row 0, pin 1 at the left
        j1[str(p)] = ((J1_COL0 + (p - 1) // 2, 1 if p % 2 else 0), nets["J1"][str(p)])
    out["J1"] = j1
    out["U2"] = {k: (xy, nets["U2"][k]) for k, xy in _dip(U2_AT, 14).items()}
    out["U1"] = {k: (xy, nets["U1"][k]) for k, xy in _dip(U1_AT, 16).items()}
    out["U3"] = {"K": ((56, 4), "VREF"), "A": ((57, 4), "GND"), "nc": ((58, 4), "NC")}
    out["SW1"] = {k: (xy, nets["SW1"][k]) for k, xy in
                  {"1": (14, 9), "2": (14, 11), "3": (17, 9), "4": (17, 11)}.items()}
    for p in board.CHANNEL_PARTS:
        if p.kind == "PZ":
            continue  # off the board, at the end of its cable
        col, drow = CHANNEL_PLACE[p.role]
        for n in range(len(pins.SITES)):
            row = BAND_ROW0 + BAND_STEP * n + drow
            nets_n = p.nets(n)
            if p.kind == "J":
                out[p.refs[n]] = {nm: ((col, row + i), net) for i, (nm, net) in enumerate(zip(p.pin_names, nets_n))}
            else:
                span = SPAN[p.kind]
                out[p.refs[n]] = {"1": ((col, row), nets_n[0]), "2": ((col + span, row), nets_n[1])}
    for p in board.SHARED_PARTS:
        if p.role in SHARED_PLACE:
            col, row = SHARED_PLACE[p.role]
            span = SPAN[p.kind]
            out[p.ref()] = {"1": ((col, row), p.nets()[0]), "2": ((col + span, row), p.nets()[1])}
    return out


def wires() -> list[tuple[str, tuple[int, int], tuple[int, int]]]:
    """(net, from hole, to hole): for each net the shortest tree joining its pads (Prim, Manhattan)."""
    by_net: dict[str, list[tuple[int, int]]] = {}
    for part in pads().values():
        for xy, net in part.values():
            if net != "NC":
                by_net.setdefault(net, [])
                if xy not in by_net[net]:
                    by_net[net].append(xy)
    out = []
    for net in sorted(by_net):
        pts = by_net[net]
        done, todo = [pts[0]], pts[1:]
        while todo:
            a, b = min(((a, b) for a in done for b in todo),
                       key=lambda ab: (abs(ab[0][0] - ab[1][0]) + abs(ab[0][1] - ab[1][1]), ab))
            out.append((net, a, b))
            done.append(b)
            todo.remove(b)
    return out


def _colour(net: str) -> str:
    return {"GND": "#222222", "3V3": "#d62728", "VREF": "#ff7f0e"}.get(net, "#1f77b4")


def svg() -> str:
    """The perfboard drawing, deterministic SVG."""
    P = PITCH_PX
    m = 2 * P  # margin for labels

    def xy(h):
        return m + h[0] * P, m + h[1] * P

    w, h = 2 * m + (COLS - 1) * P, 2 * m + (ROWS - 1) * P + 4 * P
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
         'font-family="sans-serif">',
         f'<rect x="0" y="0" width="{w}" height="{h}" fill="white"/>',
         f'<rect x="{m - P // 2}" y="{m - P // 2}" width="{(COLS - 1) * P + P}" height="{(ROWS - 1) * P + P}" '
         'fill="#f3ecd6" stroke="#8a7f5a"/>']
    for c in range(COLS):
        for r in range(ROWS):
            x, y = xy((c, r))
            o.append(f'<circle cx="{x}" cy="{y}" r="2" fill="#c9bb8e"/>')
    pd = pads()
    # part bodies and labels
    parts_by_ref = {r: p for p in board.PARTS for r in p.refs}
    for ref, pp in sorted(pd.items()):
        hs = [v[0] for v in pp.values()]
        x0, y0 = xy((min(a for a, _ in hs), min(b for _, b in hs)))
        x1, y1 = xy((max(a for a, _ in hs), max(b for _, b in hs)))
        o.append(f'<rect x="{x0 - 7}" y="{y0 - 7}" width="{x1 - x0 + 14}" height="{y1 - y0 + 14}" rx="4" '
                 'fill="#ffffff" fill-opacity="0.55" stroke="#555" stroke-width="1"/>')
        part = parts_by_ref.get(ref)
        text = ref if part is None or part.kind in ("U", "J", "SW") else f"{ref} {part.text}"
        if ref in ("U1", "U2"):
            text = f"{ref} {parts_by_ref[ref].text}"
        o.append(f'<text x="{(x0 + x1) / 2}" y="{y0 - 9}" font-size="10" text-anchor="middle">{text}</text>')
    for net, a, b in wires():
        (xa, ya), (xb, yb) = xy(a), xy(b)
        o.append(f'<line x1="{xa}" y1="{ya}" x2="{xb}" y2="{yb}" stroke="{_colour(net)}" stroke-width="2" '
                 'stroke-opacity="0.8"/>')
    for ref, pp in sorted(pd.items()):
        for pin, (hole, net) in sorted(pp.items()):
            x, y = xy(hole)
            o.append(f'<circle cx="{x}" cy="{y}" r="5" fill="{_colour(net) if net != "NC" else "#999"}"/>')
            if ref in ("U1", "U2", "J1", "U3", "SW1") or ref.startswith("J"):
                o.append(f'<text x="{x}" y="{y + 3}" font-size="7" fill="white" text-anchor="middle">{pin}</text>')
    for n, s in enumerate(pins.SITES):
        x, y = xy((0, BAND_ROW0 + BAND_STEP * n))
        o.append(f'<text x="{x - 9}" y="{y + 12}" font-size="10" text-anchor="end" '
                 f'transform="rotate(-90 {x - 9} {y + 12})">ch{n}</text>')
    ly = m + (ROWS - 1) * P + 1.6 * P
    legend = ("Component side, 2.54 mm holes. Numbers in pads: pin numbers. J1 takes a ribbon to the Pi's header.",
              "Lines: insulated wires on the back joining those holes (not their route): black GND, red 3V3, "
              "orange VREF, blue signal.",
              "Channel bands ch0-ch3 top to bottom; the discs plug into J2-J5 on the left edge. "
              "Generated by hardware/build.py from firmware_host/board.py.")
    for i, line in enumerate(legend):
        o.append(f'<text x="{m}" y="{ly + 18 * i}" font-size="13">{line}</text>')
    o.append("</svg>")
    return "\n".join(o) + "\n"
