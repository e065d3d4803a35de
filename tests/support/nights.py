"""Simulated nights built for one test: the simulator's quiet night
(heartbeat, breathing, hum, drift, noise; no twitches, movements, faults or
glitches) with twitches placed by hand, so a test controls the one thing it
is about."""
import numpy as np

from firmware_host.simulator import Night, Twitch, twitch_shapes


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
    n._tw_start = np.array([int(round(tw.t * n.rate_hz)) - 20 for tw in out], dtype=np.int64)
    return n
