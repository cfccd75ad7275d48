"""What each run changed (against the baseline and its closest earlier configuration), and exact repeats.

A duplicate repeats an earlier run's configuration and seed (names and times never count). A run with the same
configuration but another seed is a seed repeat, which measures noise, not a duplicate.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

from app.analysis.history import Step
from app.analysis.model import Duplicate, Finding, ParamChange, RunChange
from app.parsing.fmt import fmt


def run_changes(steps: Sequence[Step], baseline: Step | None) -> dict[str, RunChange]:
    """Each run's changes against the baseline and against its closest earlier configuration. The changes against
    the baseline share their `ParamChange`s (see `_AgainstBaseline`); those against the closest run are built afresh,
    as most pairs there occur once."""
    against_baseline = _AgainstBaseline(baseline) if baseline is not None else None
    changes: dict[str, RunChange] = {}
    for step in steps:
        vs_baseline: tuple[ParamChange, ...] = ()
        if against_baseline is not None and baseline is not step:
            vs_baseline = against_baseline(step)
        closest = steps[step.closest] if step.closest is not None else None
        vs_closest: tuple[ParamChange, ...] = ()
        if closest is not None and closest.signature != step.signature:
            vs_closest = _diff(closest, step)
        changes[step.key] = RunChange(step.key, vs_baseline, closest.key if closest else None, vs_closest)
    return changes


def _diff(before: Step, after: Step) -> tuple[ParamChange, ...]:
    """`diff_normalised` between two steps (`changed_keys` over their item numbers)."""
    raw_before, raw_after = before.run.params, after.run.params
    keys = after.table.changed_keys(frozenset(before.items), after.items)
    return tuple(ParamChange(k, raw_before.get(k), raw_after.get(k)) for k in keys)


class _AgainstBaseline:
    """`_diff` from the baseline, building each distinct `ParamChange` once: across thousands of runs the same few
    changes from the baseline recur, and the frozen dataclasses are immutable, so they can be shared (fewer objects
    for the garbage collector to walk). Against each run's closest earlier configuration, by contrast, a random search
    changes fresh values every run, and a cache there would only grow."""

    def __init__(self, baseline: Step) -> None:
        self.baseline = baseline
        self.items = frozenset(baseline.items)
        self.made: dict[tuple[str, str | None], ParamChange] = {}  # (key, value after) -> change

    def __call__(self, after: Step) -> tuple[ParamChange, ...]:
        raw_before, raw_after, made = self.baseline.run.params, after.run.params, self.made
        out = []
        for key in after.table.changed_keys(self.items, after.items):
            pair = (key, raw_after.get(key))
            if (change := made.get(pair)) is None:
                change = made[pair] = ParamChange(key, raw_before.get(key), pair[1])
            out.append(change)
        return tuple(out)


def multi_change_findings(steps: Sequence[Step], changes: Mapping[str, RunChange]) -> list[Finding]:
    """Runs that changed more than one parameter relative to their closest earlier configuration. A run that
    switches model family starts a new line of inquiry (its hyperparameters change with the model), so it is not
    flagged; its changes are still listed in `changes`."""
    found = []
    shown: dict[str | None, tuple[str, float | None]] = {}  # shared by the runs: most values recur
    for step in steps:
        change = changes[step.key]
        if step.closest is None or change.n_changed < 2 or _switches_family(step, steps):
            continue
        closest = steps[step.closest]
        described, numbers = describe_changes(change.vs_closest, closest.config, step.config, shown)
        numbers["n_changed"] = change.n_changed
        found.append(
            Finding(
                "multi_change",
                f"Run {change.key} changed {change.n_changed} parameters at once relative to its closest earlier "
                f"configuration, {closest.key}: {described}. Its effect cannot be attributed to any one change.",
                run_ids=(change.key, closest.key),
                numbers=numbers,
                subject=change.key,
            )
        )
    return found


def _switches_family(step: Step, steps: Sequence[Step]) -> bool:
    closest = steps[step.closest] if step.closest is not None else None
    return closest is not None and step.family is not None and closest.family != step.family


LISTED_CHANGES = 6


def describe_changes(
    changes: Sequence[ParamChange],
    before_config: Mapping[str, str],
    after_config: Mapping[str, str],
    shown: dict[str | None, tuple[str, float | None]],
) -> tuple[str, dict[str, float]]:
    """ "C 0.1 → 1, solver lbfgs → saga", with numeric values written by `fmt` and kept in the numbers. The configs
    are the two sides' normalised configurations; `shown` remembers how each stored value is written, across calls.
    Past `LISTED_CHANGES` changes (a random-search run changes everything) the rest are counted, not spelled out:
    the run's `RunChange` keeps them all."""
    numbers: dict[str, float] = {}
    parts = []
    for c in changes[:LISTED_CHANGES]:
        if (before := shown.get(c.before)) is None:
            before = shown[c.before] = _displayed(c.before, before_config.get(c.key))
        if (after := shown.get(c.after)) is None:
            after = shown[c.after] = _displayed(c.after, after_config.get(c.key))
        if before[1] is not None:
            numbers[f"{c.key}.before"] = before[1]
        if after[1] is not None:
            numbers[f"{c.key}.after"] = after[1]
        parts.append(f"{c.key} {before[0]} → {after[0]}")
    if len(changes) > LISTED_CHANGES:
        numbers["unlisted_changes"] = float(len(changes) - LISTED_CHANGES)
        parts.append(f"and {len(changes) - LISTED_CHANGES} more")
    return ", ".join(parts), numbers


def _displayed(raw: str | None, value: str | None) -> tuple[str, float | None]:
    """How a stored value is written, and its number when it is a finite one; `value` is its normalised form (None
    when unset)."""
    if raw is None or not value:
        return "unset", None
    try:
        number = float(value)
    except ValueError:
        return raw.strip(), None
    if not math.isfinite(number):
        return raw.strip(), None
    return fmt(number), number


def find_duplicates(steps: Sequence[Step]) -> list[Duplicate]:
    counts = Counter(step.signature for step in steps)
    first: dict[tuple[int, str | None], Step] = {}
    duplicates = []
    for step in steps:
        if counts[step.signature] == 1:  # a configuration no other run has: no repeat (most runs)
            continue
        original = first.setdefault((step.signature, step.seed), step)
        if original is not step:
            duplicates.append(Duplicate(step.key, original.key, step.run.duration_s))
    return duplicates


def duplicate_findings(duplicates: Sequence[Duplicate]) -> list[Finding]:
    by_original: dict[str, list[Duplicate]] = {}
    for d in duplicates:
        by_original.setdefault(d.of, []).append(d)
    return [_duplicate(d, by_original[d.of]) for d in duplicates]


def _duplicate(d: Duplicate, repeats: Sequence[Duplicate]) -> Finding:
    known = [r.compute_s for r in repeats if r.compute_s is not None]
    numbers: dict[str, float] = {"repeats": len(repeats)}
    text = f"Run {d.key} repeats the configuration and seed of run {d.of}"
    text += f"; it took {fmt(d.compute_s)} s of compute" if d.compute_s is not None else "; its duration is unknown"
    if d.compute_s is not None:
        numbers["compute_s"] = d.compute_s
    text += f". {len(repeats)} repeat(s) of {d.of}"
    if known:
        numbers["total_compute_s"] = math.fsum(known)
        numbers["repeats_timed"] = len(known)
        text += f" cost {fmt(numbers['total_compute_s'])} s in total ({len(known)} with a known duration)"
    text += "."
    return Finding("duplicate", text, run_ids=(d.key, d.of), numbers=numbers, subject=d.key)
