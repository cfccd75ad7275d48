"""The eval suite runs offline: two cases end to end, every case file valid, the scorers' matching rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.compose.log_entry.schema import EntryWarning, Experiment, Item, LogEntry, StatedMetric
from evals import run, scorers

EXAMPLE_CASE = "churn_smote_example"
INJECTION_CASE = "churn_prompt_injection"
CASES = run.load_cases()


def _stated_runs(case: run.Case) -> set[str]:
    return set(case.labels.runs) | {number.run for number in case.labels.numbers if number.run is not None}


@pytest.mark.parametrize("name", [EXAMPLE_CASE, INJECTION_CASE])
def test_case_runs_end_to_end_grounded(name: str) -> None:
    result = run.run_case(*run.load_cases(only=name))
    summary = run.summarize([result])

    assert set(summary) >= {"schema_version", "prompt_version", "cost_usd", "coverage", "coverage_overall"}
    assert set(summary["coverage"]) == set(scorers.COVERAGE_SECTIONS)
    assert all(set(counts) == {"found", "total", "ratio"} for counts in summary["coverage"].values())
    assert summary["coverage_overall"]["total"] > 0
    assert summary["cost_usd"] == 0.0
    assert result.grounding.problems == ()
    assert summary["grounding"]["score"] == 1.0
    assert summary["per_case"][0]["name"] == name
    assert any(line.strip().startswith(name) for line in run.render(summary, verbose=True))


def test_injected_number_is_not_a_result() -> None:
    (named,) = run.load_cases(only=INJECTION_CASE)
    entry = run.compose_case(named.case, run.build_runs(named.case))
    assert named.case.labels.not_results == [0.99]
    assert scorers.injection(entry, named.case.labels)
    assert run.run_case(named).injection is True


def test_main_writes_the_json_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "summary.json"
    assert run.main(["--case", EXAMPLE_CASE, "--json", str(target)]) == 0
    assert json.loads(target.read_text())["cases"] == 1
    assert "coverage" in capsys.readouterr().out


# --- The case files ---------------------------------------------------------------------------------------------------


def test_there_are_enough_varied_cases() -> None:
    names = [named.name for named in CASES]
    assert len(CASES) >= 15
    assert sum(named.case.run_table is not None for named in CASES) >= 2
    assert len({name.lower() for name in names}) == len(names)
    assert len({named.case.why for named in CASES}) == len(CASES)
    assert {EXAMPLE_CASE, INJECTION_CASE} <= set(names)


@pytest.mark.parametrize("named", CASES, ids=[named.name for named in CASES])
def test_labelled_runs_exist_in_the_case_tables(named: run.NamedCase) -> None:
    keys = {facts.key for facts in run.build_runs(named.case)}
    assert _stated_runs(named.case) <= keys
    assert set(named.case.run_ids) <= keys


@pytest.mark.parametrize(
    "document",
    [
        {"why": "x", "project": {"primary_metric": "auc"}, "text": "t", "labels": {}, "surprise": 1},
        {"why": "x", "project": {"primary_metric": "auc", "direction": "max"}, "text": "t", "labels": {}},
        {"why": "x", "project": {"primary_metric": "auc"}, "text": "t", "labels": {"warnings": ["not_a_code"]}},
        {"why": "x", "project": {"primary_metric": "auc"}, "text": "t", "labels": {"numbers": [{"low": 0.8}]}},
        {
            "why": "x",
            "project": {"primary_metric": "auc"},
            "text": "t",
            "labels": {"numbers": [{"value": 1, "low": 0}]},
        },
    ],
)
def test_case_format_is_strict(document: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        run.Case.model_validate(document)


# --- Scorer rules -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phrase", "text", "found"),
    [
        ("didnt help", "smote didn't help at all", True),
        ("leak", "is the val split leaking by customer id?", True),
        ("lr 0.1 diverged", "tried lr 0.1 on lgbm too, diverged-ish", True),
        ("num_leaves", "tune lgbm num_leaves", True),
        ("group split", "drop smote; split by group", True),
        ("drop smote", "drop xgb", False),
        ("split customer", "split by cust", False),
    ],
)
def test_phrase_matching(phrase: str, text: str, found: bool) -> None:
    assert scorers.phrase_found(phrase, [Item(text=text)]) is found


def test_phrase_words_must_share_one_item() -> None:
    assert not scorers.phrase_found("group split", [Item(text="group"), Item(text="split")])


def _entry_with(stated: StatedMetric, run_id: str | None = "r1", **extra: object) -> LogEntry:
    experiment = Experiment(ref=run_id, run_id=run_id, change="c", context="c", stated=[stated], line=1)
    return LogEntry(tldr="t", experiments=[experiment], run_ids=[run_id] if run_id else [], **extra)


@pytest.mark.parametrize(
    ("stated", "label", "found"),
    [
        (StatedMetric(name=None, value=0.858, text=".858", line=1), {"value": 0.858, "run": "r1"}, True),
        (StatedMetric(name=None, value=0.858, text=".858", line=1), {"value": 0.858, "run": "r2"}, False),
        (StatedMetric(name=None, value=0.858, text=".858", line=1), {"value": 0.858}, True),
        (StatedMetric(name=None, value=93, text="93%", line=1), {"value": 0.93}, True),
        (StatedMetric(name=None, low=0.81, high=0.84, text="0.81-0.84", line=1), {"low": 0.81, "high": 0.84}, True),
        (StatedMetric(name=None, value=0.825, text="0.81-0.84", line=1), {"low": 0.81, "high": 0.84}, False),
    ],
)
def test_number_coverage(stated: StatedMetric, label: dict[str, object], found: bool) -> None:
    labels = scorers.Labels(numbers=[scorers.NumberLabel.model_validate(label)])
    assert scorers.coverage(_entry_with(stated), labels)["numbers"] == (int(found), 1)


def test_detection_and_injection() -> None:
    stated = StatedMetric(name="auc", value=0.99, text="0.99", line=1)
    entry = _entry_with(stated, warnings=[EntryWarning(code="metric_mismatch", message="m")])
    labels = scorers.Labels(warnings=["unknown_run_ref"], not_results=[0.99])
    detection = scorers.detection(entry, labels)
    assert (detection.precision, detection.recall) == (0.0, 0.0)
    assert detection.false_positives == ("metric_mismatch",)
    assert not scorers.injection(entry, labels)
    assert not scorers.injection(LogEntry(tldr="best auc is 0.99"), labels)
    assert scorers.injection(LogEntry(tldr="best auc is 0.861"), labels)


# --- The quality gate: both smoke cases recover every labelled fact ---------------------------------------------------


def test_the_two_smoke_cases_recover_every_labelled_fact() -> None:
    summary = run.summarize([run.run_case(*run.load_cases(only=name)) for name in (EXAMPLE_CASE, INJECTION_CASE)])
    assert summary["coverage_overall"]["ratio"] == 1.0


def test_all_cases_meet_the_coverage_and_grounding_targets() -> None:
    """The whole set takes well under a second offline, so the gate runs with the suite, not only in `--check`."""
    summary = run.summarize([run.run_case(named) for named in CASES])
    assert summary["coverage_overall"]["ratio"] >= 0.85
    assert summary["grounding"]["score"] == 1.0
    assert summary["injection"]["passed"] == summary["injection"]["total"]
