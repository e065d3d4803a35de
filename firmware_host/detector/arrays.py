"""Array helpers the stages share: fast exact forms of numpy reductions
along the last axis of (channels, samples) arrays."""
from __future__ import annotations

import numpy as np


def median3(x: np.ndarray, out: np.ndarray | None = None, tmp: np.ndarray | None = None) -> np.ndarray:
    """3-point running median along the last axis; out[..., i] = median(x[..., i:i+3]).
    ``out`` and ``tmp`` (optional) are work arrays of the result's shape."""
    a, b, c = x[..., :-2], x[..., 1:-1], x[..., 2:]
    lo = np.minimum(a, b, out=out)
    hi = np.maximum(a, b, out=tmp)
    np.minimum(hi, c, out=hi)
    return np.maximum(lo, hi, out=lo)


def block_mean(x: np.ndarray, k: int) -> np.ndarray:
    """Means of k consecutive samples along the last axis (its length a
    multiple of k), by strided adds: faster than reshape().mean()."""
    if k == 1:
        return x.astype(np.float64, copy=False)
    acc = x[..., 0::k].astype(np.float64)
    for j in range(1, k):
        acc += x[..., j::k]
    return acc / k


def moving_mean(x: np.ndarray, w: int) -> np.ndarray:
    """Centred w-point moving mean along the last axis (zero beyond the
    ends), like convolving with ones(w)/w in "same" mode; by shifted adds,
    for the short windows used here (a running sum would be cheaper for
    long ones, and less exact)."""
    n = x.shape[-1]
    if w <= 1 or n < w:
        return x
    pad = np.zeros(x.shape[:-1] + (n + w - 1,))
    pad[..., w // 2:w // 2 + n] = x
    acc = pad[..., 0:n].copy()
    for k in range(1, w):
        acc += pad[..., k:k + n]
    acc /= w
    return acc


def window_max(x: np.ndarray, back: int, fwd: int) -> np.ndarray:
    """out[..., i] = max(x[..., i - back:i + fwd + 1]) along the last axis,
    the window cut short at the array's ends (the end values repeated:
    each is in every window that reaches past it).  numpy alone:
    scipy.ndimage's filter would cost the daemon ~28 MB to import."""
    pad = np.concatenate([np.repeat(x[..., :1], back, axis=-1), x, np.repeat(x[..., -1:], fwd, axis=-1)], axis=-1)
    return np.lib.stride_tricks.sliding_window_view(pad, back + fwd + 1, axis=-1).max(axis=-1)


def gradient(x: np.ndarray) -> np.ndarray:
    """``np.gradient(x, axis=-1)`` (unit spacing), without its overhead."""
    g = np.empty_like(x)
    g[..., 1:-1] = (x[..., 2:] - x[..., :-2]) / 2.0
    g[..., 0] = x[..., 1] - x[..., 0]
    g[..., -1] = x[..., -1] - x[..., -2]
    return g


def second_smallest(x: np.ndarray) -> np.ndarray:
    """The second smallest along axis 0 of (few rows, many columns), by
    running minima and maxima over the rows."""
    lo, second = np.minimum(x[0], x[1]), np.maximum(x[0], x[1])
    for row in x[2:]:
        second = np.minimum(second, np.maximum(lo, row))
        lo = np.minimum(lo, row)
    return second


def median_rows(x: np.ndarray) -> np.ndarray:
    """``np.median(x, axis=1)`` (to the bit) for a 2-D array the caller no
    longer needs (it is partitioned in place): several times faster."""
    n = x.shape[1]
    h = n // 2
    if n >= 256:
        # long rows: the two middle ranks at once, which in this numpy
        # partitions several times faster than a single kth (short rows go
        # the other way); x[:, h - 1] is then the lower half's maximum
        x.partition([h - 1, h], axis=1)
        if n % 2:
            return x[:, h].copy()
        return (x[:, h - 1] + x[:, h]) / 2
    x.partition(h, axis=1)
    if n % 2:
        return x[:, h].copy()
    return (x[:, :h].max(axis=1) + x[:, h]) / 2


def masked_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median along axis 1 of ``values`` where ``mask``; 0 for rows with none."""
    k = mask.sum(axis=1)
    v = np.where(mask, values, np.inf)
    v.sort(axis=1)
    rows = np.arange(len(v))
    lo = v[rows, np.maximum((k - 1) // 2, 0)]
    hi = v[rows, np.minimum(k // 2, v.shape[1] - 1)]
    return np.where(k > 0, 0.5 * (lo + hi), 0.0)


def quietest_second(x: np.ndarray, fw: float) -> np.ndarray:
    """Per channel, the robust sd (median |x| / 0.6745, codes) of the
    quietest whole second of ``x`` (channels, samples at ``fw`` Hz)."""
    w = max(1, int(round(fw)))
    k = x.shape[1] // w
    if k < 2:
        return median_rows(np.abs(x)) / 0.6745
    per_s = np.median(np.abs(x[:, :k * w]).reshape(len(x), k, w), axis=2) / 0.6745
    return per_s.min(axis=1)
