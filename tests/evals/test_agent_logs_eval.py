"""The agent-log audit eval: every labelled log validates, its table has one cell per column on every line, and the
audit keeps the precision and recall measured when it was built (a regression guard; the figures per finding type
are printed by `python -m evals.agent_logs`)."""

from __future__ import annotations

from evals import agent_logs

# Measured on 2026-12-04: 1.00 precision and recall for every type on 6 logs, 212 rows, 79 findings; 0 of 67 near
# misses flagged. Lines of work: pairwise F1 0.64 blind, 0.77 after the vocabulary's class fixes.
FLOOR = 0.9
LINES_FLOOR = 0.72


def test_every_case_validates_and_its_table_is_rectangular() -> None:
    cases = agent_logs.load_cases()
    assert len(cases) >= 6
    for name, case in cases.items():
        lines = [line for line in case.tsv.splitlines() if line.strip()]
        widths = {len(line.split("\t")) for line in lines}
        assert len(widths) == 1 and widths.pop() >= 3, name
        rows = len(lines) - 1
        assert all(1 <= label.row <= rows for label in [*case.findings, *case.not_findings]), name


def test_each_finding_type_keeps_its_precision_and_recall() -> None:
    results = [agent_logs.run_case(name, case) for name, case in agent_logs.load_cases().items()]
    summary = agent_logs.summarize(results)
    for kind, scores in summary["per_type"].items():
        assert scores["truth"] > 0, kind
        assert scores["precision"] >= FLOOR and scores["recall"] >= FLOOR, (kind, scores)
    assert summary["near_misses_flagged"] == 0
    assert summary["lines_of_work"]["pair_f1"] >= LINES_FLOOR
