"""tried_answer and metric_switch."""

from __future__ import annotations

from app.analysis.model import ParamChange, ProposalConfig, TriedMatch, TriedRun
from app.analysis.tried import match_proposal
from app.compose.documents import check_document_grounding, compose_metric_switch, compose_tried
from app.compose.documents.schemas import MetricSwitchRecord, TriedAnswer
from app.compose.documents.tried import render_markdown
from tests.compose.documents.fixtures import SWITCH, context, findings

PROPOSAL = "what about lr 0.1 with 63 leaves?"
CONFIG = ProposalConfig(params={"lr": "0.1", "num_leaves": "63"}, family="lgbm")


def test_tried_names_the_run_its_value_and_approach_status() -> None:
    match = TriedMatch(
        verdict="tried",
        proposal=CONFIG,
        exact=(TriedRun("r-lr3", ("lr", "num_leaves"), (), 0.87, "lgbm"),),
        similar=(TriedRun("r-lr2", ("lr",), (ParamChange("num_leaves", "31", "63"),), 0.86, "lgbm"),),
    )
    composed = compose_tried(context(), findings(), match, proposal=PROPOSAL)
    body = composed.body
    assert isinstance(body, TriedAnswer)
    assert body.verdict == "tried"
    assert [(n.key, n.value, n.approach_status) for n in body.exact] == [("r-lr3", 0.87, "converging")]
    assert body.similar[0].differing[0].model_dump() == {"param": "num_leaves", "run_value": "31", "proposed": "63"}
    verdict = "**Verdict: tried.** Tried: lr3 (r-lr3) ran every proposed value and scored val_auc 0.87."
    assert verdict in composed.markdown
    assert "| lr2 (r-lr2) | 0.86 | lgbm (converging) | lr | num_leaves: 31 (proposed 63) |" in composed.markdown
    assert composed.run_ids == ["r-lr3", "r-lr2"]
    assert check_document_grounding(composed, context(), findings()) == []


def test_new_proposal() -> None:
    match = TriedMatch(verdict="new", proposal=ProposalConfig(params={}, unmatched=("focal loss",)))
    composed = compose_tried(context(), findings(), match, proposal="focal loss")
    assert "**Verdict: new.** New: no stored run has any of the proposed values." in composed.markdown
    assert "## Not recognised\n\n- focal loss" in composed.markdown
    assert composed.run_ids == []
    assert check_document_grounding(composed, context(), findings()) == []


def test_metric_switch_says_from_to_when_why_and_source() -> None:
    composed = compose_metric_switch(context(), SWITCH, source="dump", log_id=12)
    body = composed.body
    assert isinstance(body, MetricSwitchRecord)
    assert (body.from_metric, body.to_metric, body.direction, body.source, body.log_id) == (
        "val_acc",
        "val_auc",
        "max",
        "dump",
        12,
    )
    assert composed.markdown.startswith("# Metric switch: Churn 2024\n")
    assert "from **val_acc** (max) to **val_auc** (max), effective 2024-05-02." in composed.markdown
    assert "## Why\n\naccuracy hides the 7% minority class" in composed.markdown
    assert "Recorded from a brain dump (log entry 12)." in composed.markdown
    assert check_document_grounding(composed, context(), findings(metric_switches=(SWITCH,))) == []


def test_a_proposal_in_words_reads_its_concepts_and_moves_and_stays_grounded() -> None:
    runs = list(context().runs.values())
    match = match_proposal("lightgbm with more leaves", runs, findings())
    composed = compose_tried(context(), findings(), match, proposal="lightgbm with more leaves")
    body = composed.body
    assert isinstance(body, TriedAnswer)
    assert (body.verdict, body.family, body.concepts) == ("tried", "lightgbm", ["depth"])
    assert body.params == {"num_leaves": "> 31"}  # more than the family's first run
    assert [n.key for n in body.exact] == ["r-lr3"] and {n.key for n in body.similar} == {"r-lr1", "r-lr2"}
    assert "Read as: num_leaves above 31. Model family: lightgbm. Concepts: depth." in composed.markdown
    assert "| lr1 (r-lr1) | 0.85 | lgbm (converging) | — | num_leaves: 31 (proposed above 31) |" in composed.markdown
    assert "made every proposed change" in composed.markdown
    assert check_document_grounding(composed, context(), findings()) == []


def test_the_baseline_is_similar_never_exact_for_a_change() -> None:
    runs = list(context().runs.values())
    proposal = "stronger regularisation on the logistic regression"
    composed = compose_tried(context(), findings(), match_proposal(proposal, runs, findings()), proposal=proposal)
    body = composed.body
    assert isinstance(body, TriedAnswer)
    assert body.verdict == "similar" and body.exact == [] and [n.key for n in body.similar] == ["r-base"]
    assert body.params == {"C": "< 1"}  # stronger regularisation: a smaller C
    assert check_document_grounding(composed, context(), findings()) == []


def test_markdown_caps_the_runs_with_the_true_total_and_the_body_lists_all() -> None:
    exact = tuple(TriedRun(f"r-{i}", ("lr",), (), 0.8, None) for i in range(23))
    match = TriedMatch(verdict="tried", proposal=ProposalConfig(params={"lr": "0.1"}), exact=exact)
    composed = compose_tried(context(), findings(), match, proposal="lr 0.1")
    body = composed.body
    assert isinstance(body, TriedAnswer) and len(body.exact) == 23
    assert "… and 13 more (23 in all)." in composed.markdown
    assert "`r-9`" in composed.markdown and "`r-10`" not in composed.markdown
    assert "(23 runs in all)" in composed.markdown


def test_a_body_stored_before_concepts_still_validates_and_renders() -> None:
    stored = {
        "schema_version": "tried_answer/1",
        "proposal": "lr 0.1",
        "verdict": "new",
        "metric": "val_auc",
        "params": {"lr": "0.1"},
        "family": None,
        "unmatched": [],
        "answer": "New: no stored run has any of the proposed values.",
        "exact": [],
        "similar": [],
        "run_ids": [],
    }
    body = TriedAnswer.model_validate(stored)
    assert body.concepts == []
    assert render_markdown(body, "Has this been tried: Churn 2024").startswith("# Has this been tried: Churn 2024")
