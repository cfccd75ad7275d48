"""Reference definitions and scorers for the findings evals (`python -m evals.findings`).

The reference half is deliberately naive: the closest earlier configuration is found by comparing every run with
every earlier one (O(n^2)), so it checks the analyzer's fast hashing rather than sharing its shortcuts. The generator
in `evals.histories` uses it to keep its margins; the scorers compare an analyzer's `Findings` with a history's truth.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.analysis.model import AnalysisSettings, ApproachStatus, Findings

if TYPE_CHECKING:
    from evals.histories import History

# Margins, in units of the noise threshold: a gain of at most LOW counts as none, one of at least HIGH as real.
LOW = 0.45
HIGH = 2.5
_SEED_KEYS = frozenset(k.casefold() for k in AnalysisSettings().seed_keys)
_UNSET = frozenset({"", "none", "null", "nan", "na", "n/a", "nil", "-"})


# --- reference definitions ----------------------------------------------------------------------------------------


def is_seed_key(key: str) -> bool:
    return key.casefold() in _SEED_KEYS


def _unset(value: str | None) -> str:
    """A value that means "not set" ("None", "", "nan", ...) is the same as the key being absent."""
    text = (value or "").strip()
    return "" if text.casefold() in _UNSET else text


def distance(a: Mapping[str, str], b: Mapping[str, str]) -> int:
    """Parameters that differ (a key absent or unset on one side counts), seeds ignored."""
    keys = {k for k in (*a, *b) if not is_seed_key(k)}
    return sum(1 for k in keys if _unset(a.get(k)) != _unset(b.get(k)))


def closest_indices(params: Mapping[str, str], earlier: Sequence[Mapping[str, str]]) -> list[int]:
    """Every earlier configuration at the smallest distance (ties included); [] when there is none."""
    distances = [distance(params, other) for other in earlier]
    if not distances:
        return []
    best = min(distances)
    return [i for i, d in enumerate(distances) if d == best]


def change_counts(params: Sequence[Mapping[str, str]]) -> list[int | None]:
    """Per run in history order: parameters changed vs its closest earlier config (None for the first run)."""
    return [min((distance(p, q) for q in params[:i]), default=None) for i, p in enumerate(params)]


def family_switches(params: Sequence[Mapping[str, str]], family_key: str = "model") -> list[bool]:
    """Per run: its closest earlier config (the most recent of the ties) is of another model family. Such a run
    starts a new line of inquiry, so its many changes are not a `multi_change`."""
    out = []
    for i, p in enumerate(params):
        near = closest_indices(p, params[:i])
        out.append(bool(near) and params[near[-1]].get(family_key) != p.get(family_key))
    return out


def seed_of(params: Mapping[str, str]) -> str | None:
    return next((v for k, v in sorted(params.items()) if is_seed_key(k)), None)


def duplicates_of(params: Sequence[Mapping[str, str]]) -> dict[int, int]:
    """Run index -> the earliest earlier index with the same normalised config and the same seed. A run with the
    same config and another seed is a seed repeat: it measures noise, so it is not a duplicate."""
    found: dict[int, int] = {}
    for i, p in enumerate(params):
        same = (j for j in range(i) if distance(p, params[j]) == 0 and seed_of(p) == seed_of(params[j]))
        j = next(same, None)
        if j is not None:
            found[i] = j
    return found


def status_of(values: Sequence[float], baseline: float, thr: float, recent: int = 3) -> ApproachStatus | None:
    """The approach status by the issue's definitions, or None where a reading of them could go either way."""
    if len(values) <= 2:
        return "active"
    lead = max(values) - baseline
    if lead <= LOW * thr:
        return "exhausted"
    if lead < HIGH * thr:
        return None
    best_so_far = [max(values[: i + 1]) for i in range(len(values))]
    rises = [best_so_far[-1] - best_so_far[-recent - 1], best_so_far[-1] - best_so_far[-recent]]
    if min(rises) >= HIGH * thr:
        return "converging"
    if max(rises) <= LOW * thr:
        return "plateaued"
    return None


