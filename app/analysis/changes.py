"""What each run changed (against the baseline and its closest earlier configuration), and exact repeats.

A duplicate repeats an earlier run's configuration and seed (names and times never count). A run with the same
configuration but another seed is a seed repeat, which measures noise, not a duplicate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from app.analysis.configs import Config, diff_normalised, normalise_value
from app.analysis.fmt import fmt
from app.analysis.history import Step
from app.analysis.model import Duplicate, Finding, ParamChange, RunChange


def run_changes(steps: Sequence[Step], baseline: Step | None) -> dict[str, RunChange]:
    changes: dict[str, RunChange] = {}
    for step in steps:
        vs_baseline: tuple[ParamChange, ...] = ()
        if baseline is not None and baseline is not step:
            vs_baseline = diff_normalised(baseline.run.params, baseline.config, step.run.params, step.config)
        closest = steps[step.closest] if step.closest is not None else None
        vs_closest: tuple[ParamChange, ...] = ()
        if closest is not None and closest.items != step.items:
            vs_closest = diff_normalised(closest.run.params, closest.config, step.run.params, step.config)
        changes[step.key] = RunChange(step.key, vs_baseline, closest.key if closest else None, vs_closest)
    return changes


def multi_change_findings(steps: Sequence[Step], changes: Mapping[str, RunChange]) -> list[Finding]:
    """Runs that changed more than one parameter relative to their closest earlier configuration. A run that
    switches model family starts a new line of inquiry (its hyperparameters change with the model), so it is not
    flagged; its changes are still listed in `changes`."""
    found = []
    for step in steps:
        change = changes[step.key]
        if change.closest is None or change.n_changed < 2 or _switches_family(step, steps):
            continue
        described, numbers = describe_changes(change.vs_closest)
        numbers["n_changed"] = change.n_changed
        found.append(
            Finding(
                "multi_change",
                f"Run {change.key} changed {change.n_changed} parameters at once relative to its closest earlier "
                f"configuration, {change.closest}: {described}. Its effect cannot be attributed to any one change.",
                run_ids=(change.key, change.closest),
                numbers=numbers,
                subject=change.key,
            )
        )
    return found


def _switches_family(step: Step, steps: Sequence[Step]) -> bool:
    closest = steps[step.closest] if step.closest is not None else None
    return closest is not None and step.family is not None and closest.family != step.family


def describe_changes(changes: Sequence[ParamChange]) -> tuple[str, dict[str, float]]:
    """ "C 0.1 → 1, solver lbfgs → saga", with numeric values written by `fmt` and kept in the numbers."""
    numbers: dict[str, float] = {}
    parts = []
    for c in changes:
        before = _shown(c.before, f"{c.key}.before", numbers)
        after = _shown(c.after, f"{c.key}.after", numbers)
        parts.append(f"{c.key} {before} → {after}")
    return ", ".join(parts), numbers


def _shown(raw: str | None, name: str, numbers: dict[str, float]) -> str:
    if raw is None:
        return "unset"
    value = normalise_value(raw)
    if value == "":
        return "unset"
    try:
        number = float(value)
    except ValueError:
        return raw.strip()
    if not math.isfinite(number):
        return raw.strip()
    numbers[name] = number
    return fmt(number)


def find_duplicates(steps: Sequence[Step]) -> list[Duplicate]:
    first: dict[tuple[Config, str | None], Step] = {}
    duplicates = []
    for step in steps:
        original = first.setdefault((step.items, step.seed), step)
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
