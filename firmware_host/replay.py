"""``twitchmon replay FILE...``: the detector over recordings, one process per core.

Files are handed to a pool of worker processes (``--jobs``, default every
core this process may run on), one file at a time each, so a worker's memory
is one file's detector whatever the number of files.  Results come back in
the order the files were named, so the output is the same byte for byte
whatever ``--jobs`` is.  A file that cannot be read gets its one line on
stderr and the others complete (exit 2).  On a terminal, a progress bar
(tqdm) counts seconds of signal done across all workers.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as Timeout
from concurrent.futures.process import BrokenProcessPool

from tqdm import tqdm

from .analysis import analyse, save_report
from .events import how_many
from .injection import AMP_X_NOISE
from .paths import data_dir as resolve
from .store import open_store
from .traces import TraceError, open_trace

_done = None  #: samples analysed so far, shared by the workers (a multiprocessing Value)


def default_jobs() -> int:
    """Every core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _init(counter) -> None:
    global _done
    _done = counter


def _bump(n: int) -> None:
    if _done is not None:
        with _done.get_lock():
            _done.value += n


def _work(job) -> tuple[int, dict | None, str | None, int]:
    """(index, report, error line, exit status) for one file; never raises."""
    i, path, rate_hz, sensitivity, check = job
    try:
        return i, analyse(path, rate_hz=rate_hz, sensitivity=sensitivity, progress=_bump, check=check), None, 0
    except TraceError as exc:
        return i, None, f"twitchmon replay: {exc}", 2
    except MemoryError:
        return i, None, f"twitchmon replay: {path}: out of memory", 1
    except Exception as exc:  # noqa: BLE001 - one line for this file; the others go on
        return i, None, f"twitchmon replay: {path}: {type(exc).__name__}: {exc}", 1


def _total_samples(paths, rate_hz) -> int | None:
    """Frames in all files, from their headers (for the bar), or None when
    a header does not say (NPZ, CSV): then the bar counts without a percentage."""
    total = 0
    for p in paths:
        try:
            with open_trace(p, rate_hz) as r:
                if r.info.n_samples is None:
                    return None
                total += r.info.n_samples
        except (TraceError, OSError, ValueError):
            pass  # its worker gives its one line
    return total or None


def _line(report: dict) -> str:
    c = report["counts"]
    return (f"{report['source']}: {report['duration_s'] / 60:.1f} min, rest {report['rest_s'] / 60:.1f} min, "
            f"{how_many(c['total'], 'twitch', 'twitches')} {c['per_channel']}, "
            f"{how_many(len(report['movements']), 'movement', 'movements')}"
            + (f", night {report['night_id']} saved" if "night_id" in report else ""))


def _check_line(report: dict) -> str | None:
    """The injection check (``--check``) as one line for people: per sensor,
    test twitches found of those added, and the size found half the time."""
    check = report.get("check")
    if not isinstance(check, dict) or not check.get("per_channel"):
        return None
    names = report.get("channel_names") or []
    parts = []
    for i, c in enumerate(check["per_channel"]):
        name = names[i] if i < len(names) else f"channel {i}"
        text = f"{name} {c['found']} of {c['injected']}"
        if c.get("amp50_x_noise"):
            text += f" (half found at {c['amp50_x_noise']:.0f}x its noise)"
        parts.append(text + ("" if c.get("passed") else " FAILED: check its strap and lead"))
    lo, hi = AMP_X_NOISE
    return f"  check, test twitches of {lo:g}-{hi:g}x the noise found: {'; '.join(parts)}"


class _Output:
    """Says each file's result as it comes: its line (or JSON) on stdout, an
    error's line on stderr, over the progress bar when there is one; keeps
    the exit status (2, a bad file, outranks 1)."""

    def __init__(self, files: list[str], store, as_json: bool, bar):
        self.files, self.store, self.as_json, self.bar = files, store, as_json, bar
        self.status = 0

    def _say(self, text: str, stream) -> None:
        (self.bar.write if self.bar else print)(text, file=stream)

    def __call__(self, i: int, report: dict | None, error: str | None, code: int) -> None:
        if error is not None:
            self.status = max(self.status, code)
            self._say(error, sys.stderr)
            return
        if self.store is not None:
            report["night_id"], new = save_report(self.store, report, source=os.path.abspath(self.files[i]))
            if not new:
                self._say(f"note: {self.files[i]} was saved before, as night {report['night_id']}; "
                          "not saved again", sys.stderr)
        self._say(json.dumps(report) if self.as_json else _line(report), sys.stdout)
        check = None if self.as_json else _check_line(report)
        if check:
            self._say(check, sys.stdout)
        if not self.as_json and report.get("truncated"):
            self._say(f"note: {self.files[i]} ends mid-record; read up to the last whole record", sys.stderr)


def _results(work, pool, futures, counter, bar):
    """Each file's (index, report, error line, status), in the files' order
    whichever finishes first, the bar moved as the workers count."""
    def tick():
        if bar:
            bar.update(counter.value - bar.n)

    if pool is None:
        _init(counter if bar else None)
        for job in work:
            yield _work(job)
            tick()
        return
    for (i, path, *_), fut in zip(work, futures):
        while True:
            try:
                result = fut.result(timeout=0.25)
            except Timeout:
                tick()
                continue
            except BrokenProcessPool:
                result = (i, None, f"twitchmon replay: {path}: its worker process died (out of memory?)", 1)
            break
        tick()
        yield result


def run(files: list[str], *, jobs: int | None = None, as_json: bool = False, save: bool = False,
        data_dir: str | None = None, rate_hz: float | None = None, sensitivity: float = 5.0,
        progress: bool | None = None, check: bool = False) -> int:
    """Replay ``files``; print one line per file; return the exit status.
    ``check``: each report also gets the injection-recovery check."""
    jobs = max(1, min(jobs or default_jobs(), len(files)))
    work = [(i, f, rate_hz, sensitivity, check) for i, f in enumerate(files)]
    if progress is None:
        progress = sys.stderr.isatty()
    store = open_store(resolve(data_dir)) if save else None
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    counter = ctx.Value("q", 0)
    pool = futures = None
    if jobs > 1:
        # (not multiprocessing.Pool: a worker killed mid-file, say by the OOM killer, hangs a Pool for
        # good; here it breaks the pool and each unfinished file gets its line)
        pool = ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init, initargs=(counter,))
        futures = [pool.submit(_work, job) for job in work]  # workers fork here, before any thread of ours
    bar = None
    if progress:
        bar = tqdm(total=_total_samples(files, rate_hz), unit=" frames", unit_scale=True, file=sys.stderr,
                   desc=f"replay {len(files)} file(s) on {jobs} process(es)", dynamic_ncols=True)
    out = _Output(files, store, as_json, bar)
    try:
        for result in _results(work, pool, futures, counter, bar):
            out(*result)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if bar:
            bar.close()
        if store is not None:
            store.close()
        sys.stdout.flush()
    return out.status
