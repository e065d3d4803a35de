"""The doctor's report drawn as an A4 PDF with fpdf2 (pure Python).

:func:`render_pdf` takes :func:`firmware_host.report.gather`'s dict and
returns the PDF's bytes.  Page one: how often, where, spreading, cramps
(with the weekly chart and table); page two: the rest.  fpdf2's core font
(Helvetica) keeps the file small and needs no font files; it is Latin-1,
so text passes through :func:`_t`.
"""
from __future__ import annotations

from fpdf import FPDF, FontFace
from fpdf.enums import XPos, YPos

from .events import how_many

PAGE_W = 210.0  #: A4, mm
MARGIN = 14.0  #: mm
TEXT_W = PAGE_W - 2 * MARGIN
#: site line colours (RGB): the same order on every chart
COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (140, 86, 75),
           (227, 119, 194), (127, 127, 127)]
NOT_A_DEVICE = ("twitchmon is not a medical device and does not diagnose. It counts what piezo sensors on the legs "
                "pick up at rest in bed; these figures are a record to discuss, not a finding.")


def _t(text) -> str:
    """Text for the core font: Latin-1, with the few other characters we use spelled out."""
    s = str(text).replace("\u2013", "-").replace("\u2014", "-").replace("\u2192", "->").replace("\u2264", "<=")
    return s.encode("latin-1", "replace").decode("latin-1")


def _num(v, digits: int = 1, none: str = "-") -> str:
    return none if v is None else f"{v:.{digits}f}"