def stalled_of(values: Sequence[float], sessions: Sequence[int], thr: float, window: int) -> bool | None:
    """No gain beyond noise over the last `window` sessions (True), a real gain in the last session (False)."""
    last = sessions[-1]
    before = [v for v, s in zip(values, sessions, strict=True) if s <= last - window]
    inside = [v for v, s in zip(values, sessions, strict=True) if s > last - window]
    final_before = [v for v, s in zip(values, sessions, strict=True) if s < last]
    if before and max(inside) - max(before) <= LOW * thr:
        return True
    if final_before and max(values) - max(final_before) >= HIGH * thr:
        return False
    return None


# --- scorers ------------------------------------------------------------------------------------------------------


@dataclass
class Counts:
    """True positives, false positives and false negatives of one finding type, summed over histories."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, predicted: Iterable[object], truth: Iterable[object]) -> None:
        p, t = set(predicted), set(truth)
        self.tp += len(p & t)
        self.fp += len(p - t)
        self.fn += len(t - p)

    @property
    def precision(self) -> float:
        return 1.0 if self.tp + self.fp == 0 else self.tp / (self.tp + self.fp)

    @property
    def recall(self) -> float:
        return 1.0 if self.tp + self.fn == 0 else self.tp / (self.tp + self.fn)


FINDING_TYPES = ("duplicate", "multi_change", "missing_baseline", "repro_gap", "within_noise", "stall", "best_run")


def _subjects(findings: Findings, kind: str) -> set[str]:
    """The runs findings of `kind` are about: the subject, else the first run they cite."""
    return {f.subject or f.run_ids[0] for f in findings.findings if f.kind == kind and (f.subject or f.run_ids)}


def predicted_items(history: History, findings: Findings) -> dict[str, set[object]]:
    """What the analyzer said, per finding type, as comparable items."""
    name = history.name
    switched = bool(history.inp.metric_switches)
    return {
        "duplicate": {(d.key, d.of) for d in findings.duplicates},
        "multi_change": set(_subjects(findings, "multi_change")),
        "missing_baseline": {name} if findings.of_kind("missing_baseline") else set(),
        "repro_gap": {(gap.key, missing) for gap in findings.repro_gaps for missing in gap.missing},
        "within_noise": set(_subjects(findings, "within_noise")),
        "stall": {name} if findings.stalled else set(),
        "best_run": {(name, findings.metric, findings.best)} if switched else set(),
    }


def truth_items(history: History) -> dict[str, set[object]]:
    truth, name = history.truth, history.name
    switches = history.inp.metric_switches
    return {
        "duplicate": set(truth.duplicates.items()),
        "multi_change": set(truth.multi_change),
        "missing_baseline": {name} if truth.baseline is None else set(),
        "repro_gap": set(truth.repro_gaps),
        "within_noise": set(truth.within_noise),
        "stall": {name} if truth.stalled else set(),
        "best_run": {(name, switches[-1].metric, truth.best)} if switches else set(),
    }


def approach_statuses(history: History, findings: Findings) -> list[tuple[str, str, str | None]]:
    """(approach, expected status, analyzer's status) per scored approach. The analyzer's approach is the one holding
    most of the true approach's runs (names may differ where approaches are inferred); its `computed_status` must be
    the designed one and its `status` the mark's, where marked."""
    out: list[tuple[str, str, str | None]] = []
    for approach in history.truth.approaches:
        if not approach.scored:
            continue
        wanted = set(approach.runs)
        match = max(findings.approaches, key=lambda a: len(wanted & set(a.run_ids)), default=None)
        if match is None or not wanted & set(match.run_ids):
            out.append((approach.name, approach.status, None))
            continue
        expected = approach.mark or approach.status
        got = match.status if match.computed_status == approach.status else f"computed {match.computed_status}"
        out.append((approach.name, expected, got))
    return out


def change_count_agreement(history: History, findings: Findings) -> tuple[int, int]:
    """Runs whose `RunChange.n_changed` equals the reference count, out of runs with an earlier config."""
    counts = history.truth.change_counts
    agreed = sum(1 for key, n in counts.items() if key in findings.changes and findings.changes[key].n_changed == n)
    return agreed, len(counts)
