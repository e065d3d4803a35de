"""What a simulated night is made of: its profiles, the real twitch time
courses, and the planned events (twitches, movements, sensor faults)."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np

from ..detector import filters

CLASSIC = ("normal", "hard", "quiet")
#: the family: every parameter drawn per night over wide ranges ("family"),
#: and named stress profiles, each the family with one hard thing forced on
STRESS = ("coincident", "bursty", "trains", "weak-heart", "opening-movement", "early", "long-followed")
FAMILY = ("family",) + STRESS
PROFILES = CLASSIC + FAMILY


def _piezo_highpass(fc_hz: float, rate_hz: float) -> np.ndarray:
    """A first-order Butterworth high-pass at ``fc_hz`` as one second-order
    section: the numbers ``scipy.signal.butter(1, ..., "high")`` gives, made
    the way it makes them (prototype pole, high-pass, bilinear at fs = 2:
    tests/test_simulator_lean.py checks it bit for bit), so the simulator
    need not import scipy.signal (75 MB in the daemon that plays a night)."""
    warped = 2 * 2.0 * np.tan(np.pi * (fc_hz / (rate_hz / 2)) / 2.0)
    p = warped / np.array([-np.exp(0j)])
    pz = (4.0 + p) / (4.0 - p)
    kz = float(np.real(np.prod(4.0 - np.array([0.0])) / np.prod(4.0 - p)))
    return np.array([[kz, -kz, 0.0, 1.0, float(np.real(-pz[0])), 0.0]])


@lru_cache(maxsize=1)
def twitch_shapes() -> tuple[np.ndarray, float]:
    """The shipped twitch time courses (peak 1) and their rate in Hz."""
    with resources.files("firmware_host").joinpath("data/twitch_shapes.npz").open("rb") as f:
        z = np.load(f)
        return z["shapes"].astype(np.float64) / float(z["scale"]), float(z["rate_hz"])


def twitch_wave(rng, rate_hz: float, shapes=None, shape_rate=None, stretch=None, visible=False):
    """One twitch as a leg piezo sees it, at ``rate_hz``, peak 1: a real
    twitch time course, stretched 0.5-1.4x in time, through the piezo's
    first-order high-pass (corner 2-15 Hz).  With ``visible``, also how long
    it stays above a tenth of its peak (s)."""
    if shapes is None:
        shapes, shape_rate = twitch_shapes()
    shape = shapes[rng.integers(len(shapes))]
    stretch = rng.uniform(0.5, 1.4) if stretch is None else stretch
    n_out = int(len(shape) / shape_rate * stretch * rate_hz)
    t_out = np.arange(n_out) / rate_hz / stretch
    x = np.interp(t_out, np.arange(len(shape)) / shape_rate, shape)
    onset = int(np.argmax(np.abs(x) > 0.02))  # the truth's onset: first visible motion
    x = x[max(onset - 2, 0):]
    fc = rng.uniform(2.0, 15.0)
    x = filters.sosfilt(_piezo_highpass(fc, rate_hz), np.concatenate([x, np.zeros(int(0.3 * rate_hz))])[None, :],
                        np.zeros((1, 1, 2)))[0][0]
    fade = np.ones(len(x))
    k = int(0.1 * rate_hz)
    fade[-k:] = np.linspace(1, 0, k)
    x = x * fade
    x = x / np.abs(x).max()
    if visible:
        return x, float(np.flatnonzero(np.abs(x) > 0.1)[-1] + 1) / rate_hz
    return x


@dataclass
class Twitch:
    t: float  #: onset, seconds from the first sample
    channel: int
    peak: float  #: largest |deviation| in codes on its channel
    wave: np.ndarray = field(repr=False)  #: codes, at the night's rate, on its channel
    cross_channel: int | None = None
    cross_gain: float = 0.0
    cross_delay: int = 0  #: samples
    doublet: bool = False
    visible_s: float = 0.0  #: how long it stays above a tenth of its peak, s
    overlaps: bool = False  #: began while the last twitch on its site was still visible (another motor unit)
    #: onsets (s) of other motor units' twitches on its site within RESOLVE_S
    #: after it: felt and shown as this one, so found at any of them it is found
    also: list = field(default_factory=list)


@dataclass
class Movement:
    t: float
    end: float
    channels: list[int]
    amp: float
    comps: np.ndarray = field(repr=False)  #: (k, 3): freq Hz, phase, weight


@dataclass
class Fault:
    channel: int
    t: float
    end: float
    kind: str  #: unplugged | railed | hum
