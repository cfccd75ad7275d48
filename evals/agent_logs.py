"""The agent-log audit eval: research agents' result logs (`evals/cases/agent_logs/`, labelled blind from
docs/definitions.md) through the table reader and the analysis, scored per finding type.

    python -m evals.agent_logs [--case NAME] [-v] [--json PATH]

Each case is a `results.tsv` as an agent writes it, the project's metric and the audit findings the definitions
give, as (type, row) with rows counted from 1, plus near misses that must not be flagged and the lines of work a
person would group the rows into. Printed: precision and recall per finding type and overall, the near misses
flagged, and the agreement of the rows' lines of work (pairwise F1: two rows in one line of work in the truth and
in the prediction) when the analysis groups them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from app.analysis.findings import analyze
from app.analysis.lines import lines_of_work
from app.analysis.tried import settings_in_words
from app.analysis.model import AUDIT_KINDS, AnalysisInput, AnalysisSettings, Findings, RunView
from app.parsing.tables import ParsedTable, parse_run_table

CASES_DIR = Path(__file__).resolve().parent / "cases" / "agent_logs"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Project(_Strict):
    primary_metric: str
    direction: Literal["min", "max"]
    min_effect: float = 0.005


class Label(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    type: str
    row: int


class Case(_Strict):
    kind: Literal["agent_log"]
    why: str
    project: Project
    tsv: str
    findings: list[Label]
    not_findings: list[Label] = Field(default_factory=list)
    lines_of_work: dict[str, list[int]] = Field(default_factory=dict)


@dataclass
class CaseResult:
    name: str
    truth: set[tuple[str, int]]
    predicted: set[tuple[str, int]]
    near_misses: set[tuple[str, int]]
    rows: int
    messages: dict[tuple[str, int], str] = field(default_factory=dict)
    pairs: tuple[int, int, int] = (0, 0, 0)  # lines of work: pairs together in both, in the prediction, in the truth
    lines: dict[int, str] = field(default_factory=dict)  # row -> predicted line


def load_cases(directory: Path = CASES_DIR) -> dict[str, Case]:
    return {p.stem: Case.model_validate(yaml.safe_load(p.read_text())) for p in sorted(directory.glob("*.yaml"))}


def to_input(case: Case) -> tuple[AnalysisInput, ParsedTable]:
    """The log as the analysis sees it once imported: each row a run, in row order."""
    table = parse_run_table(case.tsv, read_words=settings_in_words)  # as the import reads it
    runs = tuple(
        RunView(
            key=row.key,
            run_id=row.run_id,
            name=row.run_name,
            params=row.params,
            metrics=row.metrics,
            tags=row.tags,
            status=row.fields.get("status"),
            seed=row.fields.get("seed"),
            git_commit=row.fields.get("git_commit"),
        )
        for row in table.rows
    )
    settings = AnalysisSettings(min_effect=case.project.min_effect)
    inp = AnalysisInput(runs, case.project.primary_metric, case.project.direction, settings=settings)
    return inp, table


def run_case(name: str, case: Case) -> CaseResult:
    inp, table = to_input(case)
    findings: Findings = analyze(inp)
    row_of = {row.key: number for number, row in enumerate(table.rows, start=1)}
    predicted: set[tuple[str, int]] = set()
    messages: dict[tuple[str, int], str] = {}
    for finding in findings.findings:
        if finding.kind in AUDIT_KINDS and finding.subject in row_of:
            key = (finding.kind, row_of[finding.subject])
            predicted.add(key)
            messages[key] = finding.message
    truth = {(label.type, label.row) for label in case.findings}
    near = {(label.type, label.row) for label in case.not_findings}
    line_of = {row_of[key]: line.name for line in lines_of_work(inp.runs, findings) for key in line.run_ids}
    return CaseResult(name, truth, predicted, near, len(table.rows), messages, _pairs(case, line_of), line_of)


def _pairs(case: Case, predicted: dict[int, str]) -> tuple[int, int, int]:
    """Pairwise agreement of the lines of work over the rows the truth groups (crashed rows are left out)."""
    truth = {row: name for name, rows in case.lines_of_work.items() for row in rows}
    rows = sorted(truth)
    both = in_predicted = in_truth = 0
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            same_truth, same_predicted = truth[a] == truth[b], predicted.get(a) == predicted.get(b)
            both += same_truth and same_predicted
            in_predicted += same_predicted
            in_truth += same_truth
    return both, in_predicted, in_truth


def summarize(results: Sequence[CaseResult]) -> dict[str, Any]:
    per: dict[str, dict[str, int]] = {k: Counter() for k in AUDIT_KINDS}  # type: ignore[misc]
    for result in results:
        for kind in AUDIT_KINDS:
            truth = {r for k, r in result.truth if k == kind}
            predicted = {r for k, r in result.predicted if k == kind}
            per[kind]["tp"] += len(truth & predicted)
            per[kind]["fp"] += len(predicted - truth)
            per[kind]["fn"] += len(truth - predicted)
    table = {kind: _scores(c["tp"], c["fp"], c["fn"]) for kind, c in per.items()}
    total = Counter[str]()
    for c in per.values():
        total.update(c)
    near_flagged = sum(len(r.near_misses & r.predicted) for r in results)
    both, in_predicted, in_truth = (sum(r.pairs[i] for r in results) for i in range(3))
    pair_precision = both / in_predicted if in_predicted else 1.0
    pair_recall = both / in_truth if in_truth else 1.0
    pair_f1 = 2 * pair_precision * pair_recall / (pair_precision + pair_recall) if both else 0.0
    return {
        "cases": len(results),
        "rows": sum(r.rows for r in results),
        "per_type": table,
        "overall": _scores(total["tp"], total["fp"], total["fn"]),
        "near_misses": sum(len(r.near_misses) for r in results),
        "near_misses_flagged": near_flagged,
        "lines_of_work": {"pair_precision": pair_precision, "pair_recall": pair_recall, "pair_f1": pair_f1},
    }


def _scores(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {"truth": tp + fn, "tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall}


def print_report(results: Sequence[CaseResult], summary: dict[str, Any], *, verbose: bool) -> None:
    print(f"agent-log audit: {summary['cases']} logs, {summary['rows']} rows")
    print(f"{'finding':<20} {'truth':>5} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>7}")
    for kind, s in [*summary["per_type"].items(), ("overall", summary["overall"])]:
        print(
            f"{kind:<20} {s['truth']:>5} {s['tp']:>4} {s['fp']:>4} {s['fn']:>4} "
            f"{s['precision']:>9.2f} {s['recall']:>7.2f}"
        )
    print(f"near misses flagged: {summary['near_misses_flagged']} of {summary['near_misses']}")
    lines = summary["lines_of_work"]
    print(
        f"lines of work, pairwise: precision {lines['pair_precision']:.2f}, recall {lines['pair_recall']:.2f}, "
        f"F1 {lines['pair_f1']:.2f}"
    )
    if verbose:
        for r in results:
            for kind, row in sorted(r.predicted - r.truth):
                print(f"  FP {r.name} row {row} {kind}: {r.messages[(kind, row)][:160]}")
            for kind, row in sorted(r.truth - r.predicted):
                print(f"  FN {r.name} row {row} {kind}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    cases = load_cases()
    if args.case:
        cases = {args.case: cases[args.case]}
    results = [run_case(name, case) for name, case in cases.items()]
    summary = summarize(results)
    print_report(results, summary, verbose=args.verbose)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
