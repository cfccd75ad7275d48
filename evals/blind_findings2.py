"""Run the second blind findings set (`blind5_*`): approach grouping, one noise rule, the runner-up, reproduction
gaps that matter, nested runs, metric switches however they are phrased, and what a dump declares.

    python -m evals.blind_findings2 [-v] [--check] [--case NAME] [--json PATH]

Three case sets, all written and labelled from docs/definitions.md and issue 14 without reading `app/analysis/`:

- `cases/findings2/*.yaml`: experiment histories through `app.analysis.findings.analyze`;
- `cases/metric_switch/*.yaml`: brain dumps posted through the real service (`app.services.logs.create_log`) into
  a fresh project of a temporary SQLite database, one project per dump;
- `cases/said/*.yaml`: dumps that declare a line dead or answer an earlier open question.

Offline, no model, deterministic. Without `--check` the exit status is 0 whatever the scores.

## What the figures read, and the interfaces they expect

Figures read today's public types where they exist. Where `Findings` or the composer has no interface yet, the
runner reads the one below, and scores it as missing (recall 0, precision undefined) while it is absent:

- **grouping agreement**: each labelled line (`labels.approaches`) is matched when some `Findings.approaches[i]`
  has Jaccard >= 0.8 with it over `run_ids`. Nested parents (`labels.nested_parents`) are left out of both sides.
- **approach status**: each labelled line maps to the analyzer approach of best Jaccard; its `computed_status`
  must be the labelled one.
- **within-noise P/R**: runs that are the subject of a `within_noise` finding, in the cases that label
  `within_noise` (a list, complete for that case; omitted or null: not scored there).
- **runner-up P/R**: `Findings.best_lead` (expected, not in `Findings` yet): an object, or None when there is
  nothing to compare, with
    - `runner_up: str | None`, the run key of the best run of another approach or another configuration;
    - `beyond_noise: bool | None`, whether the best run's lead over it is beyond the noise.
  An item is (case, beyond_noise). Precision: verdicts that agree / verdicts given. Recall: verdicts that agree /
  cases labelled. `runner_up` is scored as an accuracy where labelled.
- **reproduction gaps**: per-run (run, field) pairs from `Findings.repro_gaps`, as in `evals.blind_findings`; a
  project-level gap from `Findings.project_gaps` (expected, not in `Findings` yet): a sequence of field names from
  `REPRO_FIELDS` (items may also be objects with a `field` attribute), for fields missing on every run. Such a field
  must not appear in any per-run gap. `first_gap`: the key of `Findings.repro_gaps[0]`, the gap ranked first.
- **nested parents**: a false flag is a parent run that is the subject of a `multi_change` or `within_noise`
  finding, or that is `Findings.best`.
- **metric-switch detection**, per dump, through `create_log`: the composer's warning is a `metric_switch_announced`
  warning in the composed entry (P/R over dumps); the recorded switch is a `metric_switch` entry of the project
  (P/R over (dump, metric), metric names compared normalised). A dump that warns and records nothing is counted
  (a bug, by the issue).
- **what people say**: expected pure functions in `app.compose.log_entry.declarations` (not there yet):
    - `proposed_marks(text, *, approaches: Sequence[str]) -> Sequence[obj]`, each with `approach` (one of
      `approaches`), `status` (`"abandoned"` or `"adopted"`) and `reason` (the quote);
    - `answered_questions(text, *, open_questions: Sequence[str]) -> Sequence[obj]`, each with `question` (one of
      the given open-question texts, those of the earlier dumps' composed entries, oldest first) and `quote`.
  Marks: P/R over (case, approach, status). Answers: P/R over (case, question, dump answering it); a labelled
  question is a key phrase matched like the log-entry evals (every word starts a word of the question text).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.analysis.findings import analyze
from app.analysis.model import REPRO_FIELDS, AnalysisInput, AnalysisSettings, ApproachStatus, Findings, RunView
from app.parsing.columns import normalize_metric_name
from evals.blind_findings import Project, RunCase, RunDefaults

ROOT = Path(__file__).parent / "cases"
CASES_DIR = ROOT / "findings2"
SWITCH_DIR = ROOT / "metric_switch"
SAID_DIR = ROOT / "said"
PARENT_TAG = "mlflow.parentRunId"
JACCARD = 0.8

Analyzer = Callable[[AnalysisInput], Findings]

# The targets: grouping agreement and status accuracy >= 0.95, every precision and recall >= 0.95.
TARGET = 0.95
PR_FIGURES = (
    "within_noise",
    "runner_up",
    "repro_gap",
    "project_gap",
    "switch_warning",
    "switch_recorded",
    "proposed_mark",
    "answered",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _known_fields(names: Sequence[str]) -> None:
    unknown = set(names) - set(REPRO_FIELDS)
    if unknown:
        raise ValueError(f"unknown reproducibility fields {sorted(unknown)}")


# --- the history cases -----------------------------------------------------------------------------------------


class Labels(_Strict):
    """What a careful reader says the analysis should find. A label left out (or null) is not scored."""

    nested_parents: list[str] = Field(default_factory=list)
    approaches: dict[str, list[str]] = Field(default_factory=dict)  # line name -> its run keys (parents excluded)
    approach_status: dict[str, ApproachStatus] = Field(default_factory=dict)  # keyed by line name
    within_noise: list[str] | None = None  # complete for the case when given
    best: str | None = None
    best_lead_beyond_noise: bool | None = None
    runner_up: str | None = None
    repro_gaps: dict[str, list[str]] = Field(default_factory=dict)
    repro_gaps_complete: bool = False
    project_gaps: list[str] | None = None
    first_gap: str | None = None

    @field_validator("repro_gaps")
    @classmethod
    def _fields(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for names in v.values():
            _known_fields(names)
        return v

    @field_validator("project_gaps")
    @classmethod
    def _project_fields(cls, v: list[str] | None) -> list[str] | None:
        _known_fields(v or [])
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Labels:
        unknown = set(self.approach_status) - set(self.approaches)
        if unknown:
            raise ValueError(f"approach_status names unlabelled lines: {sorted(unknown)}")
        seen: set[str] = set()
        for keys in self.approaches.values():
            if seen & set(keys):
                raise ValueError(f"runs in two lines: {sorted(seen & set(keys))}")
            seen |= set(keys)
        if seen & set(self.nested_parents):
            raise ValueError("a nested parent is not a member of a line")
        if self.runner_up is not None and self.best_lead_beyond_noise is None:
            raise ValueError("runner_up needs best_lead_beyond_noise")
        if self.first_gap is not None and self.first_gap not in self.repro_gaps:
            raise ValueError("first_gap must be a run with labelled gaps")
        both = {f for names in self.repro_gaps.values() for f in names} & set(self.project_gaps or [])
        if both:
            raise ValueError(f"project-level gaps are not per-run gaps: {sorted(both)}")
        return self


class Case(_Strict):
    why: str
    project: Project
    declared_baselines: list[str] = Field(default_factory=list)
    run_defaults: RunDefaults = Field(default_factory=RunDefaults)
    runs: list[RunCase] = Field(min_length=5, max_length=25)
    labels: Labels

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            given = RunDefaults.model_validate(data.get("run_defaults") or {}).model_dump(exclude_unset=True)
            data = dict(data)
            data["runs"] = [{**given, **run} if isinstance(run, dict) else run for run in data.get("runs") or []]
        return data

    @model_validator(mode="after")
    def _keys_exist(self) -> Case:
        keys = [r.key for r in self.runs]
        if len(set(keys)) != len(keys):
            raise ValueError("run keys must be unique")
        lab = self.labels
        cited = (
            set(self.declared_baselines)
            | set(lab.nested_parents)
            | {k for ks in lab.approaches.values() for k in ks}
            | set(lab.within_noise or [])
            | set(lab.repro_gaps)
            | {k for k in (lab.best, lab.runner_up, lab.first_gap) if k is not None}
        )
        missing = cited - set(keys)
        if missing:
            raise ValueError(f"labels cite unknown runs: {sorted(missing)}")
        parents = {r.tags[PARENT_TAG] for r in self.runs if r.tags.get(PARENT_TAG)}
        if parents != set(lab.nested_parents):
            raise ValueError(f"nested_parents must be the runs named by {PARENT_TAG} tags: {sorted(parents)}")
        if lab.approaches:
            unplaced = set(keys) - set(lab.nested_parents) - {k for ks in lab.approaches.values() for k in ks}
            if unplaced:
                raise ValueError(f"runs in no labelled line: {sorted(unplaced)}")
        return self


def load_cases(directory: Path = CASES_DIR) -> dict[str, Case]:
    return {p.stem: Case.model_validate(yaml.safe_load(p.read_text())) for p in sorted(directory.glob("*.yaml"))}


def to_input(case: Case) -> AnalysisInput:
    """As the MLflow sync stores them: a child's parent comes from its `mlflow.parentRunId` tag."""
    runs = tuple(
        RunView(
            key=r.key,
            run_id=None if r.key.startswith("name:") else r.key,
            name=r.name,
            params={k: str(v) for k, v in r.params.items()},
            metrics=dict(r.metrics),
            tags=dict(r.tags),
            when=r.start,
            session=r.start.date(),
            status=r.status,
            duration_s=r.duration_s,
            parent_run_id=r.tags.get(PARENT_TAG) or None,
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
        AnalysisSettings() if case.project.min_effect is None else AnalysisSettings(min_effect=case.project.min_effect)
    )
    return AnalysisInput(
        runs=runs,
        primary_metric=case.project.primary_metric,
        direction=case.project.direction,
        declared_baselines=frozenset(case.declared_baselines),
        settings=settings,
    )


@dataclass
class Sets:
    """Predicted and true items of one precision/recall figure."""

    predicted: set[Any] = field(default_factory=set)
    truth: set[Any] = field(default_factory=set)


@dataclass
class CaseResult:
    name: str
    sets: dict[str, Sets]
    lines: list[tuple[str, float, str | None]]  # (labelled line, best Jaccard, analyzer approach)
    statuses: list[tuple[str, ApproachStatus, ApproachStatus | None]]
    runner_up: tuple[str, str | None] | None  # (labelled, found) where labelled
    first_gap: tuple[str, str | None] | None
    best: tuple[str, str | None] | None
    parent_flags: list[str]  # "<parent>: multi_change|within_noise|best"
    missing_interfaces: list[str] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    n_parents: int = 0


def _subjects(findings: Findings, kind: str) -> set[str]:
    out: set[str] = set()
    for f in findings.findings:
        if f.kind == kind:
            subject = f.subject or (f.run_ids[0] if f.run_ids else None)
            if subject:
                out.add(subject)
    return out


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def _project_gap_names(value: Any) -> set[str]:
    return {item if isinstance(item, str) else str(getattr(item, "field", item)) for item in value or ()}


def _empty_result(name: str, case: Case, error: str) -> CaseResult:
    lab = case.labels
    return CaseResult(
        name,
        {k: Sets(truth=t) for k, t in _truth(name, case).items()},
        [(line, 0.0, None) for line in lab.approaches],
        [(line, s, None) for line, s in lab.approach_status.items()],
        (lab.runner_up, None) if lab.runner_up else None,
        (lab.first_gap, None) if lab.first_gap else None,
        (lab.best, None) if lab.best else None,
        [],
        error=error,
        n_parents=len(lab.nested_parents),
    )


def _truth(name: str, case: Case) -> dict[str, set[Any]]:
    lab = case.labels
    return {
        "within_noise": set(lab.within_noise or []),
        "runner_up": set() if lab.best_lead_beyond_noise is None else {(name, lab.best_lead_beyond_noise)},
        "repro_gap": {(k, f) for k, names in lab.repro_gaps.items() for f in names},
        "project_gap": {(name, f) for f in lab.project_gaps or []},
    }


def run_case(name: str, case: Case, analyzer: Analyzer = analyze) -> CaseResult:
    lab = case.labels
    try:
        findings = analyzer(to_input(case))
    except Exception as exc:  # a crash scores as finding nothing, and is reported
        return _empty_result(name, case, f"{type(exc).__name__}: {exc}")
    parents = set(lab.nested_parents)
    truth = _truth(name, case)
    sets = {k: Sets(truth=t) for k, t in truth.items()}
    missing: list[str] = []

    if lab.within_noise is not None:
        sets["within_noise"].predicted = _subjects(findings, "within_noise")

    if lab.best_lead_beyond_noise is not None:
        if not hasattr(findings, "best_lead"):
            missing.append("Findings.best_lead")
        lead = getattr(findings, "best_lead", None)
        verdict = getattr(lead, "beyond_noise", None)
        if verdict is not None:
            sets["runner_up"].predicted = {(name, bool(verdict))}
    lead = getattr(findings, "best_lead", None)
    runner_up = (lab.runner_up, getattr(lead, "runner_up", None)) if lab.runner_up else None

    scored = None if lab.repro_gaps_complete else set(lab.repro_gaps)
    sets["repro_gap"].predicted = {
        (g.key, f) for g in findings.repro_gaps for f in g.missing if scored is None or g.key in scored
    }
    if lab.project_gaps is not None:
        if not hasattr(findings, "project_gaps"):
            missing.append("Findings.project_gaps")
        sets["project_gap"].predicted = {(name, f) for f in _project_gap_names(getattr(findings, "project_gaps", ()))}
    first_gap = (lab.first_gap, findings.repro_gaps[0].key if findings.repro_gaps else None) if lab.first_gap else None

    groups = {a.name: set(a.run_ids) - parents for a in findings.approaches}
    lines: list[tuple[str, float, str | None]] = []
    mapped: dict[str, str | None] = {}
    for line, keys in lab.approaches.items():
        scores = sorted(((_jaccard(set(keys), g), a) for a, g in groups.items()), key=lambda t: (-t[0], t[1]))
        best_j, best_a = scores[0] if scores and scores[0][0] > 0 else (0.0, None)
        lines.append((line, best_j, best_a))
        mapped[line] = best_a
    by_name = {a.name: a for a in findings.approaches}
    statuses = [
        (line, want, by_name[a].computed_status if (a := mapped.get(line)) else None)
        for line, want in lab.approach_status.items()
    ]

    flags = [f"{p}: multi_change" for p in sorted(parents & _subjects(findings, "multi_change"))]
    flags += [f"{p}: within_noise" for p in sorted(parents & _subjects(findings, "within_noise"))]
    if findings.best in parents:
        flags.append(f"{findings.best}: best")

    notes = [
        f"metric {findings.metric} ({findings.direction}); noise {findings.noise.source} std={findings.noise.std} "
        f"min_gain={findings.noise.min_gain}; baseline {findings.baseline}; best {findings.best}",
        *(f"approach {a.name} [{a.computed_status}]: {', '.join(a.run_ids)}" for a in findings.approaches),
    ]
    return CaseResult(
        name,
        sets,
        lines,
        statuses,
        runner_up,
        first_gap,
        (lab.best, findings.best) if lab.best else None,
        flags,
        missing_interfaces=missing,
        notes=notes,
        n_parents=len(parents),
    )


# --- the metric-switch dumps -------------------------------------------------------------------------------------


class SwitchProject(_Strict):
    primary_metric: str
    direction: Literal["max", "min"]
    metrics: list[str] = Field(min_length=1)  # the metrics the project's runs record


class SwitchLabel(_Strict):
    to: str
    direction: Literal["max", "min"] | None = None


class Dump(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    text: str = Field(min_length=1)
    switch: SwitchLabel | None


class SwitchCase(_Strict):
    why: str
    project: SwitchProject
    dumps: list[Dump] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> SwitchCase:
        ids = [d.id for d in self.dumps]
        if len(set(ids)) != len(ids):
            raise ValueError("dump ids must be unique")
        known = {normalize_metric_name(m) for m in self.project.metrics}
        for d in self.dumps:
            if d.switch is not None and normalize_metric_name(d.switch.to) not in known:
                raise ValueError(f"{d.id}: switch to a metric no run records: {d.switch.to}")
        return self


def load_switch_cases(directory: Path = SWITCH_DIR) -> dict[str, SwitchCase]:
    return {p.stem: SwitchCase.model_validate(yaml.safe_load(p.read_text())) for p in sorted(directory.glob("*.yaml"))}


@dataclass
class DumpResult:
    case: str
    id: str
    label: str | None  # the normalised metric announced, or None
    warned: bool
    recorded: list[str]  # normalised metrics of the switches recorded
    error: str | None = None


@contextmanager
def _database() -> Iterator[Any]:
    from app.storage.db import make_engine, migrate

    # The service's own log lines (a grounding error, a recorded switch) would interleave with the table.
    logging.disable(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="labbook-evals-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'evals.db'}")
        migrate(engine)
        try:
            yield engine
        finally:
            engine.dispose()
            logging.disable(logging.NOTSET)


def post_dumps(cases: Mapping[str, SwitchCase]) -> list[DumpResult]:
    """Each dump into a fresh project whose one stored run records the project's metrics, through `create_log`."""
    from sqlmodel import Session

    from app.services import metric_switches
    from app.services.auth import Principal
    from app.services.logs import create_log
    from app.services.schemas import LogCreate
    from app.storage.models import Project as ProjectRow
    from app.storage.models import Run

    principal = Principal(name="evals")
    out: list[DumpResult] = []
    with _database() as engine:
        for n, (name, case) in enumerate(cases.items()):
            for m, dump in enumerate(case.dumps):
                label = normalize_metric_name(dump.switch.to) if dump.switch else None
                try:
                    with Session(engine, expire_on_commit=False) as session:
                        project = ProjectRow(
                            slug=f"p{n}-{m}",
                            name=f"{name} {dump.id}",
                            primary_metric=case.project.primary_metric,
                            metric_direction=case.project.direction,
                        )
                        session.add(project)
                        session.flush()
                        session.add(
                            Run(
                                project_id=project.id,
                                key="0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                                run_id="0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                                run_name="reference",
                                source="mlflow",
                                metrics={metric: 0.5 for metric in case.project.metrics},
                                start_time=datetime(2026, 10, 1, 9, tzinfo=UTC),
                            )
                        )
                        session.commit()
                        log = create_log(
                            session,
                            project=project,
                            principal=principal,
                            body=LogCreate(text=dump.text, session_date=date(2026, 10, 2)),
                        )
                        session.commit()
                        body = log.log_entry.body if log.log_entry else {}
                        warned = any(w.get("code") == "metric_switch_announced" for w in body.get("warnings", []))
                        recorded = [
                            normalize_metric_name(str(e.body.get("to_metric", "")))
                            for e in metric_switches.list_metric_switches(session, project=project)
                        ]
                    out.append(DumpResult(name, dump.id, label, warned, recorded))
                except Exception as exc:  # reported; scores as nothing detected
                    out.append(DumpResult(name, dump.id, label, False, [], error=f"{type(exc).__name__}: {exc}"))
    return out


def switch_sets(results: Sequence[DumpResult]) -> tuple[Sets, Sets, list[str]]:
    warning, recorded = Sets(), Sets()
    silent: list[str] = []
    for r in results:
        item = (r.case, r.id)
        if r.label is not None:
            warning.truth.add(item)
            recorded.truth.add((*item, r.label))
        if r.warned:
            warning.predicted.add(item)
        recorded.predicted |= {(*item, metric) for metric in r.recorded}
        if r.warned and not r.recorded:
            silent.append(f"{r.case}/{r.id}")
    return warning, recorded, silent


# --- what people say ---------------------------------------------------------------------------------------------


class SaidDump(_Strict):
    session_date: date
    text: str = Field(min_length=1)


class Answered(_Strict):
    question: str  # key phrase of the open question
    asked_in: int = Field(ge=0)
    answered_in: int = Field(ge=1)


class SaidLabels(_Strict):
    proposed_marks: dict[str, Literal["abandoned", "adopted"]] = Field(default_factory=dict)
    answered: list[Answered] = Field(default_factory=list)


class SaidCase(_Strict):
    why: str
    project: Project
    approaches: list[str] = Field(min_length=1)
    dumps: list[SaidDump] = Field(min_length=2)
    labels: SaidLabels

    @model_validator(mode="after")
    def _consistent(self) -> SaidCase:
        unknown = set(self.labels.proposed_marks) - set(self.approaches)
        if unknown:
            raise ValueError(f"marks on unknown approaches: {sorted(unknown)}")
        for a in self.labels.answered:
            if not a.asked_in < a.answered_in < len(self.dumps):
                raise ValueError(f"answered: dumps {a.asked_in} -> {a.answered_in} out of order or range")
        return self


def load_said_cases(directory: Path = SAID_DIR) -> dict[str, SaidCase]:
    return {p.stem: SaidCase.model_validate(yaml.safe_load(p.read_text())) for p in sorted(directory.glob("*.yaml"))}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower().replace("'", ""))


def phrase_matches(phrase: str, text: str) -> bool:
    """Every word of `phrase` starts some word of `text` (case-insensitive, punctuation ignored)."""
    words = _words(text)
    return all(any(w.startswith(p) for w in words) for p in _words(phrase))


def said_sets(cases: Mapping[str, SaidCase]) -> tuple[Sets, Sets, list[str]]:
    from app.compose.log_entry import declarations
    from app.compose.log_entry.composer import compose_log_entry
    from app.compose.log_entry.facts import ProjectFacts

    marks, answers = Sets(), Sets()
    missing = [f"declarations.{fn}" for fn in ("proposed_marks", "answered_questions") if not hasattr(declarations, fn)]
    propose = getattr(declarations, "proposed_marks", None)
    answer = getattr(declarations, "answered_questions", None)
    for name, case in cases.items():
        marks.truth |= {(name, a, s) for a, s in case.labels.proposed_marks.items()}
        facts = ProjectFacts(primary_metric=case.project.primary_metric, metric_direction=case.project.direction)
        asked: list[tuple[int, str]] = []  # (dump index, open question text)
        for i, dump in enumerate(case.dumps):
            for a in case.labels.answered:
                if a.answered_in == i:
                    answers.truth.add((name, a.question, i))
            if propose is not None:
                for mark in propose(dump.text, approaches=case.approaches):
                    marks.predicted.add((name, getattr(mark, "approach", None), getattr(mark, "status", None)))
            if answer is not None and asked:
                for found in answer(dump.text, open_questions=[q for _, q in asked]):
                    question = str(getattr(found, "question", ""))
                    for a in case.labels.answered:
                        if phrase_matches(a.question, question):
                            answers.predicted.add((name, a.question, i))
                            break
                    else:
                        answers.predicted.add((name, question, i))
            entry = compose_log_entry(dump.text, runs=[], project=facts)
            asked += [(i, item.text) for item in entry.open_questions]
    return marks, answers, missing


# --- summary -------------------------------------------------------------------------------------------------------


def _ratio(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


def _pr(s: Sets) -> dict[str, Any]:
    tp, fp, fn = len(s.predicted & s.truth), len(s.predicted - s.truth), len(s.truth - s.predicted)
    return {
        "labelled": tp + fn,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
    }


def _merge(parts: Sequence[Sets]) -> Sets:
    out = Sets()
    for p in parts:
        out.predicted |= p.predicted
        out.truth |= p.truth
    return out


def summarize(
    results: Sequence[CaseResult],
    dumps: Sequence[DumpResult] = (),
    said: tuple[Sets, Sets, list[str]] | None = None,
) -> dict[str, Any]:
    figures = {
        kind: _pr(_merge([r.sets[kind] for r in results]))
        for kind in ("within_noise", "runner_up", "repro_gap", "project_gap")
    }
    warning, recorded, silent = switch_sets(dumps)
    figures["switch_warning"], figures["switch_recorded"] = _pr(warning), _pr(recorded)
    marks, answers, said_missing = said if said is not None else (Sets(), Sets(), [])
    figures["proposed_mark"], figures["answered"] = _pr(marks), _pr(answers)

    lines = [line for r in results for line in r.lines]
    matched = sum(1 for _, j, _ in lines if j >= JACCARD)
    statuses = [s for r in results for s in r.statuses]
    status_ok = sum(1 for _, want, got in statuses if want == got)

    def acc(pairs: list[tuple[str, str | None]]) -> dict[str, Any]:
        ok = sum(1 for want, got in pairs if want == got)
        return {"correct": ok, "total": len(pairs), "accuracy": _ratio(ok, len(pairs))}

    missing = sorted({m for r in results for m in r.missing_interfaces} | set(said_missing))
    return {
        "cases": len(results),
        "runs": None,
        "grouping": {"matched": matched, "lines": len(lines), "agreement": _ratio(matched, len(lines))},
        "approach_status": {"correct": status_ok, "total": len(statuses), "accuracy": _ratio(status_ok, len(statuses))},
        "figures": figures,
        "runner_up_run": acc([r.runner_up for r in results if r.runner_up]),
        "first_gap": acc([r.first_gap for r in results if r.first_gap]),
        "best_run": acc([r.best for r in results if r.best]),
        "nested_parent_false_flags": sorted(f"{r.name}: {f}" for r in results for f in r.parent_flags),
        "nested_parents": sum(r.n_parents for r in results),
        "switch_dumps": len(dumps),
        "switch_warned_not_recorded": silent,
        "missing_interfaces": missing,
        "errors": {r.name: r.error for r in results if r.error}
        | {f"{d.case}/{d.id}": d.error for d in dumps if d.error},
    }


def check(summary: Mapping[str, Any]) -> list[str]:
    """The issue's targets missed, in words; empty when all are met. An undefined figure (nothing labelled and
    nothing predicted) counts as met; a precision undefined because nothing was predicted fails when items were
    labelled (its recall is 0 then)."""
    missed = []
    for what, key, figure in (
        ("grouping agreement", "grouping", "agreement"),
        ("status accuracy", "approach_status", "accuracy"),
    ):
        value = summary[key][figure]
        if value is not None and value < TARGET:
            missed.append(f"{what} {value:.3f} < {TARGET}")
    for kind in PR_FIGURES:
        k = summary["figures"][kind]
        for what in ("precision", "recall"):
            value = k[what]
            if value is not None and value < TARGET:
                missed.append(f"{kind} {what} {value:.3f} < {TARGET}")
    if summary["nested_parent_false_flags"]:
        missed.append(f"nested parents flagged: {len(summary['nested_parent_false_flags'])}")
    if summary["switch_warned_not_recorded"]:
        missed.append(f"dumps that warn of a switch but record none: {len(summary['switch_warned_not_recorded'])}")
    if summary["errors"]:
        missed.append(f"errors on {sorted(summary['errors'])}")
    return missed


def disagreements(result: CaseResult) -> list[str]:
    lines = []
    for kind, s in result.sets.items():
        lines += [f"missed {kind}: {item}" for item in sorted(s.truth - s.predicted, key=str)]
        lines += [f"unlabelled {kind}: {item}" for item in sorted(s.predicted - s.truth, key=str)]
    lines += [f"line {line}: best Jaccard {j:.2f} ({a})" for line, j, a in result.lines if j < JACCARD]
    lines += [f"status {line}: labelled {want}, computed {got}" for line, want, got in result.statuses if want != got]
    for what, pair in (("runner-up", result.runner_up), ("first gap", result.first_gap), ("best", result.best)):
        if pair and pair[0] != pair[1]:
            lines.append(f"{what}: labelled {pair[0]}, found {pair[1]}")
    lines += [f"nested parent flagged: {f}" for f in result.parent_flags]
    if result.error:
        lines.append(f"error: {result.error}")
    return lines


def _say(text: str = "", *, err: bool = False) -> None:
    print(text, file=sys.stderr if err else sys.stdout)  # noqa: T201 -- the eval runner reports to the terminal


def _fmt(value: float | None) -> str:
    return "  n/a" if value is None else f"{value:5.2f}"


def print_table(summary: Mapping[str, Any]) -> None:
    g, st = summary["grouping"], summary["approach_status"]
    _say(
        f"grouping agreement   {g['matched']}/{g['lines']} = {_fmt(g['agreement']).strip()}"
        f"  (best Jaccard >= {JACCARD})"
    )
    _say(f"approach status      {st['correct']}/{st['total']} = {_fmt(st['accuracy']).strip()}")
    _say(f"{'figure':<20} {'labelled':>8} {'tp':>4} {'fp':>4} {'fn':>4} {'P':>6} {'R':>6}")
    for kind, k in summary["figures"].items():
        _say(
            f"{kind:<20} {k['labelled']:>8} {k['tp']:>4} {k['fp']:>4} {k['fn']:>4} "
            f"{_fmt(k['precision']):>6} {_fmt(k['recall']):>6}"
        )
    for key in ("runner_up_run", "first_gap", "best_run"):
        a = summary[key]
        _say(f"{key:<20} {a['correct']}/{a['total']} = {_fmt(a['accuracy']).strip()}")
    _say(
        f"nested-parent false flags  {len(summary['nested_parent_false_flags'])} (parents: {summary['nested_parents']})"
    )
    _say(
        f"switch dumps that warn but record nothing  {len(summary['switch_warned_not_recorded'])}"
        f" of {summary['switch_dumps']}"
    )
    if summary["missing_interfaces"]:
        _say(f"missing interfaces (scored as finding nothing): {', '.join(summary['missing_interfaces'])}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.blind_findings2", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="print every disagreement per case")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--case", action="append", help="only this history case (repeatable); skips the dump sets")
    parser.add_argument("--json", type=Path, help="write the JSON summary here instead of stdout")
    args = parser.parse_args(argv)

    cases = load_cases()
    if args.case:
        unknown = set(args.case) - set(cases)
        if unknown:
            parser.error(f"unknown case(s): {', '.join(sorted(unknown))}")
        cases = {n: c for n, c in cases.items() if n in args.case}
    results = [run_case(name, case) for name, case in cases.items()]
    dumps = [] if args.case else post_dumps(load_switch_cases())
    said = None if args.case else said_sets(load_said_cases())
    summary = summarize(results, dumps, said)
    summary["runs"] = sum(len(c.runs) for c in cases.values())
    summary["disagreements"] = {r.name: d for r in results if (d := disagreements(r))}
    summary["switch_dumps_missed"] = [
        f"{d.case}/{d.id}: labelled {d.label}, warned {d.warned}, recorded {d.recorded}"
        for d in dumps
        if (d.label is not None) != d.warned or ([d.label] if d.label else []) != d.recorded
    ]

    print_table(summary)
    if args.verbose:
        for r in results:
            lines = disagreements(r)
            if lines:
                _say(f"\n{r.name}:")
                for line in [*lines, *r.notes]:
                    _say(f"  {line}")
        if summary["switch_dumps_missed"]:
            _say("\nmetric-switch dumps:")
            for line in summary["switch_dumps_missed"]:
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
