"""The most likely setup of a run, for reproducing it: each reproducibility field as the run recorded it, as the
person says it was, inferred from the run's siblings, or missing, with the check a reproduction must pass.

Siblings are runs that plausibly share the run's code, so a field they agree on is a likely answer: runs of the same
launch (the run's parent, its children, the other children of its parent), and runs of the same session (day) that
train the same model family (`family.py: family_of`; without a family, the same approach; without either, the same
recorded entry point). A run with another recorded entry point or another family is never a sibling. Of those, the
nearest in history are asked (up to `SIBLINGS_EACH_SIDE` before and after); a field is inferred only when every
sibling that recorded it agrees, and the setup says so and asks to confirm. An inferred value stays a gap: it is a
likely answer, not a recorded one.

What the log says wins over the siblings: when a statement citing the run says a field was not recorded (a scratch
copy, uncommitted or local changes, an unpinned environment; `unrecorded.py`), the field is a gap with that statement
quoted, never inferred; a value the run did record stays, doubted, and is a gap too.

A seed is not needed by a deterministic estimator (`determinism.py: needs_seed`): no gap, and a reproduction of such
a run matches to rounding: its tolerance is half a unit in the last digit of its stored value as documents show it
(`fmt`, at most 4 significant digits: 0.9957 -> 0.00005), never the seed noise of other runs. Every other run's
tolerance is the believable gain of one run over another. A field no run of the project records
(`Findings.project_gaps`) is a gap of the project, listed once in `Setup.project_gaps`, not in `Setup.gaps`; a value
the person supplies closes it for this run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date

from app.analysis.determinism import needs_seed
from app.analysis.family import family_of
from app.analysis.model import (
    REPRO_FIELDS,
    AnalysisSettings,
    Findings,
    LogStatement,
    RunView,
    Setup,
    SetupField,
    ToleranceRule,
)
from app.analysis.unrecorded import unrecorded_fields
from app.errors import InputInvalid, RunNotFound
from app.parsing.fmt import fmt, half_unit

SIBLINGS_EACH_SIDE = 5
_SEED_KEYS = frozenset(k.lower() for k in AnalysisSettings().seed_keys)
_EMPTY = frozenset({"", "none", "null", "nan"})


def likely_setup(
    key: str,
    runs: Sequence[RunView],
    findings: Findings,
    known: Mapping[str, str],
    said: Sequence[LogStatement] = (),
) -> Setup:
    """The setup of run `key`. `known` holds what the person supplied, by `REPRO_FIELDS` name; `said` the log's
    statements (those citing the run are read for fields it did not record)."""
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
    unrecorded = unrecorded_fields(run, said)
    fields = tuple(_field(name, run, siblings, known, name in project, unrecorded.get(name)) for name in REPRO_FIELDS)
    stored = run.metrics.get(findings.metric)
    expected = stored if stored is not None and math.isfinite(stored) else None
    rule, tolerance = _tolerance(run, expected, findings)
    return Setup(
        key=run.key,
        fields=fields,
        params=dict(run.params),
        metric=findings.metric,
        expected=expected,
        tolerance=tolerance,
        noise_source=findings.noise.source,
        gaps=tuple(f.name for f in fields if _is_gap(f) and f.name not in project),
        project_gaps=tuple(f.name for f in fields if f.source == "missing" and f.name in project),
        tolerance_rule=rule,
    )


def _is_gap(field: SetupField) -> bool:
    return field.source in ("inferred", "missing") or bool(field.said)


def _tolerance(run: RunView, expected: float | None, findings: Findings) -> tuple[ToleranceRule, float | None]:
    """A deterministic run matches to rounding; any other within the believable gain of one run over another."""
    if needs_seed(run) or expected is None:
        return "believable_gain", findings.noise.min_gain
    return "rounding", half_unit(fmt(expected))


def _field(
    name: str,
    run: RunView,
    siblings: Sequence[RunView],
    known: Mapping[str, str],
    project_gap: bool,
    unrecorded: LogStatement | None,
) -> SetupField:
    recorded = field_value(run, name)
    stated = (known.get(name) or "").strip()
    said = _quote(unrecorded) if unrecorded else ""
    if recorded is not None:
        note = f"you said {stated}; the run recorded {recorded}" if stated and stated != recorded else ""
        if said:
            note = "; ".join(filter(None, (note, f"recorded, but the log says: {said}")))
        return SetupField(name=name, value=recorded, source="run", note=note, said=said)
    if stated:
        return SetupField(name=name, value=stated, source="known")
    if name == "seed" and not needs_seed(run):
        return SetupField(name=name, value=None, source="not_needed", note="deterministic estimator: no seed needed")
    if said:
        return SetupField(name=name, value=None, source="missing", note=f"not recorded: the log says {said}", said=said)
    if project_gap:
        return SetupField(name=name, value=None, source="missing", note="no run of this project records it")
    return _inferred(name, siblings)


def _inferred(name: str, siblings: Sequence[RunView]) -> SetupField:
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


def _quote(statement: LogStatement) -> str:
    """ "(2026-12-02) “ran from a scratch copy ...”": the statement verbatim, with its day when known."""
    day = f"({statement.day.isoformat()}) " if statement.day else ""
    return f"{day}“{statement.text.strip()}”"


def field_value(run: RunView, name: str) -> str | None:
    """A reproducibility field of `run` as text, or None when the run did not record it."""
    if name == "environment":
        return render_environment(run.environment)
    if name == "data_version":
        return _data_version(run)
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


def _data_version(run: RunView) -> str | None:
    """The data version with the logged datasets' digests: "wdbc-v1 (digest 3d72e81e)" when the one dataset logged
    is that version, "v3; train (digest 3f2a9c1d)" otherwise; either alone when the run recorded only one."""
    version, datasets = _text(run.data_version), _datasets(run.datasets)
    if version is None or datasets is None:
        return version or datasets
    if len(run.datasets) == 1 and str(run.datasets[0].get("name") or version) == version:
        digest = run.datasets[0].get("digest")
        return f"{version} (digest {digest})" if digest else version
    return f"{version}; {datasets}"


def _datasets(datasets: Sequence[Mapping[str, object]]) -> str | None:
    """Logged dataset inputs, "train (digest 3f2a9c1d)"."""
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
    """The nearest runs in history that plausibly share the run's code (see the module docstring)."""
    approach = {key: a.name for a in findings.approaches for key in a.run_ids}
    kind = _kind(run, approach)
    group = [r for r in runs if r.key != run.key and _shares_code(run, kind, r, _kind(r, approach))]
    return _nearest(run, group, findings.run_order)


def _kind(run: RunView, approach: Mapping[str, str]) -> str | None:
    """What the run trains: its model family, else its approach, else None."""
    family = family_of(run)
    if family is not None:
        return "family:" + family
    return "approach:" + approach[run.key] if run.key in approach else None


def _shares_code(run: RunView, kind: str | None, other: RunView, other_kind: str | None) -> bool:
    if run.source_name and other.source_name and run.source_name != other.source_name:
        return False
    if _related(run, other):
        return kind is None or other_kind is None or kind == other_kind
    if kind != other_kind or _session(run) is None or _session(run) != _session(other):
        return False
    return kind is not None or bool(run.source_name and run.source_name == other.source_name)


def _session(run: RunView) -> date | None:
    return run.session or (run.when.date() if run.when else None)


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
