"""Does a number stated for a run agree with what is stored for it? Within the precision it was written with."""

from __future__ import annotations

import re

from app.compose.labels import plain_label
from app.compose.log_entry.facts import ProjectFacts, RunFacts
from app.compose.log_entry.schema import StatedMetric
from app.parsing.columns import normalize_metric_name
from app.parsing.fmt import fmt

_DECIMALS_RE = re.compile(r"\d*\.(\d+)|\d+")


def stored_metric(stated_name: str | None, run: RunFacts, project: ProjectFacts) -> str | None:
    """The stored metric a stated number is about: the name as written (or its alias), the project's primary metric
    for an unnamed number, or the one stored metric whose name contains the stated word ("auc" -> "val_auc")."""
    metrics = run.metrics
    if stated_name is None:
        if project.primary_metric in metrics:
            return project.primary_metric
        return next(iter(metrics)) if len(metrics) == 1 else None
    aliases = {normalize_metric_name(k): v for k, v in project.metric_aliases.items()}
    name = aliases.get(stated_name, stated_name)
    if name in metrics:
        return name
    containing = [m for m in metrics if stated_name in m.split("_")]
    if len(containing) == 1:
        return containing[0]
    return project.primary_metric if project.primary_metric in containing else None


def stated_mismatch(stated: StatedMetric, run: RunFacts, project: ProjectFacts) -> str | None:
    """A sentence for the warning when the stated number and the stored one disagree; None when they agree or when
    there is nothing stored to compare with."""
    name = stored_metric(stated.name, run, project)
    if name is None:
        return None
    stored = run.metrics[name]
    if _agrees(stated, stored):
        return None
    if stated.name is None and any(_agrees(stated, value) for value in run.metrics.values()):
        return None  # an unnamed number may be about any of the run's metrics
    if stated.name is None and not _comparable(stated, stored):
        return None  # "the positive rate is around 4%" beside a run with pr_auc 0.187: not a statement of its metric
    label = plain_label(run.key, run.run_name)
    return f"{stated.text} is stated for {label}, but its stored {name} is {fmt(stored)}"


def _agrees(stated: StatedMetric, stored: float) -> bool:
    tolerance = _tolerance(stated)
    candidates = [stored, stored / 100] if stated.text.rstrip("ish?-").endswith("%") else [stored]
    if stated.value is not None:
        return any(abs(stated.value - c) <= tolerance for c in candidates)
    low, high = stated.low, stated.high
    if low is None or high is None:
        return True
    return any(min(low, high) - tolerance <= c <= max(low, high) + tolerance for c in candidates)


def _comparable(stated: StatedMetric, stored: float) -> bool:
    """An unnamed number within a factor of two of the stored value could be meant as that metric."""
    values = [v for v in (stated.value, stated.low, stated.high) if v is not None]
    scaled = [v * 100 for v in values] if "%" in stated.text and abs(stored) > 1.5 else values
    return any(stored and 0.5 <= v / stored <= 2 for v in scaled)


def _tolerance(stated: StatedMetric) -> float:
    """Half a unit of the last digit written (".858" -> 0.0005); a whole unit when hedged (".93ish" -> 0.01)."""
    written = stated.text.replace(",", "")
    atoms = _DECIMALS_RE.findall(written)
    digits = max((len(a) for a in atoms), default=0)
    if digits == 0:  # "~1,850": an integer is as precise as its last non-zero digit
        integers = re.findall(r"\d+", written)
        digits = -min((len(i) - len(i.rstrip("0")) for i in integers if i.strip("0")), default=0)
    percent = "%" in stated.text
    unit = 10.0 ** -(digits + (2 if percent else 0))
    return (unit if stated.approximate else unit / 2) + 1e-12
