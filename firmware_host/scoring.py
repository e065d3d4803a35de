"""Event-level scoring of detected twitches against a labelled night.

A detection matches a true twitch on the same channel whose onset is within
``tolerance_s`` (150 ms) of the detection's onset (or one of its ``also``
onsets: other motor units' twitches on its site too soon after it to be
told apart, felt and shown as it); each truth matches at most one
detection (closest first).  Precision, recall and F1 are over events;
count error is |detected - true| / true for the night (0 when both are 0).
"""
from __future__ import annotations

import json
import sys
from collections.abc import Sequence


def score(detected: Sequence[dict], truth: Sequence[dict], tolerance_s: float = 0.150,
          ignore: Sequence[dict] = ()) -> dict:
    """``ignore``: true twitches that are scored neither way (too small to
    show, or in a movement's or a fault's margin): a detection matched to one
    is neither a hit nor a false alarm."""
    every = list(truth) + list(ignore)
    onsets = [[t["t"], *t.get("also", ())] for t in every]  # each truth's onset, and its ``also`` ones
    pairs = []
    for i, d in enumerate(detected):
        for j, t in enumerate(every):
            if d["channel"] == t["channel"]:
                dt = min(abs(d["t"] - x) for x in onsets[j])
                if dt <= tolerance_s:
                    pairs.append((dt, i, j))
    pairs.sort()
    used_d, used_t, matched, excused = set(), set(), 0, set()
    for _, i, j in pairs:
        if i in used_d or j in used_t:
            continue
        used_d.add(i)
        used_t.add(j)
        if j < len(truth):
            matched += 1
        else:
            excused.add(i)
    n_d, n_t = len(detected) - len(excused), len(truth)
    precision = matched / n_d if n_d else 1.0
    recall = matched / n_t if n_t else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    count_error = abs(n_d - n_t) / n_t if n_t else (0.0 if n_d == 0 else float(n_d))
    return {"detected": n_d, "true": n_t, "matched": matched, "precision": round(precision, 4),
            "recall": round(recall, 4), "f1": round(f1, 4), "count_error": round(count_error, 4),
            "false_positives": [d for i, d in enumerate(detected) if i not in used_d],
            "missed": [truth[j] for j in range(n_t) if j not in used_t]}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m firmware_host.scoring REPORT.json TRUTH.json``: score a
    ``twitchmon replay --json`` report against a night's truth (as written
    by ``twitchmon simulate``).  One line per figure; exit 2 on bad input."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m firmware_host.scoring REPORT.json TRUTH.json", file=sys.stderr)
        return 2
    try:
        with open(args[0], encoding="utf-8") as f:
            report = json.load(f)
        with open(args[1], encoding="utf-8") as f:
            truth = json.load(f)
        s = score(report["twitches"], truth["twitches"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"scoring: cannot score {args[0]} against {args[1]}: {exc}", file=sys.stderr)
        return 2
    for k in ("detected", "true", "matched", "precision", "recall", "f1", "count_error"):
        print(f"{k}: {s[k]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
