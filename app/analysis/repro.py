"""Reproduction gaps: the reproducibility fields (`REPRO_FIELDS`) each run lacks.

A data version counts as recorded when a logged dataset carries a digest; a seed when a seed parameter is set;
an environment only when it is a non-empty mapping.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from app.analysis.history import Step
from app.analysis.model import REPRO_FIELDS, Finding, ReproGap, RunView


def missing_fields(run: RunView, seed: str | None) -> tuple[str, ...]:
    present = {
        "git_commit": _set(run.git_commit),
        "data_version": _set(run.data_version) or any(_set(str(d.get("digest") or "")) for d in run.datasets),
        "seed": seed is not None,
        "environment": bool(run.environment),
        "hardware": _set(run.hardware),
        "source_name": _set(run.source_name),
        "split": _set(run.split),
        "owner": _set(run.owner),
    }
    return tuple(name for name in REPRO_FIELDS if not present[name])


def _set(value: str | None) -> bool:
    return value is not None and value.strip() != ""


def repro_gaps(steps: Sequence[Step]) -> list[ReproGap]:
    shared: dict[tuple[str, ...], tuple[str, ...]] = {}  # most runs lack the same fields: one tuple each
    gaps = ((step.key, missing_fields(step.run, step.seed)) for step in steps)
    return [ReproGap(key, shared.setdefault(missing, missing)) for key, missing in gaps if missing]


@lru_cache(maxsize=256)
def _listed(missing: tuple[str, ...]) -> str:
    return ", ".join(_LABELS[name] for name in missing)


_LABELS = {
    "git_commit": "git commit",
    "data_version": "data version",
    "seed": "seed",
    "environment": "environment (Python and library versions)",
    "hardware": "hardware",
    "source_name": "entry point",
    "split": "split description",
    "owner": "owner",
}


def repro_gap_finding(gap: ReproGap) -> Finding:
    n = len(gap.missing)
    return Finding(
        "repro_gap",
        f"Run {gap.key} lacks {n} of {len(REPRO_FIELDS)} reproducibility fields: {_listed(gap.missing)}.",
        run_ids=(gap.key,),
        numbers={"missing": n, "fields": len(REPRO_FIELDS)},
        subject=gap.key,
    )