class _Pdf(FPDF):
    def __init__(self, data: dict):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.data = data
        self.set_margins(MARGIN, 12, MARGIN)
        self.set_auto_page_break(True, margin=14)
        self.set_title(_t(f"twitchmon report {data['from']} to {data['to']}"))
        self.set_creator("twitchmon")

    def footer(self):
        self.set_y(-11)
        self.set_font("Helvetica", "", 7)
        self.set_text_color(90)
        self.cell(0, 4, _t(f"twitchmon report {self.data['from']} to {self.data['to']} - page {self.page_no()}"
                           f" of {{nb}} - not a medical device"), align="C")
        self.set_text_color(0)

    def h1(self, text):
        self.set_font("Helvetica", "B", 15)
        self.cell(0, 8, _t(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def h2(self, text):
        self.ln(1.5)
        self.set_font("Helvetica", "B", 10.5)
        self.cell(0, 5.5, _t(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("Helvetica", "", 8.5)

    def para(self, text, size=8.5, style=""):
        self.set_font("Helvetica", style, size)
        self.multi_cell(0, size * 0.45, _t(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("Helvetica", "", 8.5)

    def grid(self, rows: list[list[str]], widths, size=8.0, align="RIGHT"):
        self.set_font("Helvetica", "", size)
        self.set_fill_color(255)
        with self.table(headings_style=FontFace(emphasis="BOLD", fill_color=(225, 225, 225)), col_widths=widths, width=sum(widths), align="LEFT", line_height=size * 0.5,
                        text_align=("LEFT",) + (align,) * (len(widths) - 1), padding=(0.4, 1.0),
                        first_row_as_headings=True) as table:
            for r in rows:
                row = table.row()
                for v in r:
                    row.cell(_t(v))
        self.set_font("Helvetica", "", 8.5)


def _chart(pdf: _Pdf, series: list[tuple[str, list]], labels: list[str], *, h: float, unit: str) -> None:
    """Lines over weeks (None: no point), a y axis from 0 and a legend."""
    x0, y0, w = pdf.l_margin + 10, pdf.get_y() + 2, TEXT_W - 12
    vals = [v for _, s in series for v in s if v is not None]
    top = max(vals, default=0) or 1.0
    n = max(1, len(labels))
    xs = [x0 + (w * (i + 0.5) / n) for i in range(n)]
    y = lambda v: y0 + h - h * v / top  # noqa: E731
    pdf.set_draw_color(150)
    pdf.set_line_width(0.2)
    pdf.line(x0, y0 + h, x0 + w, y0 + h)
    pdf.line(x0, y0, x0, y0 + h)
    pdf.set_font("Helvetica", "", 6.5)
    pdf.set_xy(pdf.l_margin, y0 - 1.5)
    pdf.cell(9, 3, _t(_num(top)), align="R")
    pdf.set_xy(pdf.l_margin, y0 + h - 1.5)
    pdf.cell(9, 3, "0", align="R")
    for i, lb in enumerate(labels):
        pdf.set_xy(xs[i] - 10, y0 + h + 0.5)
        pdf.cell(20, 3, _t(lb), align="C")
    pdf.set_line_width(0.5)
    for k, (_, s) in enumerate(series):
        pdf.set_draw_color(*COLOURS[k % len(COLOURS)])
        pdf.set_fill_color(*COLOURS[k % len(COLOURS)])
        pts = [(xs[i], y(v)) for i, v in enumerate(s) if v is not None]
        for p, q in zip(pts, pts[1:]):
            pdf.line(p[0], p[1], q[0], q[1])
        for p in pts:
            pdf.circle(x=p[0], y=p[1], radius=0.6, style="F")
    # legend
    pdf.set_xy(x0, y0 + h + 4)
    for k, (name, _) in enumerate(series):
        pdf.set_fill_color(*COLOURS[k % len(COLOURS)])
        pdf.rect(pdf.get_x(), pdf.get_y() + 0.8, 3, 1.6, style="F")
        pdf.set_x(pdf.get_x() + 4)
        pdf.cell(pdf.get_string_width(_t(name)) + 4, 3.5, _t(name))
    pdf.cell(0, 3.5, _t(f"({unit})"))
    pdf.set_draw_color(0)
    pdf.set_fill_color(255)
    pdf.set_line_width(0.2)
    pdf.set_y(y0 + h + 9)


def _waves(pdf: _Pdf, data: dict) -> None:
    sites = {s["channel"]: s["site"] for s in data["sites"]}
    rows = [w for w in data["waveforms"] if w["waves"]]
    if not rows:
        pdf.para("No raw recording of these nights is left on the device (raw files are kept for a set number "
                 "of days), so there are no waveforms to show.")
        return
    cell_w, cell_h = 38.0, 12.0
    pdf.set_font("Helvetica", "", 7)
    for r in rows:
        if pdf.get_y() + cell_h + 2 > pdf.h - 16:
            pdf.add_page()
        y0 = pdf.get_y()
        pdf.set_xy(pdf.l_margin, y0 + cell_h / 2 - 1.5)
        pdf.cell(28, 3, _t(sites.get(r["channel"], f"channel {r['channel']}")))
        for k, wv in enumerate(r["waves"]):
            x0 = pdf.l_margin + 30 + k * (cell_w + 4)
            ys = wv["y"]
            m = max((abs(v) for v in ys), default=1.0) or 1.0
            pdf.set_draw_color(200)
            pdf.line(x0, y0 + cell_h / 2, x0 + cell_w, y0 + cell_h / 2)
            xo = x0 + cell_w * wv["before_s"] / (wv["before_s"] + wv["after_s"])
            pdf.line(xo, y0, xo, y0 + cell_h)
            pdf.set_draw_color(20)
            pts = [(x0 + cell_w * i / max(1, len(ys) - 1), y0 + cell_h / 2 - (cell_h / 2 - 0.5) * v / m)
                   for i, v in enumerate(ys)]
            pdf.polyline(pts)
            pdf.set_xy(x0, y0 + cell_h)
            pdf.cell(cell_w, 2.8, _t(f"{wv['date']}, +/-{m:.0f} codes"), align="C")
        pdf.set_y(y0 + cell_h + 3.5)
    pdf.set_draw_color(0)
    pdf.para("Each trace: one second around a typical twitch (peak nearest the site's median), band-passed "
             "3-35 Hz as the detector sees it; the grey line is the onset.", size=7)


def _lowest(d: dict) -> str:
    low = d["heart"]["lowest_10min_bpm"]
    if low is None:
        return ", no 10-minute stretch with a clear heartbeat for a resting rate"
    return f", lowest 10-minute median {_num(low, 0)} bpm"


def _n(k: int, word: str) -> str:
    return f"{k} {word}{'' if k == 1 else 's'}"


def _count(n: int, word: str) -> str:
    """"1 day", "2 days"."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def render_pdf(data: dict) -> bytes:
    """The report as PDF bytes (A4)."""
    pdf = _Pdf(data)
    pdf.alias_nb_pages()
    pdf.add_page()
    d = data
    pdf.h1("Leg twitching: a report for your doctor")
    pdf.para(f"Nights of {d['from']} to {d['to']} ({_count(d['days'], 'day')}): {_count(d['nights'], 'night')} recorded, "
             f"{_num(d['rest_h'])} hours at rest in bed. Made by twitchmon on {d['generated']}.", size=9)
    pdf.para(NOT_A_DEVICE, size=7.5, style="I")
    _page_one(pdf, d)
    _weeks(pdf, d)
    pdf.add_page()
    _cramp_detail(pdf, d)
    _plm_heart_diary(pdf, d)
    pdf.h2("Typical twitches at each site")
    _waves(pdf, d)
    _how_sure(pdf, d)
    return bytes(pdf.output())


def _page_one(pdf, d: dict) -> None:
    """Page one: the answers (how often, where, spreading, cramps)."""
    pdf.h2("How often")
    pdf.para(f"{how_many(d['total'], 'twitch', 'twitches')} in {_num(d['rest_h'])} rest hours: {_num(d['rate'])} twitches per rest hour "
             f"over all sites.")
    pdf.h2("Where (twitches per rest hour at each site)")
    rows = [["Site", "Twitches", "Per rest hour", "First week", "Last week"]]
    rows += [[s["site"], str(s["twitches"]), _num(s["rate"]), _num(s["first_week"]), _num(s["last_week"])]
             for s in d["sites"]]
    pdf.grid(rows, (48, 22, 26, 24, 24))
    pdf.h2("Spreading")
    if d["new_site_flags"]:
        for f in d["new_site_flags"]:
            pdf.para(f"New site flagged on {f['date']}: {f['site']}, about {_num(f['recent_rate'])} per rest hour "
                     f"on recent nights where the nights before had {_num(f['before_rate'])}.")
    else:
        pdf.para("No site was flagged as newly twitching in this period (the flag: a site quiet, at most 0.5 per "
                 "rest hour, over 5+ nights that then twitches 2+ per rest hour on 3 of the last 7 nights).")
    pdf.h2("Cramps")
    cr = d["cramps"]
    if cr["count"]:
        legs = ", ".join(f"{lg} {k}" for lg, k in cr["by_leg"].items() if k)
        sev = f"; how bad, on average {_num(cr['severity_mean'])}/10" if cr["severity_mean"] is not None else ""
        pdf.para(f"{_n(cr['count'], 'cramp')} logged on {cr['nights_with']} of the {d['nights']} nights "
                 f"({legs}){sev}.")
    else:
        pdf.para("No cramps logged in this period.")
    pdf.para(f"Periodic limb movements: PLM index {_num(d['plm']['index'])} per rest hour "
             f"({d['plm']['count']} PLMs). Heart rate: "
             + (f"median {_num(d['heart']['median_bpm'], 0)} bpm{_lowest(d)} ({d['heart']['nights']} nights)."
                if d["heart"]["median_bpm"] is not None else "not measured (the sensors did not show it clearly)."))


def _weeks(pdf, d: dict) -> None:
    """Page one's foot: the rates by week, as a chart and a table."""
    pdf.h2("Twitches per rest hour at each site, by week")
    labels = [w["from"][5:] for w in d["weeks"]]
    _chart(pdf, [(s["site"], [w["rates"][s["channel"]] for w in d["weeks"]]) for s in d["sites"]], labels,
           h=34, unit="twitches per rest hour; weeks by first day")
    rows = [["Week from"] + [s["site"] for s in d["sites"]] + ["Nights", "Rest h", "Cramps"]]
    rows += [[w["from"]] + [_num(r) for r in w["rates"]] + [str(w["nights"]), _num(w["rest_h"]), str(w["cramps"])]
             for w in d["weeks"]]
    site_w = min(24.0, (TEXT_W - 24 - 3 * 15) / max(1, len(d["sites"])))
    pdf.grid(rows, (24,) + (site_w,) * len(d["sites"]) + (15, 15, 15), size=7.5)


def _cramp_detail(pdf, d: dict) -> None:
    """Page two: each cramp (the diary's several in a line), with the 30 minutes before it."""
    pdf.h2("Cramps in detail")
    cr = d["cramps"]
    timed = [c for c in cr["list"] if c["before"] is not None]
    if not cr["list"]:
        pdf.para("None logged (the bedside button, the Tonight page and the morning diary all log them).")
        return
    rows = [["Night of", "Time", "Leg", "How bad", "Logged by", "30 min before", "Whole night"]]
    grouped: list[list] = []  # the diary's "3 cramps" is one line, not three
    for c in cr["list"]:
        b = c["before"]
        row = [c["date"], c["time"] or "-", c["leg"] or "not said",
               "-" if c["severity"] is None else f"{c['severity']}/10", c["source"],
               _num(b["rate_before"]) if b else "-", _num(b["rate_night"]) if b else "-"]
        if grouped and c["time"] is None and grouped[-1][0] == row:
            grouped[-1][1] += 1
        else:
            grouped.append([row, 1])
    for row, k in grouped[:14]:
        rows.append(row[:4] + [row[4] if k == 1 else f"{row[4]} ({k})"] + row[5:])
    pdf.grid(rows, (22, 14, 18, 16, 20, 26, 24), size=7.5)
    more = f" ({len(grouped) - 14} more lines not listed)" if len(grouped) > 14 else ""
    pdf.para(f"Twitches per rest hour on the cramping leg's sites, in the 30 minutes before each timed cramp "
             f"({len(timed)}) and over the whole night; a leg not said is every site{more}.", size=7)


def _plm_heart_diary(pdf, d: dict) -> None:
    """Page two: periodic limb movements, heart rate, the diary's factors."""
    pdf.h2("Periodic limb movements")
    pdf.para(f"PLM index {_num(d['plm']['index'])} per hour at rest in bed, {d['plm']['count']} PLMs, scored by the "
             "WASM 2016 rules (Ferri et al., Sleep Medicine 2016): leg movements of 0.5-10 s (bilateral up to 15 s), "
             "4 or more in a row 10-90 s apart. twitchmon has no sleep staging and no breathing channel, so this is "
             "per hour of rest in bed, not a sleep laboratory's PLMS index.", size=7.5)
    pdf.h2("Heart rate")
    if d["heart"]["median_bpm"] is not None:
        pdf.para(f"Median of the nightly medians {_num(d['heart']['median_bpm'], 0)} bpm{_lowest(d)}; on "
                 f"{d['heart']['nights']} of {d['nights']} nights (only where the sensors showed the heartbeat "
                 "clearly).", size=7.5)
    else:
        pdf.para("Not measured: the sensors did not show the heartbeat clearly on any night.", size=7.5)
    pdf.h2("Diary: twitches per rest hour on nights with and without")
    if d["diary"]:
        rows = [["Factor", "Nights with", "Rate with", "Nights without", "Rate without"]]
        rows += [[f["label"], str(f["with"]["nights"]), _num(f["with"]["rate"]), str(f["without"]["nights"]),
                  _num(f["without"]["rate"])] for f in d["diary"]]
        pdf.grid(rows, (62, 22, 22, 26, 24), size=7.5)
        pdf.para("A handful of nights behind a figure means little.", size=7)
    else:
        pdf.para("Nothing ticked in the diary for these nights.", size=7.5)


def _how_sure(pdf, d: dict) -> None:
    """Page two's foot: how sure the count is, and how it was measured."""
    pdf.h2("How sure the count is")
    q = d["quality"]
    sens = ", ".join(f"{s:g}" for s in q["sensitivity"]) or "not recorded"
    text = (f"Detector sensitivity {sens} (1-10). At rest {_num(100 * q['rest_share'], 0)}% of the time in bed; "
            f"sensors faulty for {_num(q['fault_h'])} h; {q['recovered_nights']} night(s) ended by a power cut "
            "and finished from what was stored. ")
    if q["check"]:
        ch = q["check"]
        parts = [f"{s['site']} {ch['found'][s['channel']]}/{ch['injected'][s['channel']]}" for s in d["sites"]]
        text += (f"Self-check (known twitches added to a copy of {ch['nights']} night(s)' own signal): found "
                 + ", ".join(parts) + ".")
    else:
        text += "No self-check was run on these nights (twitchmon replay --check)."
    pdf.para(text, size=7.5)
    pdf.h2("How it was measured; what twitchmon is and is not")
    sites = "; ".join(f"{s['site']}: {s['placement']}" for s in d["measured"]["sites"] if s["placement"])
    rates = ", ".join(f"{r:g}" for r in d["measured"]["rate_hz"])
    pdf.para(f"Piezo sensors strapped to the legs ({sites}), read {rates} times a second by a Raspberry Pi through "
             "an MCP3008 ADC. A twitch counts only at rest: not during a movement or the seconds after it; the "
             "heartbeat, breathing and mains hum are removed. " + NOT_A_DEVICE, size=7)
