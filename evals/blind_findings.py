"""Run the blind findings set: hand-labelled experiment histories (`cases/findings/*.yaml`) through `analyze`.

    python -m evals.blind_findings [-v] [--check] [--case NAME] [--json PATH]

The cases were written and labelled from the definitions only (docs/definitions.md), without reading `app/analysis/`,
and without running the analyzer first. Prints precision and recall per finding type (micro over cases),
approach-status and best-run accuracy, then the JSON summary; `-v` adds every disagreement per case. `--check` exits
1 below the quality targets. Offline, no model, deterministic.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.analysis.findings import analyze
from app.analysis.model import (
    REPRO_FIELDS,
    AnalysisInput,
    AnalysisSettings,
    ApproachStatus,
    Findings,
    MetricSwitch,
    RunView,
)

CASES_DIR = Path(__file__).parent / "cases" / "findings"

Analyzer = Callable[[AnalysisInput], Findings]
Scalar = str | int | float | bool

# (finding type, precision floor, recall floor); None: reported, not gated. The quality targets.
TARGETS: dict[str, tuple[float | None, float | None]] = {
    "duplicate": (0.95, 0.95),
    "multi_change": (0.95, 0.95),
    "missing_baseline": (0.95, 1.0),
    "repro_gap": (0.95, 1.0),
    "within_noise": (None, None),
    "stall": (None, None),
}
STATUS_TARGET = 0.9
KINDS = tuple(TARGETS)


# --- the case format ----------------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Project(_Strict):
    primary_metric: str
    direction: Literal["max", "min"] = "max"
    min_effect: float | None = None


class Switch(_Strict):
    metric: str
    direction: Literal["max", "min"]
    effective: date
    reason: str
    previous_metric: str | None = None
    previous_direction: Literal["max", "min"] | None = None


class RunDefaults(_Strict):
    """Values every run takes unless it sets the field itself (an explicit `null` or `""` blanks it)."""

    source: Literal["mlflow", "table"] = "mlflow"
    seed: str | int | None = None
    git_commit: str | None = None
    data_version: str | None = None
    datasets: list[dict[str, Any]] = Field(default_factory=list)
    environment: dict[str, Any] = Field(default_factory=dict)
    hardware: str | None = None
    source_name: str | None = None
    split: str | None = None
    owner: str | None = None


class RunCase(RunDefaults):
    key: str
    name: str | None = None
    start: datetime
    status: str = "FINISHED"
    duration_s: float | None = None
    params: dict[str, Scalar] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("start")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)

    @field_validator("environment", mode="before")
    @classmethod
    def _env(cls, v: Any) -> Any:
        return {} if v is None else v


class DuplicateLabel(_Strict):
    key: str
    of: str


class Labels(_Strict):
    """What a careful reader says `analyze` should find. Lists left out mean "none expected"."""

    duplicates: list[DuplicateLabel] = Field(default_factory=list)
    multi_change: list[str] = Field(default_factory=list)
    missing_baseline: bool
    repro_gaps: dict[str, list[str]] = Field(default_factory=dict)
    # True: every run is labelled (a run not in `repro_gaps` has none). False: only the listed runs are scored.
    repro_gaps_complete: bool = False
    within_noise: list[str] = Field(default_factory=list)
    stall: bool
    approach_status: dict[str, ApproachStatus] = Field(default_factory=dict)
    best: str

    @field_validator("repro_gaps")
    @classmethod
    def _fields(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for key, names in v.items():
            unknown = set(names) - set(REPRO_FIELDS)
            if unknown:
                raise ValueError(f"{key}: unknown reproducibility fields {sorted(unknown)}")
        return v


class Case(_Strict):
    why: str
    project: Project
    declared_baselines: list[str] = Field(default_factory=list)
    metric_switches: list[Switch] = Field(default_factory=list)
    run_defaults: RunDefaults = Field(default_factory=RunDefaults)
    runs: list[RunCase] = Field(min_length=5, max_length=25)
    labels: Labels

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            defaults = RunDefaults.model_validate(data.get("run_defaults") or {})
            given = defaults.model_dump(exclude_unset=True)
            data = dict(data)
            data["runs"] = [{**given, **run} if isinstance(run, dict) else run for run in data.get("runs") or []]
        return data

    @model_validator(mode="after")
    def _keys_exist(self) -> Case:
        keys = [r.key for r in self.runs]
        if len(set(keys)) != len(keys):
            raise ValueError("run keys must be unique")
        known = set(keys)
        lab = self.labels
        cited = (
            set(self.declared_baselines)
            | {d.key for d in lab.duplicates}
            | {d.of for d in lab.duplicates}
            | set(lab.multi_change)
            | set(lab.within_noise)
            | set(lab.repro_gaps)
            | {lab.best}
        )
        missing = cited - known
        if missing:
            raise ValueError(f"labels cite unknown runs: {sorted(missing)}")
        tagged = {r.tags.get("approach") for r in self.runs}
        unknown_approaches = set(lab.approach_status) - tagged
        if unknown_approaches:
            raise ValueError(f"approach_status names no tagged approach: {sorted(unknown_approaches)}")
        return self


def load_cases(directory: Path = CASES_DIR) -> dict[str, Case]:
    return {p.stem: Case.model_validate(yaml.safe_load(p.read_text())) for p in sorted(directory.glob("*.yaml"))}


def _param(value: Scalar) -> str:
    return str(value)


def to_input(case: Case) -> AnalysisInput:
    runs = tuple(
        RunView(
            key=r.key,
            run_id=None if r.key.startswith("name:") else r.key,
            name=r.name,
            params={k: _param(v) for k, v in r.params.items()},
            metrics=dict(r.metrics),
            tags=dict(r.tags),
            when=r.start,
            session=r.start.date(),
            status=r.status,
            duration_s=r.duration_s,
            source=r.source,
            git_commit=r.git_commit,
            data_version=r.data_version,
            datasets=tuple(r.datasets),
            seed=None if r.seed is None else str(r.seed),
            environment=dict(r.environment),
            hardware=r.hardware,
            source_name=r.source_name,
            split=r.split,
            owner=r.owner,
        )
        for r in case.runs
    )
    settings = (
        AnalysisSettings(min_effect=case.project.min_effect)
        if case.project.min_effect is not None
        else AnalysisSettings()
    )
    return AnalysisInput(
        runs=runs,
        primary_metric=case.project.primary_metric,
        direction=case.project.direction,
        metric_switches=tuple(
            MetricSwitch(
                metric=s.metric,
                direction=s.direction,
                effective=s.effective,
                reason=s.reason,
                previous_metric=s.previous_metric,
                previous_direction=s.previous_direction,
            )
            for s in case.metric_switches
        ),
        declared_baselines=frozenset(case.declared_baselines),
        settings=settings,
    )


# --- scoring --------------------------------------------------------------------------------------------------------


@dataclass
class CaseResult:
    name: str
    predicted: dict[str, set[Any]]
    truth: dict[str, set[Any]]
    statuses: list[
        tuple[str, ApproachStatus, ApproachStatus | None]
    ]  # (approach, labelled, computed or None when not found)
    best: tuple[str, str | None]  # (labelled, found)
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def _subjects(findings: Findings, kind: str) -> set[str]:
    out: set[str] = set()
    for f in findings.findings:
        if f.kind == kind:
            subject = f.subject or (f.run_ids[0] if f.run_ids else None)
            if subject:
                out.add(subject)
    return out


def truth_of(name: str, case: Case) -> dict[str, set[Any]]:
    lab = case.labels
    return {
        "duplicate": {(d.key, d.of) for d in lab.duplicates},
        "multi_change": set(lab.multi_change),
        "missing_baseline": {name} if lab.missing_baseline else set(),
        "repro_gap": {(k, f) for k, names in lab.repro_gaps.items() for f in names},
        "within_noise": set(lab.within_noise),
        "stall": {name} if lab.stall else set(),
    }


def predicted_of(name: str, case: Case, findings: Findings) -> dict[str, set[Any]]:
    lab = case.labels
    scored = None if lab.repro_gaps_complete else set(lab.repro_gaps)
    gaps = {(g.key, f) for g in findings.repro_gaps for f in g.missing if scored is None or g.key in scored}
    return {
        "duplicate": {(d.key, d.of) for d in findings.duplicates},
        "multi_change": _subjects(findings, "multi_change"),
        "missing_baseline": {name} if findings.of_kind("missing_baseline") else set(),
        "repro_gap": gaps,
        "within_noise": _subjects(findings, "within_noise"),
        "stall": {name} if findings.stalled else set(),
    }


def run_case(name: str, case: Case, analyzer: Analyzer = analyze) -> CaseResult:
    truth = truth_of(name, case)
    try:
        findings = analyzer(to_input(case))
    except Exception as exc:  # a crash scores as finding nothing, and is reported
        return CaseResult(
            name,
            {k: set() for k in KINDS},
            truth,
            [(a, s, None) for a, s in case.labels.approach_status.items()],
            (case.labels.best, None),
            error=f"{type(exc).__name__}: {exc}",
        )
    by_name = {a.name: a for a in findings.approaches}
    statuses = [
        (a, s, by_name[a].computed_status if a in by_name else None) for a, s in case.labels.approach_status.items()
    ]
    notes = [
        f"metric in force {findings.metric} ({findings.direction}); noise {findings.noise.source} "
        f"std={findings.noise.std} min_gain={findings.noise.min_gain}; baseline {findings.baseline}"
    ]
    for a in findings.approaches:
        if (
            a.name in case.labels.approach_status
            and by_name[a.name].computed_status != case.labels.approach_status[a.name]
        ):
            notes.append(
                f"approach {a.name}: {a.computed_status} ({a.reason}); gain_vs_baseline={a.gain_vs_baseline} "
                f"recent_gain={a.recent_gain}"
            )
    return CaseResult(
        name, predicted_of(name, case, findings), truth, statuses, (case.labels.best, findings.best), notes=notes
    )


def _ratio(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


def summarize(results: Sequence[CaseResult]) -> dict[str, Any]:
    kinds: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        tp = sum(len(r.predicted[kind] & r.truth[kind]) for r in results)
        fp = sum(len(r.predicted[kind] - r.truth[kind]) for r in results)
        fn = sum(len(r.truth[kind] - r.predicted[kind]) for r in results)
        kinds[kind] = {
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "labelled": tp + fn,
            "precision": _ratio(tp, tp + fp),
            "recall": _ratio(tp, tp + fn),
        }
    statuses = [s for r in results for s in r.statuses]
    status_ok = sum(1 for _, want, got in statuses if want == got)
    best_ok = sum(1 for r in results if r.best[0] == r.best[1])
    return {
        "cases": len(results),
        "runs": None,
        "kinds": kinds,
        "approach_status": {"correct": status_ok, "total": len(statuses), "accuracy": _ratio(status_ok, len(statuses))},
        "best_run": {"correct": best_ok, "total": len(results), "accuracy": _ratio(best_ok, len(results))},
        "errors": {r.name: r.error for r in results if r.error},
    }


def check(summary: Mapping[str, Any]) -> list[str]:
    """Targets missed, in words; empty when every target is met. An undefined figure (no labels, no predictions)
    counts as met only when nothing was labelled or predicted for it."""
    missed = []
    for kind, (p_floor, r_floor) in TARGETS.items():
        k = summary["kinds"][kind]
        for what, floor in (("precision", p_floor), ("recall", r_floor)):
            value = k[what]
            if floor is not None and value is not None and value < floor:
                missed.append(f"{kind} {what} {value:.3f} < {floor}")
    acc = summary["approach_status"]["accuracy"]
    if acc is not None and acc < STATUS_TARGET:
        missed.append(f"approach status accuracy {acc:.3f} < {STATUS_TARGET}")
    if summary["errors"]:
        missed.append(f"analyze raised on {sorted(summary['errors'])}")
    return missed


def disagreements(result: CaseResult) -> list[str]:
    lines = []
    for kind in KINDS:
        for item in sorted(result.truth[kind] - result.predicted[kind], key=str):
            lines.append(f"missed {kind}: {item}")
        for item in sorted(result.predicted[kind] - result.truth[kind], key=str):
            lines.append(f"unlabelled {kind}: {item}")
    for approach, want, got in result.statuses:
        if want != got:
            lines.append(f"approach {approach}: labelled {want}, computed {got}")
    if result.best[0] != result.best[1]:
        lines.append(f"best: labelled {result.best[0]}, found {result.best[1]}")
    if result.error:
        lines.append(f"error: {result.error}")
    return lines


def _say(text: str = "", *, err: bool = False) -> None:
    print(text, file=sys.stderr if err else sys.stdout)  # noqa: T201 -- the eval runner reports to the terminal


def _fmt(value: float | None) -> str:
    return "  n/a" if value is None else f"{value:5.2f}"


def print_table(summary: Mapping[str, Any]) -> None:
    _say(f"{'finding':<18} {'labelled':>8} {'tp':>4} {'fp':>4} {'fn':>4} {'P':>6} {'R':>6}")
    for kind, k in summary["kinds"].items():
        _say(
            f"{kind:<18} {k['labelled']:>8} {k['tp']:>4} {k['fp']:>4} {k['fn']:>4} "
            f"{_fmt(k['precision']):>6} {_fmt(k['recall']):>6}"
        )
    st, best = summary["approach_status"], summary["best_run"]
    _say(f"approach status    {st['correct']}/{st['total']} = {_fmt(st['accuracy']).strip()}")
    _say(f"best run           {best['correct']}/{best['total']} = {_fmt(best['accuracy']).strip()}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.blind_findings", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="print every disagreement per case")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--case", action="append", help="only this case (repeatable)")
    parser.add_argument("--json", type=Path, help="write the JSON summary here instead of stdout")
    args = parser.parse_args(argv)

    cases = load_cases()
    if args.case:
        unknown = set(args.case) - set(cases)
        if unknown:
            parser.error(f"unknown case(s): {', '.join(sorted(unknown))}")
        cases = {n: c for n, c in cases.items() if n in args.case}
    results = [run_case(name, case) for name, case in cases.items()]
    summary = summarize(results)
    summary["runs"] = sum(len(c.runs) for c in cases.values())
    summary["disagreements"] = {r.name: d for r in results if (d := disagreements(r))}

    print_table(summary)
    if args.verbose:
        for r in results:
            lines = disagreements(r)
            if lines:
                _say(f"\n{r.name}:")
                for line in [*lines, *r.notes]:
                    _say(f"  {line}")
    text = json.dumps(summary, indent=2, default=str)
    if args.json:
        args.json.write_text(text + "\n")
    else:
        _say(text)

    if args.check:
        missed = check(summary)
        for line in missed:
            _say(f"TARGET MISSED: {line}", err=True)
        return 1 if missed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
