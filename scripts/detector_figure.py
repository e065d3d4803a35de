"""Draw docs/detector.svg: a twitch, heartbeats and a leg movement on one
channel, each marked as the detector saw it.

    python scripts/detector_figure.py [OUT.svg]

The night is simulated (seed 38, normal profile, 3 min), the detector runs
over all of it exactly as `twitchmon replay` does, and the figure shows
13 s of the left calf: the signal band-passed 3-35 Hz (zero-phase, for
display), the beats the detector found and subtracted, the twitch it counted
and the movement it set aside (with the settling time after it, when nothing
counts).  Deterministic: the same SVG every run.
"""
from __future__ import annotations

import sys
from html import escape
from pathlib import Path

import numpy as np
from scipy import signal as sps

from firmware_host.detector import run_detector
from firmware_host.simulator import Night

SEED, MINUTES, CH = 38, 3, 0
T0, T1 = 31.0, 44.0  # seconds shown
W, H, ML, MR, MT, MB = 960, 300, 56, 16, 34, 46


def main(out: str = "docs/detector.svg") -> None:
    night = Night(MINUTES, seed=SEED, profile="normal")
    ev, det = run_detector(night.blocks(50_000), night.rate_hz, night.channels)
    fs = night.rate_hz
    raw = night.render(int(T0 * fs) - 2000, int((T1 - T0) * fs) + 4000)[:, CH].astype(float)
    sos = sps.butter(2, [3, 35], "bandpass", fs=fs, output="sos")
    y = sps.sosfiltfilt(sos, raw)[2000:-2000]
    t = T0 + np.arange(len(y)) / fs
    span = float(np.percentile(np.abs(y), 99.5)) * 1.15

    def X(tt):
        return ML + (tt - T0) / (T1 - T0) * (W - ML - MR)

    def Y(v):
        return MT + (1 - (v + span) / (2 * span)) * (H - MT - MB)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
             f'role="img" aria-labelledby="title desc" font-family="sans-serif" font-size="12">',
             '<title id="title">What the twitch detector saw on the left calf</title>',
             '<desc id="desc">13 seconds of a simulated night: heartbeats found and subtracted, one twitch '
             'counted, and a leg movement with its settling time, during which nothing counts.</desc>',
             f'<rect width="{W}" height="{H}" fill="#fff"/>']
    # movement and settling time
    for m in ev.movements:
        if m.end > T0 and m.t < T1 and CH in m.channels:
            a, b = max(m.t - det.cfg.pre_movement_s, T0), min(m.end, T1)
            c = min(m.end + det.cfg.settle_s, T1)
            parts.append(f'<rect x="{X(a):.1f}" y="{MT}" width="{X(b) - X(a):.1f}" height="{H - MT - MB}" '
                         'fill="#f4c27a" opacity="0.45"/>')
            parts.append(f'<rect x="{X(b):.1f}" y="{MT}" width="{X(c) - X(b):.1f}" height="{H - MT - MB}" '
                         'fill="#f4c27a" opacity="0.2"/>')
            parts.append(f'<text x="{X(a) + 4:.1f}" y="{MT + 14}" fill="#8a5300">movement: not at rest, '
                         'nothing counts (shaded on to the end of settling)</text>')
    # axes
    parts.append(f'<line x1="{ML}" y1="{Y(0):.1f}" x2="{W - MR}" y2="{Y(0):.1f}" stroke="#ccc"/>')
    for s in range(int(np.ceil(T0)), int(T1) + 1):
        parts.append(f'<line x1="{X(s):.1f}" y1="{H - MB}" x2="{X(s):.1f}" y2="{H - MB + 5}" stroke="#555"/>')
        if s % 2 == 0:
            parts.append(f'<text x="{X(s):.1f}" y="{H - MB + 18}" text-anchor="middle" fill="#333">{s}</text>')
    parts.append(f'<text x="{(ML + W - MR) / 2:.0f}" y="{H - 8}" text-anchor="middle" fill="#333">'
                 'seconds into the night</text>')
    parts.append(f'<text x="14" y="{(MT + H - MB) / 2:.0f}" transform="rotate(-90 14 {(MT + H - MB) / 2:.0f})" '
                 'text-anchor="middle" fill="#333">ADC codes, 3-35 Hz</text>')
    for v in (-span / 1.15, span / 1.15):
        v = float(np.round(v))
        parts.append(f'<text x="{ML - 6}" y="{Y(v) + 4:.1f}" text-anchor="end" fill="#333">{v:+.0f}</text>')
    # the signal: min/max per pixel column keeps every peak
    cols = W - ML - MR
    idx = np.linspace(0, len(y), cols + 1).astype(int)
    pts = []
    for i in range(cols):
        seg = y[idx[i]:idx[i + 1]]
        if len(seg):
            pts += [(ML + i, Y(seg.max())), (ML + i, Y(seg.min()))]
    parts.append('<polyline fill="none" stroke="#1f3b5a" stroke-width="0.8" points="'
                 + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"/>')
    # beats as the detector found them
    beats = [det._t(b) for b in det.beats]  # noqa: SLF001 - the detector's own beat list
    for bt in beats:
        if T0 <= bt <= T1:
            parts.append(f'<path d="M{X(bt):.1f},{MT + 22} l-4,-8 h8 z" fill="#2a7ab8"/>')
    parts.append(f'<text x="{W - MR}" y="{MT - 8}" text-anchor="end" fill="#2a7ab8">'
                 '&#9660; heartbeat found on all sensors, learned and subtracted (never counted)</text>')
    for tw in ev.twitches:
        if T0 <= tw.t <= T1 and tw.channel == CH:
            x = X(tw.t)
            parts.append(f'<line x1="{x:.1f}" y1="{MT + 26}" x2="{x:.1f}" y2="{H - MB}" stroke="#c0392b" '
                         'stroke-dasharray="4 3"/>')
            parts.append(f'<text x="{x + 5:.1f}" y="{H - MB - 8}" fill="#c0392b">twitch counted '
                         f'({escape(f"{tw.duration_ms:.0f} ms, {tw.snr:.0f}x the noise floor")})</text>')
    parts.append("</svg>")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text("\n".join(parts) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
