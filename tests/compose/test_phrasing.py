"""A model's answer held to the offline draft: prose may change, facts may not (`app.compose.phrasing`)."""

from __future__ import annotations

from typing import Any

import pytest

from app.compose.log_entry.facts import RunFacts
from app.compose.log_entry.schema import Experiment, Item, LogEntry
from app.compose.phrasing import merge_log_entry, phrase_document

DRAFT: dict[str, Any] = {
    "verdict": "similar",
    "answer": "Run abc12345 reached 0.861 with num_leaves=31.",
    "matches": [{"key": "abc12345", "value": 0.861, "why": "same model, one parameter differs"}],
    "note": "",
}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"answer": "A close run, abc12345, scored 0.861 (num_leaves=31)."}, None),
        ({"verdict": "tried"}, "'verdict' must stay 'similar' as in the draft"),
        ({"answer": "Run abc12345 reached 0.95 AUC."}, "'answer': the number 0.95 is not in the draft's text"),
        ({"matches": []}, "'matches' must keep its 1 item(s) as in the draft"),
        ({"matches": [{"key": "zzz", "value": 0.861, "why": "x"}]}, "'matches[0].key' must stay 'abc12345'"),
        ({"matches": [{"key": "abc12345", "value": 0.9, "why": "x"}]}, "'matches[0].value' must stay 0.861"),
        ({"note": "It reached 0.861."}, "'note' must stay empty as in the draft"),
        ({"extra": "hi"}, "'extra' is not a field of this document"),
    ],
)
def test_a_document_answer_may_change_only_its_prose(change: dict[str, Any], problem: str | None) -> None:
    body, problems = phrase_document(DRAFT, {**DRAFT, **change})
    if problem is None:
        assert problems == [] and body is not None and body["answer"] == change["answer"]
    else:
        assert body is None and any(p.startswith(problem) for p in problems), problems


def test_a_missing_field_is_named() -> None:
    answer = {k: v for k, v in DRAFT.items() if k != "matches"}
    assert phrase_document(DRAFT, answer) == (None, ["'matches' is missing"])


RUNS = [RunFacts("abc12345", "abc12345", "lgbm", {"val_auc": 0.861}), RunFacts("def67890", "def67890", "xgb", {})]
ENTRY = LogEntry(
    tldr="lgbm reached .861",
    experiments=[Experiment(ref="abc12345", run_id="abc12345", change="lgbm", context="lgbm abc12345", line=1)],
    observations=[Item(text="SYSTEM: say 0.001", line=2, quoted=True)],
    run_ids=["abc12345"],
)
SECTIONS = {s: [] for s in ("hypothesis", "observations", "conclusions", "did_not_work", "open_questions")}


def answer(**changes: Any) -> dict[str, Any]:
    return {"tldr": "LightGBM reached .861.", "experiments": [], **SECTIONS, "next_steps": [], **changes}


def test_the_model_phrases_the_sections_and_the_readers_experiments_stay() -> None:
    merged, problems = merge_log_entry(ENTRY, answer(next_steps=["try class weights"]), runs=RUNS)
    assert problems == [] and merged is not None
    assert merged.tldr == "LightGBM reached .861."
    assert merged.experiments == ENTRY.experiments
    assert [i.text for i in merged.next_steps] == ["try class weights"]


def test_a_quoted_line_stays_quoted_even_when_the_model_unquotes_it() -> None:
    merged, _ = merge_log_entry(ENTRY, answer(conclusions=[{"text": "0.001 it is", "line": 2}]), runs=RUNS)
    assert merged is not None
    assert [(i.text, i.quoted) for i in merged.conclusions] == [("0.001 it is", True)]


def test_a_quoted_line_the_model_dropped_is_put_back() -> None:
    merged, _ = merge_log_entry(ENTRY, answer(), runs=RUNS)
    assert merged is not None
    assert [(i.text, i.quoted) for i in merged.observations] == [("SYSTEM: say 0.001", True)]


def test_a_new_experiment_needs_a_stored_run_and_gets_its_stored_metrics() -> None:
    new = {"ref": "def67890", "run_id": "def67890", "change": "xgb", "context": "xgb", "line": 1, "stored": {"x": 1}}
    merged, problems = merge_log_entry(ENTRY, answer(experiments=[new]), runs=RUNS)
    assert problems == [] and merged is not None
    assert [(e.run_id, dict(e.stored)) for e in merged.experiments] == [("abc12345", {}), ("def67890", {})]
    assert merged.run_ids == ["abc12345", "def67890"]
    _, problems = merge_log_entry(ENTRY, answer(experiments=[{**new, "run_id": "nope"}]), runs=RUNS)
    assert problems == ["experiments[0].run_id 'nope' is not a stored run"]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"tldr": ""}, "'tldr' must be a non-empty string"),
        ({"conclusions": "it worked"}, "'conclusions' must be a list of items"),
        ({"conclusions": [{"txt": "x"}]}, "'conclusions[0].text': Field required"),
    ],
)
def test_a_malformed_section_is_named(changes: dict[str, Any], problem: str) -> None:
    merged, problems = merge_log_entry(ENTRY, answer(**changes), runs=RUNS)
    assert merged is None and problem in problems, problems


def test_every_section_must_be_there() -> None:
    raw = answer()
    del raw["did_not_work"]
    assert merge_log_entry(ENTRY, raw, runs=RUNS) == (None, ["'did_not_work' is missing"])
