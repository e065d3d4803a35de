"""Periodic limb movements, scored by the WASM 2016 rules.

Ferri R. et al., "World Association of Sleep Medicine (WASM) 2016 standards
for recording and scoring leg movements in polysomnograms", Sleep Medicine
21 (2016) 138-150:

* a leg movement (LM) lasts at least 0.5 s; a candidate leg movement (CLM)
  is a monolateral LM of 0.5-10 s or a bilateral LM of 0.5-15 s;
* LMs on the two legs that overlap, or where one ends less than 0.5 s
  before the other begins, are one bilateral LM (of at most 4 monolateral
  LMs);
* a PLM series is 4 or more consecutive CLMs whose onset-to-onset
  intervals are all 10-90 s; an interval under 10 s or over 90 s, or an
  LM that is not a CLM (too long), ends a series.

The index is PLMs per hour of *rest time in bed*: twitchmon has no sleep
staging (no EEG), so this is not the PLMS index of a sleep laboratory.
Respiratory-event exclusion is not applied either (no breathing channel).

Input is the detector's stored movements (``{"t", "end", "channels"}``, s
from the night's first sample) and each channel's leg; plain Python, so the
page and the report can score nights without numpy or the detector.
"""
from __future__ import annotations

from dataclasses import dataclass, field

MIN_LM_S = 0.5  #: shortest leg movement, s
MAX_MONO_CLM_S = 10.0  #: longest monolateral candidate, s
MAX_BI_CLM_S = 15.0  #: longest bilateral candidate, s
BILATERAL_GAP_S = 0.5  #: two legs' LMs closer than this (offset to onset) are one, s
MAX_BI_PARTS = 4  #: monolateral LMs one bilateral LM may hold
MIN_IMI_S = 10.0  #: shortest onset-to-onset interval inside a series, s
MAX_IMI_S = 90.0  #: longest, s
MIN_SERIES = 4  #: CLMs a series needs
#: durations are compared at this resolution, s: the detector stores times to
#: the millisecond, and 0.5 s written as 100.2 - 99.7 must still be 0.5 s
_EPS_S = 1e-6


@dataclass
class LegMovement:
    """One scored movement: monolateral or bilateral (its ``legs``)."""

    t: float  #: onset, s from the night's first sample
    end: float  #: offset, s
    legs: set[str] = field(default_factory=set)
    parts: int = 1  #: monolateral LMs merged into it

    @property
    def duration_s(self) -> float:
        return self.end - self.t

    @property
    def bilateral(self) -> bool:
        return len(self.legs) > 1

    @property
    def candidate(self) -> bool:
        """A CLM (WASM 2016): 0.5-10 s on one leg, 0.5-15 s on both."""
        top = MAX_BI_CLM_S if self.bilateral else MAX_MONO_CLM_S
        return MIN_LM_S - _EPS_S <= self.duration_s <= top + _EPS_S


def monolateral(movements: list[dict], legs: list[str]) -> list[tuple[float, float, str]]:
    """(onset, offset, leg) per leg a stored movement moved, LMs only (>= 0.5 s).

    The detector reports one span per movement with the channels it moved;
    a span over both legs' channels is an LM on each leg (bilateral once
    merged).  A channel past ``legs`` is its own limb."""
    out = []
    for m in movements:
        t, end = float(m["t"]), float(m["end"])
        if end - t < MIN_LM_S - _EPS_S:
            continue  # shorter than an LM: not scored at all, and breaks nothing
        for leg in sorted({legs[c] if 0 <= c < len(legs) else f"ch{c}" for c in m.get("channels") or []}):
            out.append((t, end, leg))
    return sorted(out)


def merge_bilateral(lms: list[tuple[float, float, str]]) -> list[LegMovement]:
    """Join LMs of different legs that overlap or lie under 0.5 s apart
    (offset to onset) into one bilateral LM, up to 4 parts each."""
    out: list[LegMovement] = []
    for t, end, leg in sorted(lms):
        cur = out[-1] if out else None
        joins = (cur is not None and t - cur.end < BILATERAL_GAP_S - _EPS_S and cur.parts < MAX_BI_PARTS
                 and (leg not in cur.legs or cur.bilateral))
        if joins:
            cur.end = max(cur.end, end)
            cur.legs.add(leg)
            cur.parts += 1
        else:
            out.append(LegMovement(t, end, {leg}))
    return out


@dataclass
class PlmScore:
    movements: list[LegMovement]  #: every LM after bilateral merging, in time order
    candidates: int  #: CLMs
    series: list[list[LegMovement]]  #: each PLM series (4+ CLMs)

    @property
    def plm(self) -> int:
        """Periodic limb movements: the CLMs in series."""
        return sum(len(s) for s in self.series)


def score(movements: list[dict], legs: list[str]) -> PlmScore:
    """Score a night's stored movements (see the module's rules)."""
    lms = merge_bilateral(monolateral(movements, legs))
    series: list[list[LegMovement]] = []
    run: list[LegMovement] = []

    def close():
        if len(run) >= MIN_SERIES:
            series.append(list(run))
        run.clear()

    for lm in lms:
        if not lm.candidate:  # too long: not a CLM, and it ends any series
            close()
            continue
        if run:
            imi = lm.t - run[-1].t
            if not (MIN_IMI_S - _EPS_S <= imi <= MAX_IMI_S + _EPS_S):
                close()
        run.append(lm)
    close()
    return PlmScore(lms, sum(1 for lm in lms if lm.candidate), series)


def plm_index(movements: list[dict], legs: list[str], rest_s: float | None) -> float | None:
    """PLMs per hour of rest time in bed (not per hour of sleep: see the
    module's note); None for a night without rest."""
    if not rest_s or rest_s <= 0:
        return None
    return round(score(movements, legs).plm / (rest_s / 3600.0), 2)
