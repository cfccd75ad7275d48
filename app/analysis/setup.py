"""The most likely setup of a run, for reproducing it: each reproducibility field as the run recorded it, as the
person says it was, inferred from the run's siblings, or missing, with the check a reproduction must pass.

Siblings are the runs most like this one in how they were launched: the same entry point (`source_name`), else the
same approach, else the same parent run (or the parent itself). Of those, the nearest in history are asked (up to
`SIBLINGS_EACH_SIDE` before and after); a field is inferred only when every sibling that recorded it agrees, and the
setup says so and asks to confirm. An inferred value stays a gap: it is a likely answer, not a recorded one.

A seed is not needed by a deterministic estimator (`determinism.py: needs_seed`): no gap. A field no run of the
project records (`Findings.project_gaps`) is a gap of the project, listed once in `Setup.project_gaps`, not in
`Setup.gaps`; a value the person supplies closes it for this run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from app.analysis.determinism import needs_seed
from app.analysis.model import REPRO_FIELDS, AnalysisSettings, Findings, RunView, Setup, SetupField
from app.errors import InputInvalid, RunNotFound

SIBLINGS_EACH_SIDE = 5
_SEED_KEYS = frozenset(k.lower() for k in AnalysisSettings().seed_keys)
_EMPTY = frozenset({"", "none", "null", "nan"})


def likely_setup(key: str, runs: Sequence[RunView], findings: Findings, known: Mapping[str, str]) -> Setup:
    """The setup of run `key`. `known` holds what the person supplied, by `REPRO_FIELDS` name."""
    for name in known:
        if name not in REPRO_FIELDS:
            raise InputInvalid(
                f"{name!r} is not a reproducibility field; use one of {', '.join(REPRO_FIELDS)}", field=f"known.{name}"
            )
    run = next((r for r in runs if r.key == key), None) or next((r for r in runs if r.run_id == key), None)
    if run is None:
        raise RunNotFound(f"no stored run {key!r} in this project", field="run")
    siblings = _siblings(run, runs, findings)
    project = {g.field for g in findings.project_gaps}
    fields = tuple(_field(name, run, siblings, known, name in project) for name in REPRO_FIELDS)
    expected = run.metrics.get(findings.metric)
    noise = findings.noise
    return Setup(
        key=run.key,
        fields=fields,
        params=dict(run.params),
        metric=findings.metric,
        expected=expected if expected is not None and math.isfinite(expected) else None,
        tolerance=noise.min_gain,  # one re-run against one stored run: the believable gain
        noise_source=noise.source,
        gaps=tuple(f.name for f in fields if f.source in ("inferred", "missing") and f.name not in project),
        project_gaps=tuple(f.name for f in fields if f.source == "missing" and f.name in project),
    )


def _field(
    name: str, run: RunView, siblings: Sequence[RunView], known: Mapping[str, str], project_gap: bool
) -> SetupField:
    recorded = field_value(run, name)
    stated = (known.get(name) or "").strip()
    if recorded is not None:
        note = f"you said {stated}; the run recorded {recorded}" if stated and stated != recorded else ""
        return SetupField(name=name, value=recorded, source="run", note=note)
    if stated:
        return SetupField(name=name, value=stated, source="known")
    if name == "seed" and not needs_seed(run):
        return SetupField(name=name, value=None, source="not_needed", note="deterministic estimator: no seed needed")
    if project_gap:
        return SetupField(name=name, value=None, source="missing", note="no run of this project records it")
    having = [(s.key, v) for s in siblings if (v := field_value(s, name)) is not None]
    values = {v for _, v in having}
    if len(values) == 1:
        n = len(having)
        return SetupField(
            name=name,
            value=values.pop(),
            source="inferred",
            evidence=tuple(k for k, _ in having),
            note=f"inferred from {n} sibling runs that agree; confirm"
            if n > 1
            else "inferred from 1 sibling run; confirm",
        )
    note = f"sibling runs disagree ({len(values)} values); not inferred" if values else ""
    return SetupField(name=name, value=None, source="missing", note=note)


def field_value(run: RunView, name: str) -> str | None:
    """A reproducibility field of `run` as text, or None when the run did not record it."""
    if name == "environment":
        return render_environment(run.environment)
    if name == "data_version":
        return _text(run.data_version) or _datasets(run.datasets)
    if name == "seed":
        return _text(run.seed) or next(
            (_text(v) for k, v in sorted(run.params.items()) if k.lower() in _SEED_KEYS and _text(v)), None
        )
    value = getattr(run, name)
    return _text(value if isinstance(value, str) else None)


def render_environment(environment: Mapping[str, object]) -> str | None:
    """ "python 3.11.7; numpy 1.26.4, scikit-learn 1.5.2": Python first, then the packages by name."""
    python = environment.get("python")
    packages = environment.get("packages")
    parts = [f"python {python}"] if python else []
    if isinstance(packages, Mapping) and packages:
        parts.append(", ".join(f"{name} {version}" for name, version in sorted(packages.items())))
    return "; ".join(parts) or None


def _datasets(datasets: Sequence[Mapping[str, object]]) -> str | None:
    """Logged dataset inputs, "train (digest 3f2a9c1d)", when no data version was recorded."""
    parts = []
    for dataset in datasets:
        name, digest = dataset.get("name"), dataset.get("digest")
        if name and digest:
            parts.append(f"{name} (digest {digest})")
        elif name or digest:
            parts.append(str(name or f"digest {digest}"))
    return ", ".join(sorted(parts)) or None


def _text(value: str | None) -> str | None:
    if value is None or value.strip().lower() in _EMPTY:
        return None
    return value.strip()


def _siblings(run: RunView, runs: Sequence[RunView], findings: Findings) -> list[RunView]:
    """The nearest runs in history of the first non-empty group: same entry point, approach, or parent."""
    approach = next((a for a in findings.approaches if run.key in a.run_ids), None)
    members = set(approach.run_ids) if approach else set()
    groups = (
        [r for r in runs if run.source_name and r.source_name == run.source_name],
        [r for r in runs if r.key in members],
        [r for r in runs if _related(run, r)],
    )
    group = next((g for g in (_others(g, run) for g in groups) if g), [])
    return _nearest(run, group, findings.run_order)


def _others(group: list[RunView], run: RunView) -> list[RunView]:
    return [r for r in group if r.key != run.key]


def _related(run: RunView, other: RunView) -> bool:
    """Children of the same parent, the run's parent, or its children."""
    return bool(
        (run.parent_run_id and other.parent_run_id == run.parent_run_id)
        or (run.parent_run_id and other.run_id == run.parent_run_id)
        or (run.run_id and other.parent_run_id == run.run_id)
    )


def _nearest(run: RunView, group: list[RunView], run_order: Sequence[str]) -> list[RunView]:
    """Up to `SIBLINGS_EACH_SIDE` runs of `group` either side of `run` in history order (by time without one)."""
    if run.key in run_order:
        position = {key: float(i) for i, key in enumerate(run_order)}
        at = position[run.key]
        place = {r.key: position.get(r.key, math.inf) for r in group}
    else:
        at = run.when.timestamp() if run.when else math.inf
        place = {r.key: r.when.timestamp() if r.when else math.inf for r in group}
    ordered = sorted(group, key=lambda r: (place[r.key], r.key))
    before = [r for r in ordered if place[r.key] < at]
    after = [r for r in ordered if place[r.key] >= at]
    return before[-SIBLINGS_EACH_SIDE:] + after[:SIBLINGS_EACH_SIDE]
