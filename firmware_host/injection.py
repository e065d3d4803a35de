"""The night checks itself: known twitches added to a copy of its own signal.

``check(path, report, det)`` (``twitchmon replay --check``, contracts
section 3) places real twitch time courses, through a piezo's high-pass, at
random rest moments of the recording on every good channel, at a spread of
amplitudes from 5x to 80x that channel's noise floor, runs the same
detector over the recording with them added, and reports per channel how
many it found and the amplitude found 50% and 90% of the time.  The
recording and the real counts are never touched: the injected signal lives
only in the blocks of the second pass.  It costs one more detector pass.

Units: ``amp*_codes`` are the injected twitch's peak in ADC codes as the
piezo gives it (before any filter); ``amp*_x_noise`` the same over the
channel's noise floor (codes, the detector's residual in its 3-35 Hz band).
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from . import analysis, pins
from .detector import Detector, DetectorConfig, Events
from .paths import data_dir as resolve_data_dir
from .simulator import twitch_wave
from .store import open_store
from .traces import open_trace

PER_CHANNEL = 20  #: injected twitches per channel
AMP_X_NOISE = (5.0, 80.0)  #: their peaks, as multiples of the noise floor (log-uniform)
MATCH_S = 0.150  #: a detection this close to an injected onset, on its channel, found it
#: a channel passes when it finds 80% of the injected twitches this many times
#: its noise floor or more (the detector's own limit is about 15-25x here; a
#: channel full of what the detector must refuse, or a loose sensor's noise,
#: does worse)
CHECK_MAX_X_NOISE = 30.0


def _busy_spans(report: dict) -> list[tuple[float, float, int | None]]:
    """(start s, end s, channel or None for all) where nothing is injected:
    movements with their lead-in and settling, twitches the night has (so an
    injection never merges with a real one) and faulty stretches."""
    spans = [(m["t"] - 1.0, m["end"] + 6.0, None) for m in report["movements"]]
    spans += [(tw["t"] - 1.5, tw["t"] + 1.5, None) for tw in report["twitches"]]
    open_fault: dict[int, float] = {}
    for f in sorted(report.get("faults", []), key=lambda f: f["t"]):
        c = f["channel"]
        if f["status"] != "ok":
            open_fault.setdefault(c, f["t"])
        elif c in open_fault:
            spans.append((open_fault.pop(c) - 3.0, f["t"] + 6.0, c))
    spans += [(t - 3.0, float("inf"), c) for c, t in open_fault.items()]
    return spans


def plan(report: dict, floor_codes: np.ndarray, seed: int = 0) -> list[dict]:
    """Where, on which channel and how large the injected twitches are:
    ``PER_CHANNEL`` a channel (fewer where a short recording has no room)
    at random rest moments at least 1 s from each other on any channel,
    amplitudes log-uniform over ``AMP_X_NOISE``."""
    rng = np.random.default_rng(seed)
    dur = report["duration_s"]
    busy = _busy_spans(report)
    taken: list[float] = []
    out = []
    chans = [c for c in range(report["channels"]) if np.isfinite(floor_codes[c])]  # others never had a floor
    # a round a channel at a time, so a short recording shares its room fairly
    for _ in range(PER_CHANNEL):
        for c in chans:
            for _try in range(200):
                t = float(rng.uniform(1.0, dur - 2.0)) if dur > 4.0 else -1.0
                if t < 0 or any(a <= t <= b and (ch is None or ch == c) for a, b, ch in busy) \
                        or any(abs(t - u) < 1.0 for u in taken):
                    continue
                x = float(np.exp(rng.uniform(*np.log(AMP_X_NOISE))))
                out.append({"t": t, "channel": c, "x_noise": x, "amp_codes": x * float(floor_codes[c]),
                            "seed": int(rng.integers(2 ** 31))})
                taken.append(t)
                break
    return sorted(out, key=lambda i: i["t"])


def _waves(injections: list[dict], rate_hz: float) -> list[tuple[int, int, np.ndarray]]:
    """(first sample, channel, codes to add) for each injection."""
    out = []
    for inj in injections:
        w = twitch_wave(np.random.default_rng(inj["seed"]), rate_hz) * inj["amp_codes"]
        out.append((int(round(inj["t"] * rate_hz)), inj["channel"], w))
    return out


def _amp_at(found: np.ndarray, amp: np.ndarray, p: float) -> float | None:
    """The amplitude found with probability ``p``: a logistic curve in log
    amplitude fitted to the found/missed injections by maximum likelihood.
    None when the injections do not bracket it (all found, or none)."""
    if found.all() or not found.any():
        return None

    # scipy.optimize (about 0.3 s to import) only here: a replay without
    # --check must not pay for it
    from scipy.optimize import minimize  # noqa: PLC0415

    x = np.log(amp)

    def nll(v):
        z = np.clip(v[1] * (x - v[0]), -30, 30)
        return float(np.sum(np.log1p(np.exp(-z)) * found + np.log1p(np.exp(z)) * ~found))

    res = minimize(nll, [float(np.median(x)), 3.0], method="Nelder-Mead")
    mid, slope = res.x
    if slope <= 0:
        return None
    return float(math.exp(mid + math.log(p / (1 - p)) / slope))


def check(path, report: dict, det: Detector, *, block_samples: int | None = None, seed: int = 0) -> dict:
    """Inject, detect again, and say per channel what was found (the
    ``check`` key of the report; see the module's docstring)."""
    floor = np.asarray(det.sigma, dtype=float)
    injections = plan(report, floor, seed=seed)
    waves = _waves(injections, report["rate_hz"])
    starts = np.array([w[0] for w in waves], dtype=np.int64)
    with open_trace(path, report["rate_hz"]) as reader:
        info = reader.info
        det2 = Detector(DetectorConfig(rate_hz=info.rate_hz, channels=info.channels,
                                       sensitivity=det.cfg.sensitivity, legs=det.cfg.legs, gain=det.cfg.gain))
        events = Events()
        pos = 0
        for block in reader.code_blocks(block_samples or det2.batch_chunks * det2.chunk_raw):
            x = block.astype(np.float64)
            n = len(x)
            lo = np.searchsorted(starts, pos - int(2 * info.rate_hz))
            hi = np.searchsorted(starts, pos + n)
            for s, c, w in waves[lo:hi]:
                a, b = max(s, pos), min(s + len(w), pos + n)
                if a < b:
                    x[a - pos:b - pos, c] += w[a - s:b - s]
            events.extend(det2.process(np.clip(np.rint(x), 0, pins.ADC_MAX_CODE)))
            pos += n
        events.extend(det2.finish())
    found_t: dict[int, list[float]] = {}
    for tw in events.twitches:
        found_t.setdefault(tw.channel, []).append(tw.t)
    per = []
    for c in range(report["channels"]):
        mine = [i for i in injections if i["channel"] == c]
        hit = np.array([any(abs(t - i["t"]) <= MATCH_S for t in found_t.get(c, [])) for i in mine], dtype=bool)
        amp = np.array([i["amp_codes"] for i in mine])
        row = {"injected": len(mine), "found": int(hit.sum()),
               "amp50_codes": None, "amp90_codes": None, "amp50_x_noise": None, "amp90_x_noise": None,
               "floor_codes": round(float(floor[c]), 3) if np.isfinite(floor[c]) else None}
        if mine:
            for p, key in ((0.5, "50"), (0.9, "90")):
                a = _amp_at(hit, amp, p)
                if a is not None:
                    row[f"amp{key}_codes"] = round(a, 2)
                    row[f"amp{key}_x_noise"] = round(a / float(floor[c]), 2)
        big = amp >= CHECK_MAX_X_NOISE * float(floor[c]) if mine else np.zeros(0, bool)
        row["passed"] = bool(big.sum() >= 3 and hit[big].mean() >= 0.8)
        per.append(row)
    return {"per_channel": per, "injections": [{"t": round(i["t"], 3), "channel": i["channel"],
                                                 "amp_codes": round(i["amp_codes"], 2)} for i in injections]}


def combine(checks: list[dict]) -> dict:
    """One check for a night recorded in several files: per channel the
    injected and found add up, the amplitudes are the files' medians, and
    a channel passes only if it passed in every file."""
    per = []
    n_ch = max(len(c["per_channel"]) for c in checks)
    for ch in range(n_ch):
        rows = [c["per_channel"][ch] for c in checks if ch < len(c["per_channel"])]
        row = {"injected": sum(r["injected"] for r in rows), "found": sum(r["found"] for r in rows)}
        for key in ("amp50_codes", "amp90_codes", "amp50_x_noise", "amp90_x_noise", "floor_codes"):
            vals = [r[key] for r in rows if r.get(key) is not None]
            row[key] = round(float(np.median(vals)), 2) if vals else None
        row["passed"] = all(r["passed"] for r in rows)
        per.append(row)
    return {"per_channel": per, "files": len(checks)}


def check_night(store, data_dir, night_id: int) -> dict:
    """Run the check on a stored night's recordings (the daemon starts this
    after each night, in a process of its own) and keep it in the night's
    summary, where Night detail, the API and the doctor's report show it.
    The night's counts are not touched."""
    night = store.night(night_id)
    if night is None:
        raise ValueError(f"no night {night_id}")
    checks = []
    for rec in store.recordings(night_id):
        path = Path(rec["path"])
        path = path if path.is_absolute() else Path(data_dir) / path
        if rec["finished"] and path.exists():
            report = analysis.analyse(str(path), sensitivity=(night["summary"] or {}).get("sensitivity", 5.0), check=True)
            checks.append(report["check"])
    if not checks:
        raise ValueError(f"night {night_id} has no finished recording to check")
    out = combine(checks)
    store.update_night(night_id, summary={**(night["summary"] or {}), "check": out})
    return out


def main(argv=None) -> int:
    """``python -m firmware_host.injection --night ID [--data-dir DIR]``: one line, exit 0/1/2."""
    ap = argparse.ArgumentParser(prog="python -m firmware_host.injection", description=check_night.__doc__)
    ap.add_argument("--night", type=int, required=True)
    ap.add_argument("--data-dir")
    a = ap.parse_args(argv)
    try:
        ddir = resolve_data_dir(a.data_dir)
        store = open_store(ddir)
        out = check_night(store, ddir, a.night)
    except (ValueError, OSError) as exc:
        print(f"twitchmon check: {exc}", file=sys.stderr)
        return 2
    found = ", ".join(f"{c['found']}/{c['injected']}" + ("" if c["passed"] else " FAILED") for c in out["per_channel"])
    print(f"twitchmon check: night {a.night}: found {found}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
