"""Helpers for scripts/mutation.sh around a cosmic-ray session file.

    mutation_tool.py sample SESSION N SEED [FIRST-LAST]
        keep a seeded random sample of N mutants (those on lines FIRST..LAST
        when given) and mark the rest skipped, so one module runs in minutes
    mutation_tool.py report SESSION MODULE EQUIVALENTS_MD MIN_SCORE
        the score (killed / (run - equivalent)) and every survivor; exit 1
        when the score is under MIN_SCORE percent

Equivalent mutants are listed in docs/mutation.md, one bullet each:
    - `MODULE` `OPERATOR` `line before` → `line after` — why
They are matched by module, operator and the changed line's text (not its
number), so they survive edits elsewhere in the file.
"""
from __future__ import annotations

import ast
import random
import re
import sys
from pathlib import Path

EQUIVALENT = re.compile(r"^- `([^`]+)` `([^`]+)` `(.*?)` → `(.*?)` — (.+)$")


ANNOTATION = "equivalent: inside an annotation, which `from __future__ import annotations` never evaluates"


def annotation_spans(path: Path) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) (line, column) of every annotation in a module that
    postpones them; none when it does not (there they are evaluated)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    postponed = any(isinstance(n, ast.ImportFrom) and n.module == "__future__" and
                    any(a.name == "annotations" for a in n.names) for n in tree.body)
    if not postponed:
        return []
    nodes = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
            nodes.append(node.returns)
        elif isinstance(node, ast.arg) and node.annotation is not None:
            nodes.append(node.annotation)
        elif isinstance(node, ast.AnnAssign):
            nodes.append(node.annotation)
    return [((a.lineno, a.col_offset), (a.end_lineno, a.end_col_offset)) for a in nodes]


def sample(session: str, n: int, seed: int, lines: str | None = None) -> None:
    from cosmic_ray.work_db import WorkDB, use_db  # noqa: PLC0415 - the dev extra; the parsers below need none
    from cosmic_ray.work_item import WorkerOutcome, WorkResult  # noqa: PLC0415
    with use_db(session, WorkDB.Mode.open) as db:
        items = sorted(db.pending_work_items, key=lambda w: w.job_id)
        spans = annotation_spans(items[0].mutations[0].module_path) if items else []
        in_annotation = [w.job_id for w in items
                         if any(a <= tuple(w.mutations[0].start_pos) < b for a, b in spans)]
        db.set_multiple_results(in_annotation, WorkResult(output=ANNOTATION, worker_outcome=WorkerOutcome.SKIPPED))
        items = [w for w in items if w.job_id not in set(in_annotation)]
        if lines:
            first, last = (int(x) for x in lines.split("-"))
            items = [w for w in items if first <= w.mutations[0].start_pos[0] <= last]
        # sorted by where and what, so a seed picks the same mutants on any machine
        items.sort(key=lambda w: (w.mutations[0].start_pos, w.mutations[0].operator_name,
                                  w.mutations[0].occurrence))
        keep = {w.job_id for w in random.Random(seed).sample(items, min(n, len(items)))}
        skip = [w.job_id for w in db.pending_work_items if w.job_id not in keep]
        db.set_multiple_results(skip, WorkResult(output="not sampled", worker_outcome=WorkerOutcome.SKIPPED))
        print(f"mutation: {len(keep)} of {len(items)} mutants sampled (seed {seed}"
              f"{', lines ' + lines if lines else ''}); {len(in_annotation)} more are in annotations, equivalent")


def changed_lines(diff: str) -> tuple[str, str]:
    """The first removed and added source lines of a mutant's diff, stripped."""
    minus = [ln[1:].strip() for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    plus = [ln[1:].strip() for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    return (minus[0] if minus else ""), (plus[0] if plus else "")


def equivalents(md: Path, module: str) -> dict[tuple[str, str, str], str]:
    out = {}
    for line in md.read_text(encoding="utf-8").splitlines() if md.exists() else []:
        m = EQUIVALENT.match(line.strip())
        if m and m.group(1) == module:
            out[(m.group(2), m.group(3).strip(), m.group(4).strip())] = m.group(5)
    return out


def report(session: str, module: str, md: str, min_score: float) -> int:
    from cosmic_ray.work_db import WorkDB, use_db  # noqa: PLC0415
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome  # noqa: PLC0415
    eq = equivalents(Path(md), module)
    killed, survived, equivalent = [], [], []
    annotations = 0
    with use_db(session, WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome != WorkerOutcome.NORMAL:
                if result.output == ANNOTATION:
                    annotations += 1
                elif result.worker_outcome != WorkerOutcome.SKIPPED:
                    print(f"mutation: {item.job_id} did not run: {result.worker_outcome} {result.output[-300:]}")
                continue
            spec = item.mutations[0]
            before, after = changed_lines(result.diff or "")
            row = (spec.start_pos[0], spec.operator_name, before, after)
            if result.test_outcome == TestOutcome.KILLED:
                killed.append(row)
            elif (spec.operator_name, before, after) in eq:
                equivalent.append(row)
            else:
                survived.append(row)
    run = len(killed) + len(survived)
    score = 100.0 * len(killed) / run if run else 0.0
    for line, op, before, after in sorted(equivalent):
        print(f"equivalent  L{line} {op}: {before}  ->  {after}")
    for line, op, before, after in sorted(survived):
        print(f"SURVIVED    L{line} {op}: {before}  ->  {after}")
        print(f"  (if equivalent, docs/mutation.md: - `{module}` `{op}` `{before}` → `{after}` — why)")
    print(f"mutation: {module}: {len(killed)} killed, {len(survived)} survived, {len(equivalent)} equivalent "
          f"set aside ({annotations} more in annotations, not run): score {score:.1f}% (floor {min_score:g}%)")
    return 0 if score >= min_score else 1


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    if cmd == "sample":
        sample(args[0], int(args[1]), int(args[2]), args[3] if len(args) > 3 else None)
    elif cmd == "report":
        sys.exit(report(args[0], args[1], args[2], float(args[3])))
    else:
        sys.exit(f"mutation_tool.py: unknown command {cmd!r}")
