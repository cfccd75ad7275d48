"""What each run changed (against the baseline and its closest earlier configuration), and exact repeats.

A duplicate repeats an earlier run's configuration and seed (names and times never count). A run with the same
configuration but another seed is a seed repeat, which measures noise, not a duplicate.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence

from app.analysis.history import Step
from app.analysis.model import Duplicate, Finding, ParamChange, RunChange
from app.parsing.fmt import fmt


def run_changes(steps: Sequence[Step], baseline: Step | None) -> RunChanges:
    """Each run's changes against the baseline and against its closest earlier configuration, built when read."""
    return RunChanges(steps, baseline)


class RunChanges(Mapping[str, RunChange]):
    """`Findings.changes`: run key -> its `RunChange`, each built when first read, then kept. A request reads a few
    (the runs a document cites, one run's changes), while building all of them, and their diffs against the
    baseline, was a sixth of analysing 100,000 runs; the multi-change findings count the changes against each run's
    closest earlier configuration without it (`changed_count`). Two threads reading one change at once build equal
    ones. It compares equal to, and reads as, the dict of every change (`repr` builds them all).

    The changes against the baseline share their `ParamChange`s (see `_AgainstBaseline`); those against the
    closest run are built afresh, as most pairs there occur once."""

    __slots__ = ("_steps", "_by_key", "_baseline", "_made")

    def __init__(self, steps: Sequence[Step], baseline: Step | None) -> None:
        self._steps = steps
        self._by_key = {step.key: step for step in steps}  # a repeated key: the last run's, as a dict would keep
        self._baseline = _AgainstBaseline(baseline) if baseline is not None else None
        self._made: dict[str, RunChange] = {}

    def __getitem__(self, key: str) -> RunChange:
        if (made := self._made.get(key)) is None:
            made = self._made[key] = self._change(self._by_key[key])
        return made

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_key)

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def __repr__(self) -> str:
        return repr(dict(self.items()))

    def _change(self, step: Step) -> RunChange:
        against, closest = self._baseline, self._steps[step.closest] if step.closest is not None else None
        vs_baseline = against(step) if against is not None and against.baseline is not step else ()
        vs_closest = _diff(closest, step) if closest is not None and closest.signature != step.signature else ()
        return RunChange(step.key, vs_baseline, closest.key if closest else None, vs_closest)


def changed_count(before: Step, after: Step) -> int:
    """How many keys differ between two steps' configurations: `len(_diff(before, after))`, without building it."""
    return len(set(map(after.table.keys.__getitem__, frozenset(before.items).symmetric_difference(after.items))))


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


def multi_change_findings(steps: Sequence[Step]) -> list[Finding]:
    """Runs that changed more than one parameter relative to their closest earlier configuration (`n_changed` of
    their `RunChange`). A run that switches model family starts a new line of inquiry (its hyperparameters change with
    the model), so it is not flagged; its changes are still listed in `Findings.changes`."""
    found = []
    shown: dict[str | None, tuple[str, float | None]] = {}  # shared by the runs: most values recur
    for step in steps:
        if step.closest is None or _switches_family(step, steps):
            continue
        closest = steps[step.closest]
        if closest.signature == step.signature or changed_count(closest, step) < 2:
            continue
        changes = _diff(closest, step)
        # The configurations are read only for a value not yet `shown`: most runs' values all are
        listed = changes[:LISTED_CHANGES]
        known = all(c.before in shown and c.after in shown for c in listed)
        before, after = ({}, {}) if known else (closest.config, step.config)
        described, numbers = describe_changes(changes, before, after, shown)
        numbers["n_changed"] = len(changes)
        found.append(
            Finding(
                "multi_change",
                f"Run {step.key} changed {len(changes)} parameters at once relative to its closest earlier "
                f"configuration, {closest.key}: {described}. Its effect cannot be attributed to any one change.",
                run_ids=(step.key, closest.key),
                numbers=numbers,
                subject=step.key,
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
