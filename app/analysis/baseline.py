"""The baseline: the run everything else is measured against."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import lru_cache

from app.analysis.history import Step
from app.analysis.model import Finding, RunView
from app.parsing.fmt import fmt

BASELINE_TAGS = ("baseline", "labbook.baseline")
TRUTHY = frozenset({"true", "1", "yes", "y"})


def is_tagged_baseline(run: RunView) -> bool:
    """A `baseline` or `labbook.baseline` tag (key matched case-insensitively) with a truthy value."""
    return any(run.tags[key].strip().lower() in TRUTHY for key in _baseline_keys(tuple(run.tags)))


@lru_cache(maxsize=4096)
def _baseline_keys(keys: tuple[str, ...]) -> tuple[str, ...]:
    """Cached per key list: a project's runs share a handful of them."""
    return tuple(key for key in keys if key.strip().lower() in BASELINE_TAGS)


def find_baseline(steps: Sequence[Step], declared: Collection[str]) -> Step | None:
    """The earliest run declared (through the API or a brain dump) or tagged as the baseline."""
    return next((s for s in steps if s.key in declared or is_tagged_baseline(s.run)), None)


def baseline_finding(baseline: Step, metric: str, declared: Collection[str]) -> Finding:
    how = "declared" if baseline.key in declared else "tagged"
    if baseline.value is None:
        return Finding(
            "baseline",
            f"The baseline is run {baseline.key} ({how}); it has no {metric} value, so gains are measured against "
            "the first scored run instead.",
            run_ids=(baseline.key,),
            subject=baseline.key,
        )
    return Finding(
        "baseline",
        f"The baseline is run {baseline.key} ({how}), with {metric} {fmt(baseline.value)}.",
        run_ids=(baseline.key,),
        numbers={"baseline_value": baseline.value},
        subject=baseline.key,
    )


def missing_baseline_finding(first: Step | None, metric: str) -> Finding:
    advice = (
        "No baseline run is declared. Run a simple baseline first (a majority-class or mean predictor, a linear "
        "model, or the default configuration) and mark it, so every gain has a reference"
    )
    if first is None or first.value is None:
        return Finding("missing_baseline", advice + ".", severity="warning")
    return Finding(
        "missing_baseline",
        f"{advice}; until then gains are measured against the first scored run, {first.key} "
        f"({metric} {fmt(first.value)}).",
        run_ids=(first.key,),
        numbers={"reference_value": first.value},
        severity="warning",
    )
