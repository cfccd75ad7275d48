"""Reproduction gaps: the reproducibility fields (`REPRO_FIELDS`) each run lacks, and the ones the whole project lacks.

A data version counts as recorded when a logged dataset carries a digest; a seed when a seed parameter is set, and
a seed is not needed by a deterministic estimator (`determinism.py: needs_seed`); an environment only when it is a
non-empty mapping. A field no run of the project records is one project-level gap (`project_gaps`), never a gap of
each run. The per-run gaps are ranked by importance: the most important field lacking first (in `REPRO_FIELDS`
order: code, data, seed, environment, ...), then the most fields lacking, then history order. Since a field no run
records is project-level, a run lacking its commit or data version is one whose other runs record them: it comes
first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from app.analysis.determinism import needs_seed
from app.analysis.history import Step
from app.analysis.model import REPRO_FIELDS, Finding, ProjectGap, ReproGap, RunView

# A field becomes project-level only in a project with at least this many runs; one run's gaps stay its own.
PROJECT_GAP_MIN_RUNS = 2
_RANK = {name: i for i, name in enumerate(REPRO_FIELDS)}


def missing_fields(run: RunView, seed: str | None) -> tuple[str, ...]:
    """The fields `run` lacks for a reproduction: not recorded, and (for the seed) needed."""
    present = recorded_fields(run, seed)
    if not present["seed"] and not needs_seed(run):
        present["seed"] = True
    return tuple(name for name in REPRO_FIELDS if not present[name])


def recorded_fields(run: RunView, seed: str | None) -> dict[str, bool]:
    """Whether `run` records each field, needed or not."""
    # `_set` written out: six calls a run are a quarter of finding the gaps of 100,000 runs
    return {
        "git_commit": (v := run.git_commit) is not None and v.strip() != "",
        "data_version": ((v := run.data_version) is not None and v.strip() != "")
        or any(_set(str(d.get("digest") or "")) for d in run.datasets),
        "seed": seed is not None,
        "environment": bool(run.environment),
        "hardware": (v := run.hardware) is not None and v.strip() != "",
        "source_name": (v := run.source_name) is not None and v.strip() != "",
        "split": (v := run.split) is not None and v.strip() != "",
        "owner": (v := run.owner) is not None and v.strip() != "",
    }


def _set(value: str | None) -> bool:
    return value is not None and value.strip() != ""


def repro_gaps(steps: Sequence[Step]) -> tuple[list[ReproGap], list[ProjectGap]]:
    """The per-run gaps, most important first, and the project-level ones, in `REPRO_FIELDS` order."""
    recorded = {name: 0 for name in REPRO_FIELDS}
    missing = []
    for step in steps:
        present = recorded_fields(step.run, step.seed)
        for name in REPRO_FIELDS:
            recorded[name] += present[name]
        if not present["seed"] and not needs_seed(step.run):
            present["seed"] = True
        missing.append(tuple(name for name in REPRO_FIELDS if not present[name]))
    kinds = Counter(missing)  # most runs lack the same fields
    lacking = {name: sum(n for fields, n in kinds.items() if name in fields) for name in REPRO_FIELDS}
    project = [
        ProjectGap(name, lacking[name])
        for name in REPRO_FIELDS
        if len(steps) >= PROJECT_GAP_MIN_RUNS and recorded[name] == 0 and lacking[name] > 0
    ]
    level = {g.field for g in project}
    shared: dict[tuple[str, ...], tuple[str, ...]] = {}  # most runs lack the same fields: one tuple each
    gaps = []
    for index, (step, fields) in enumerate(zip(steps, missing, strict=True)):
        own = tuple(name for name in fields if name not in level)
        if own:
            gap = ReproGap(step.key, shared.setdefault(own, own), recorded_elsewhere=recorded[own[0]])
            gaps.append((_RANK[own[0]], -len(own), index, gap))
    gaps.sort(key=lambda t: t[:3])
    return [g for *_, g in gaps], project


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


def project_gap_finding(gap: ProjectGap) -> Finding:
    label = _LABELS[gap.field]
    return Finding(
        "project_gap",
        f"No run of this project records the {label} ({gap.runs} runs lack it): one gap of the project, to close "
        f"in the code that launches the runs, not a gap of each run.",
        numbers={"runs": gap.runs},
        subject=gap.field,
    )


def repro_gap_finding(gap: ReproGap) -> Finding:
    n = len(gap.missing)
    numbers = {"missing": n, "fields": len(REPRO_FIELDS)}
    text = f"Run {gap.key} lacks {n} of {len(REPRO_FIELDS)} reproducibility fields: {_listed(gap.missing)}."
    if gap.missing[0] in ("git_commit", "data_version") and gap.recorded_elsewhere:
        n_other = numbers["recorded_elsewhere"] = gap.recorded_elsewhere
        runs = f"{n_other} other run{'s' * (n_other != 1)}"
        text += f" The {_LABELS[gap.missing[0]]} is recorded by {runs}: close this gap first."
    return Finding("repro_gap", text, run_ids=(gap.key,), numbers=numbers, subject=gap.key)
