"""check_document_grounding catches invented numbers, unknown runs and proposals or tables that do not follow."""

from __future__ import annotations

from dataclasses import replace

from app.compose.documents import Composed, check_document_grounding, compose_decision, compose_next_experiments
from app.compose.documents.schemas import Evidence, NextExperiments
from tests.compose.documents.fixtures import context, findings, planned
from tests.compose.documents.test_decision_repro_brief import RANKING


def plan() -> Composed:
    return compose_next_experiments(
        planned(context(), findings()), findings(), target=None, deadline=None, budget_runs=None, budget_hours=None
    )


def test_the_composed_plan_is_grounded() -> None:
    assert check_document_grounding(plan(), planned(context(), findings()), findings()) == []


def test_an_invented_number_is_caught() -> None:
    composed = plan()
    tampered = replace(composed, markdown=composed.markdown + "\nThis should reach val_auc 0.9123 next week.\n")
    problems = check_document_grounding(tampered, planned(context(), findings()), findings())
    assert len(problems) == 1
    assert problems[0].startswith("number 0.9123 in the Markdown (line")


def test_an_unknown_run_is_caught_in_the_markdown_and_the_body() -> None:
    composed = plan()
    body = composed.body
    assert isinstance(body, NextExperiments)
    ghost = body.model_copy(update={"run_ids": [*body.run_ids, "r-ghost"]})
    tampered = replace(composed, body=ghost, markdown=composed.markdown + "\nSee `r-phantom`.\n")
    problems = check_document_grounding(tampered, planned(context(), findings()), findings())
    assert "run `r-ghost` cited in the body is not a stored run" in problems
    assert "run `r-phantom` cited in the Markdown is not a stored run" in problems


def test_a_proposed_value_that_does_not_follow_is_caught() -> None:
    composed = plan()
    body = composed.body
    assert isinstance(body, NextExperiments)
    step = body.priorities[1]
    bad = step.model_copy(update={"changes": [step.changes[0].model_copy(update={"proposed": "200"})]})
    tampered = replace(composed, body=body.model_copy(update={"priorities": [body.priorities[0], bad]}))
    problems = check_document_grounding(tampered, planned(context(), findings()), findings())
    assert problems[0] == "proposed num_leaves = 200 does not follow from the stored values of the runs it names"
    # the Markdown still prints the 128 the body no longer vouches for
    assert problems[1].startswith("number 128 in the Markdown")
    assert len(problems) == 2


def test_invented_evidence_and_cost_are_caught() -> None:
    composed = plan()
    body = composed.body
    assert isinstance(body, NextExperiments)
    first = body.priorities[0]
    bad = first.model_copy(
        update={
            "evidence": Evidence(run_ids=["r-lr3"], numbers={"val_auc": 0.95}),
            "cost": first.cost.model_copy(update={"seconds_per_run": 100.0}),
        }
    )
    tampered = replace(composed, body=body.model_copy(update={"priorities": [bad]}))
    problems = check_document_grounding(tampered, planned(context(), findings()), findings())
    assert "cost 100 s is not the median duration of the runs it names" in problems
    assert "number 0.95 (val_auc) in the body's evidence is neither stored nor computed" in problems


def test_a_table_value_or_total_that_is_not_stored_or_summed_is_caught() -> None:
    composed = compose_decision(context(), findings(), RANKING, selected=None, rationale="", title=None)
    dump = composed.body.model_dump()
    dump["table"][0]["scores"][0]["value"] = 0.9
    dump["table"][1]["total"] = 0.5
    tampered = replace(composed, body=type(composed.body).model_validate(dump))
    problems = check_document_grounding(tampered, planned(context(), findings()), findings())
    assert "auc value 0.9 of `r-lr3` is not stored" in problems
    assert "weighted total 0.5 of `r-xgb2` is not the sum of weight x score" in problems


def test_dates_counts_and_quoted_numbers_are_not_flagged() -> None:
    composed = plan()
    extra = "\nOn 2024-05-19, 3 runs; ana wrote “is lr 0.2 too high?”.\n"
    assert (
        check_document_grounding(
            replace(composed, markdown=composed.markdown + extra), planned(context(), findings()), findings()
        )
        == []
    )
