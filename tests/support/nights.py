"""Simulated nights built for one test: the simulator's quiet night
(heartbeat, breathing, hum, drift, noise; no twitches, movements, faults or
glitches) with twitches placed by hand, so a test controls the one thing it
is about."""
import numpy as np

from firmware_host.detector import run_detector
from firmware_host.scoring import score
from firmware_host.simulator import Movement, Night, Twitch, twitch_shapes


def quiet_night(minutes, seed, **night_kw):
    """A quiet night (``night_kw``: Night's own, e.g. channels, rate_hz)."""
    n = Night(minutes, seed=seed, profile="quiet", **night_kw)
    n.movements, n.faults = [], []
    n.glitch_idx = n.glitch_idx[:0]
    return n


def place(n, twitches, seed=0, stretch=None):
    """Put twitches (onset s, channel, peak codes) on the night, each a real
    twitch time course through the piezo's high-pass (``stretch``: its time
    scale, drawn per twitch when None)."""
    rng = np.random.default_rng(seed)
    shapes, rate = twitch_shapes()
    out = []
    for t, ch, peak in sorted(twitches):
        wave = n._twitch_wave(rng, shapes, rate, stretch=stretch)
        out.append(Twitch(float(t), ch, float(peak), wave * peak / np.abs(wave).max()))
    n.twitches = out
    n._finish_plan()
    return n


def open_with_movement(n, end_s, rng, amp=300.0):
    """The night opens with the whole body moving from 0 to ``end_s`` (slow
    swings of ``amp`` codes, the simulator's kind, drawn from ``rng``)."""
    comps = np.column_stack([rng.uniform(0.3, 4.0, 6), rng.uniform(0, 2 * np.pi, 6), rng.standard_normal(6)])
    n.movements = [Movement(0.0, float(end_s), list(range(n.channels)), float(amp), comps)]
    return n


def detect(n, block=20_000):
    """The detector over the night, in blocks as the daemon feeds it: (events, detector)."""
    return run_detector(n.blocks(block), n.rate_hz, n.channels)


def scored(n, ev=None):
    """The night's twitches found (``ev``, else the detector run now) scored
    against those placed on it."""
    if ev is None:
        ev, _ = detect(n)
    return score([x.as_dict() for x in ev.twitches], [{"t": tw.t, "channel": tw.channel} for tw in n.twitches])
