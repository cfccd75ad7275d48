"""Run the log_entry evals: every case's brain dump through the composer, scored, printed as a table plus JSON.

    python -m evals.run [--case NAME] [--json PATH] [-v] [--check]

Offline: the composer is the rule-based one, so there is no network and no cost. `--check` exits 1 when overall
coverage is below 0.85 or grounding below 1.0 (CI gate); otherwise the exit status is 0 whatever the scores.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict

from app.compose.log_entry.composer import compose_log_entry
from app.compose.log_entry.facts import ProjectFacts, RunFacts
from app.compose.log_entry.grounding import GroundingReport
from app.compose.log_entry.schema import SCHEMA_VERSION, LogEntry
from app.errors import LabbookError
from app.parsing.tables import parse_run_table
from evals import scorers

TASK = "log_entry"
CASES_DIR = Path(__file__).resolve().parent / "cases" / TASK
COVERAGE_FLOOR = 0.85


class Project(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    primary_metric: str
    metric_direction: Literal["max", "min"] = "max"
    metric_aliases: dict[str, str] = {}


class Case(BaseModel):
    """One case file: the dump, what was stored before it, and the labels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    why: str
    project: Project
    runs_table: str | None = None
    run_table: str | None = None
    run_ids: list[str] = []
    text: str
    labels: scorers.Labels


@dataclass(frozen=True)
class NamedCase:
    # The name is the file's stem, not a field, so a YAML file cannot claim another case's name.
    name: str
    case: Case


@dataclass(frozen=True)
class CaseResult:
    name: str
    coverage: dict[str, tuple[int, int]]
    misses: dict[str, list[str]]
    grounding: GroundingReport
    detection: scorers.Detection
    injection: bool | None  # None when the case has no injected numbers


# --- Loading and running ------------------------------------------------------------------------------------------


def load_cases(directory: Path = CASES_DIR, *, only: str | None = None) -> list[NamedCase]:
    """Every `*.yaml` case in `directory`, sorted by name, or just the one named `only`."""
    paths = sorted(directory.glob("*.yaml"))
    if only is not None:
        paths = [path for path in paths if path.stem == only]
        if not paths:
            raise SystemExit(f"no case named {only!r} in {directory}")
    return [NamedCase(path.stem, Case.model_validate(yaml.safe_load(path.read_text("utf-8")))) for path in paths]


def build_runs(case: Case) -> list[RunFacts]:
    """Runs stored before the dump plus the table pasted with it; rows with the same key merge, later wins."""
    merged: dict[str, RunFacts] = {}
    for table in (case.runs_table, case.run_table):
        if not table:
            continue
        parsed = parse_run_table(
            table, metric_aliases=case.project.metric_aliases, known_metrics=[case.project.primary_metric]
        )
        for row in parsed.rows:
            key = row.run_id or f"name:{row.run_name}"
            earlier = merged.get(key)
            metrics = {**(earlier.metrics if earlier else {}), **row.metrics}
            params = {**(earlier.params if earlier else {}), **row.params}
            name = row.run_name or (earlier.run_name if earlier else None)
            merged[key] = RunFacts(key, row.run_id, name, metrics, params)
    return list(merged.values())


def compose_case(case: Case, runs: Sequence[RunFacts]) -> LogEntry:
    project = ProjectFacts(case.project.primary_metric, case.project.metric_direction, case.project.metric_aliases)
    table_keys = _keys(case.run_table, case) if case.run_table else []
    return compose_log_entry(case.text, runs=runs, project=project, run_ids=case.run_ids, table_run_ids=table_keys)


def _keys(table: str, case: Case) -> list[str]:
    """The keys of a table pasted with the dump, as the service cites them."""
    parsed = parse_run_table(
        table, metric_aliases=case.project.metric_aliases, known_metrics=[case.project.primary_metric]
    )
    return list(dict.fromkeys(row.run_id or f"name:{row.run_name}" for row in parsed.rows))


def run_case(named: NamedCase) -> CaseResult:
    """Compose the case's entry and score it on every metric."""
    case = named.case
    runs = build_runs(case)
    entry = compose_case(case, runs)
    return CaseResult(
        name=named.name,
        coverage=scorers.coverage(entry, case.labels),
        misses=scorers.misses(entry, case.labels),
        grounding=scorers.grounding(entry, case.text, runs),
        detection=scorers.detection(entry, case.labels),
        injection=scorers.injection(entry, case.labels) if case.labels.not_results else None,
    )


# --- Summary ------------------------------------------------------------------------------------------------------


def _ratio(found: int, total: int) -> float:
    return 1.0 if total == 0 else round(found / total, 4)


def _counts(found: int, total: int) -> dict[str, Any]:
    return {"found": found, "total": total, "ratio": _ratio(found, total)}


def prompt_version() -> str | None:
    """The log_entry prompt's version, when the LLM layer and its template are there; evals run without them."""
    try:
        from app.llm.prompts import template_version
    except ImportError:
        return None
    try:
        return template_version(TASK)
    except LabbookError:
        return None


