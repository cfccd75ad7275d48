"""Scorers for the findings evals (`python -m evals.findings`): they compare an analyzer's `Findings` with a
history's truth. The brute-force reference definitions live in `evals.reference` (re-exported here)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.analysis.model import Findings
from evals.histories import History
from evals.reference import (  # noqa: F401 - re-exported: the reference definitions are part of the scorers' API
    HIGH,
    LOW,
    change_counts,
    closest_indices,
    distance,
    duplicates_of,
    family_switches,
    is_seed_key,
    seed_of,
    stalled_of,
    status_of,
)


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


GROUPING_JACCARD = 0.8  # as in the blind sets (`evals.blind_findings2`)


def approach_grouping(history: History, findings: Findings) -> tuple[int, int]:
    """True approaches (the baseline's included) matched by some analyzer approach with Jaccard >= 0.8 over their
    runs, out of all. A split line (an untagged seed repeat beside its tagged line, a categorical sweep cut into one
    approach per value) leaves the line unmatched: people then read an "active" one-run line that is really a step
    of another, and a status judged on half a line."""
    groups = [set(a.run_ids) for a in findings.approaches]
    matched = 0
    for approach in history.truth.approaches:
        wanted = set(approach.runs)
        if wanted and max((len(wanted & g) / len(wanted | g) for g in groups), default=0.0) >= GROUPING_JACCARD:
            matched += 1
    return matched, sum(1 for a in history.truth.approaches if a.runs)


def change_count_agreement(history: History, findings: Findings) -> tuple[int, int]:
    """Runs whose `RunChange.n_changed` equals the reference count, out of runs with an earlier config."""
    counts = history.truth.change_counts
    agreed = sum(1 for key, n in counts.items() if key in findings.changes and findings.changes[key].n_changed == n)
    return agreed, len(counts)
