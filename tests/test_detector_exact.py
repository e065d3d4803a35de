"""The detector's faster forms give the very bits of the plain numpy forms
they stand in for (a speed-up must not change one event): the folded beat
level's median without np.nanmedian, and the glitch repair as a whole
against a plain per-glitch np.linalg.lstsq."""
import warnings

import numpy as np
import pytest

from firmware_host import pins
from firmware_host.detector import front
from firmware_host.detector.heartbeat import folded_level


def _folded_level_nanmedian(e, ok, period):
    """folded_level as first written: np.nanmedian over the beats."""
    C, n = e.shape
    nb = max(8, int(round(period / 2)))
    K = int((n - 1) // period)
    if K < 4:
        return np.full(C, np.nan)
    idx = (np.arange(K)[:, None] * period + np.arange(nb)[None, :] * (period / nb)).astype(np.int64)
    okv = (ok if ok.ndim == 2 else np.broadcast_to(ok, e.shape))[:, idx]
    v = np.where(okv, e[:, idx], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lvl = np.nanmax(np.nanmedian(v, axis=1), axis=1)
    return np.where(okv.sum(axis=(1, 2)) >= 4 * nb, lvl, np.nan)


def test_folded_level_is_the_nanmedian_form_to_the_bit():
    rng = np.random.default_rng(12)
    for t in range(300):
        C, n, period = int(rng.integers(1, 9)), int(rng.integers(50, 4000)), float(rng.uniform(50, 200))
        e = rng.gamma(2, 1, (C, n))
        if t % 3 == 0:
            e = np.round(e, 1)  # ties
        p = rng.choice([0.0, 0.05, 0.5, 0.95, 1.0])
        ok = rng.random((C, n)) > p if t % 2 else rng.random(n) > p
        assert folded_level(e, ok, period).tobytes() == _folded_level_nanmedian(e, ok, period).tobytes()


def _repair_plain(ext, lone, lengths, rate_hz, mains_hz):
    """The glitch repair with one np.linalg.lstsq per glitch."""
    out = ext.copy()
    w = max(4, int(round(front.GLITCH_FIT_PERIODS * rate_hz / mains_hz)))
    ends = np.cumsum([0] + list(lengths))
    om = 2 * np.pi * mains_hz / rate_hz
    harmonics = [h for h in (1, 2) if h * mains_hz < rate_hz / 2 - 5]
    for c, p in zip(*lone):
        k = int(np.searchsorted(ends, p - 1, side="right")) - 1
        lo, hi = max(int(ends[k]), p - w), min(int(ends[k + 1]) + 2, p + w + 1)
        idx = np.arange(lo, hi)
        v = ext[c, lo:hi]
        keep = (idx != p) & (v > 0) & (v < pins.ADC_MAX_CODE)
        t = (idx - p).astype(np.float64)
        basis = np.stack([np.ones_like(t), t] + [f(h * om * t) for h in harmonics for f in (np.cos, np.sin)], axis=1)
        if keep.sum() < basis.shape[1] + 4:
            continue
        coef = np.linalg.lstsq(basis[keep], v[keep].astype(np.float64), rcond=None)[0]
        out[c, p] = coef[0] + sum(coef[2 + 2 * j] for j in range(len(harmonics)))
    return out


@pytest.mark.parametrize("rate_hz", [250.0, 1000.0])
def test_glitch_repair_is_the_plain_per_glitch_fit_to_the_bit(rate_hz):
    rng = np.random.default_rng(13)
    lengths = [3000, 3000, 3000]
    t = np.arange(2 + sum(lengths)) / rate_hz
    ext = (500 + 40 * np.sin(2 * np.pi * 50 * t)[None] + rng.normal(0, 3, (3, len(t)))).round().astype(np.float32)
    m = 120
    ext[rng.integers(0, 3, m), rng.integers(0, len(t), m)] = rng.choice([0.0, 1023.0], m)
    ext[1, 2999:3003] = 0.0  # a run at a chunk's edge, and glitches close together
    ext[2, 500] = ext[2, 503] = 1023.0
    ext[0, 1200:1202] = 1023.0  # bursts of two and three
    ext[2, 4500:4503] = 0.0
    ext[0, 5000:5004] = 1023.0  # four: not a glitch
    ext[2, 3000:3002] = 1023.0  # from a chunk's last sample into the next: stays
    ext[0, 7000:7002], ext[0, 7002] = 1023.0, 900.0  # not back from the rail after it: stays
    ext[1, 7500], ext[1, 7501:7503] = 100.0, 0.0  # nor come from far before it
    lone = front._glitches(ext, front.median3(ext), lengths)
    assert len(lone[0]) > 80
    got = front.repair_glitches(ext, lone, lengths, rate_hz, 50.0)
    assert got.tobytes() == _repair_plain(ext, lone, lengths, rate_hz, 50.0).tobytes()
    # what the front end does: only the medians next to a repaired glitch
    # formed again, each chunk's the same as the median of a copy with its
    # own glitches repaired (the medians centred in a chunk are that chunk's
    # call's to form, whatever the block size)
    med = front.median3(ext)
    front._repair_medians(ext, med, lone, front._glitch_fits(ext, lone, lengths, rate_hz, 50.0), lengths)
    ends = np.cumsum([0] + lengths)  # chunk k's medians: med[:, ends[k]:ends[k + 1]]
    want = np.empty_like(med)
    for k in range(len(lengths)):
        mine = (lone[1] >= ends[k] + 1) & (lone[1] <= ends[k + 1])
        own = (lone[0][mine], lone[1][mine])
        want[:, ends[k]:ends[k + 1]] = front.median3(
            front.repair_glitches(ext, own, lengths, rate_hz, 50.0))[:, ends[k]:ends[k + 1]]
    assert med.tobytes() == want.tobytes()
    assert (ext[1, 2999:3003] == 0).all() and (lone[1][lone[0] == 1] != 3000).all()  # four in a row: not a glitch
    assert not {5000, 5001, 5002, 5003} & set(lone[1][lone[0] == 0].tolist())
    assert not {3000, 3001} & set(lone[1][lone[0] == 2].tolist())
    assert not {7000, 7001} & set(lone[1][lone[0] == 0].tolist()) and not {7501, 7502} & set(lone[1][lone[0] == 1].tolist())
    assert {1200, 1201} <= set(lone[1][lone[0] == 0].tolist()) and {4500, 4501, 4502} <= set(lone[1][lone[0] == 2].tolist())
    bursts = [(c, p) for c, p in zip(*lone) if ext[c, p - 1] in (0, 1023) or ext[c, p + 1] in (0, 1023)]
    assert bursts, "the draw has bursts of two or three"
    assert (np.abs(got[[c for c, _ in bursts], [p for _, p in bursts]] - 500) < 60).all()