def summarize(results: Sequence[CaseResult]) -> dict[str, Any]:
    """Micro-averages over every labelled fact, check and warning code, plus one record per case."""
    coverage = {
        section: _counts(sum(r.coverage[section][0] for r in results), sum(r.coverage[section][1] for r in results))
        for section in scorers.COVERAGE_SECTIONS
    }
    tp = sum(len(r.detection.true_positives) for r in results)
    fp = sum(len(r.detection.false_positives) for r in results)
    fn = sum(len(r.detection.false_negatives) for r in results)
    injected = [r.injection for r in results if r.injection is not None]
    return {
        "task": TASK,
        "schema_version": SCHEMA_VERSION,
        "prompt_version": prompt_version(),
        "provider": "offline",
        "cost_usd": 0.0,
        "cases": len(results),
        "coverage": coverage,
        "coverage_overall": _counts(
            sum(c["found"] for c in coverage.values()), sum(c["total"] for c in coverage.values())
        ),
        "grounding": _grounding_summary(results),
        "detection": {"tp": tp, "fp": fp, "fn": fn, "precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn)},
        "injection": {"passed": sum(injected), "total": len(injected)},
        "per_case": [_case_record(r) for r in results],
    }


def _grounding_summary(results: Sequence[CaseResult]) -> dict[str, Any]:
    checked = sum(r.grounding.checked for r in results)
    grounded = sum(r.grounding.grounded for r in results)
    return {"checked": checked, "grounded": grounded, "score": _ratio(grounded, checked)}


def _case_record(result: CaseResult) -> dict[str, Any]:
    found = sum(found for found, _ in result.coverage.values())
    total = sum(total for _, total in result.coverage.values())
    return {
        "name": result.name,
        "coverage": _counts(found, total),
        "misses": result.misses,
        "grounding": result.grounding.score,
        "grounding_problems": list(result.grounding.problems),
        "warnings_missed": list(result.detection.false_negatives),
        "warnings_unexpected": list(result.detection.false_positives),
        "injection": result.injection,
    }


def passes_check(summary: dict[str, Any]) -> bool:
    return summary["coverage_overall"]["ratio"] >= COVERAGE_FLOOR and summary["grounding"]["score"] >= 1.0


# --- Output -------------------------------------------------------------------------------------------------------


def render(summary: dict[str, Any], *, verbose: bool = False) -> list[str]:
    """The report as lines: header, coverage per section, the other figures, then one line per case."""
    lines = [
        f"task {TASK}  schema {summary['schema_version']}  prompt {summary['prompt_version'] or 'n/a'}  "
        f"provider {summary['provider']}  cost ${summary['cost_usd']:.2f}  cases {summary['cases']}",
        "",
        f"{'coverage':<16}{'found':>7}{'total':>7}{'ratio':>8}",
    ]
    for section, counts in [*summary["coverage"].items(), ("overall", summary["coverage_overall"])]:
        lines.append(f"  {section:<14}{counts['found']:>7}{counts['total']:>7}{counts['ratio']:>8.2f}")
    grounding, detection, injection = summary["grounding"], summary["detection"], summary["injection"]
    lines += [
        f"grounding        {grounding['grounded']}/{grounding['checked']} checks  score {grounding['score']:.3f}",
        f"detection        precision {detection['precision']:.2f}  recall {detection['recall']:.2f}  "
        f"(tp {detection['tp']}, fp {detection['fp']}, fn {detection['fn']})",
        f"injection        {injection['passed']}/{injection['total']} cases keep injected numbers out of results",
        "",
    ]
    for record in summary["per_case"]:
        lines += _case_lines(record, verbose=verbose)
    return lines


def _case_lines(record: dict[str, Any], *, verbose: bool) -> list[str]:
    cov = record["coverage"]
    injection = {None: "-", True: "ok", False: "FAIL"}[record["injection"]]
    lines = [
        f"  {record['name']:<44} coverage {cov['found']:>2}/{cov['total']:<2} {cov['ratio']:.2f}  "
        f"grounding {record['grounding']:.2f}  injection {injection}"
    ]
    if verbose:
        lines += [f"      missed {section}: {'; '.join(facts)}" for section, facts in record["misses"].items()]
        lines += [f"      warning not raised: {code}" for code in record["warnings_missed"]]
        lines += [f"      warning raised, not expected: {code}" for code in record["warnings_unexpected"]]
        lines += [f"      grounding: {problem}" for problem in record["grounding_problems"]]
    return lines


def _say(text: str) -> None:
    print(text)  # noqa: T201 -- the eval runner reports to the terminal, like bench/


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.run", description=__doc__.splitlines()[0])
    parser.add_argument("--case", help="run only the case with this name (file stem)")
    parser.add_argument("--json", type=Path, help="write the JSON summary here instead of printing it")
    parser.add_argument("-v", "--verbose", action="store_true", help="list what each case missed")
    parser.add_argument("--check", action="store_true", help="exit 1 if coverage < 0.85 or grounding < 1.0")
    args = parser.parse_args(argv)
    summary = summarize([run_case(named) for named in load_cases(only=args.case)])
    for line in render(summary, verbose=args.verbose):
        _say(line)
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    else:
        _say(json.dumps(summary, indent=2))
    return 1 if args.check and not passes_check(summary) else 0


if __name__ == "__main__":
    sys.exit(main())
