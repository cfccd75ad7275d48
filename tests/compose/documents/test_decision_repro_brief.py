"""selection_decision, reproduction_report and handover_brief."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from app.analysis.model import (
    Criterion,
    CriterionScore,
    Noise,
    NoiseTie,
    RankedFinalist,
    Ranking,
    RunView,
    Setup,
    SetupField,
)
from app.analysis.setup import likely_setup
from app.compose.documents import (
    check_document_grounding,
    compose_brief,
    compose_decision,
    compose_reproduction,
    log_statements,
)
from app.compose.documents.schemas import HandoverBrief, ReproductionReport, SelectionDecision
from app.errors import InputInvalid
from tests.compose.documents.fixtures import DECISION, LGBM, LOG_1, LOG_2, LOGREG, SWITCH, XGB, context, findings

RANKING = Ranking(
    criteria=(
        Criterion("auc", 0.7, "max", "val_auc", why="the primary metric"),
        Criterion("latency", 0.3, "min", "latency_ms", why="served online"),
    ),
    weights={"auc": 0.7, "latency": 0.3},
    finalists=(
        RankedFinalist("r-lr3", 1, 0.7, (CriterionScore("auc", 0.87, 1.0), CriterionScore("latency", 40.0, 0.0))),
        RankedFinalist("r-xgb2", 2, 0.3, (CriterionScore("auc", 0.841, 0.0), CriterionScore("latency", 12.0, 1.0))),
    ),
    top="r-lr3",
)


def decide(selected: str | None, rationale: str = "") -> tuple[SelectionDecision, str]:
    composed = compose_decision(context(), findings(), RANKING, selected=selected, rationale=rationale, title=None)
    assert isinstance(composed.body, SelectionDecision)
    assert check_document_grounding(composed, context(), findings()) == []
    return composed.body, composed.markdown


def test_decision_for_the_top_has_the_table_and_no_trade_offs_but_latency() -> None:
    body, markdown = decide(None)
    assert (body.selected, body.selected_is_top, body.rationale_source) == ("r-lr3", True, "ranking")
    assert body.rationale == "Highest weighted total (0.7) across the criteria."
    assert "| 1 | lr3 (r-lr3) ← selected | 0.87 / 1 | 40 / 0 | 0.7 |" in markdown
    assert "- **auc** (val_auc, higher is better): weight 0.7, 0.7 normalised. Why: the primary metric" in markdown
    assert [t.criterion for t in body.traded] == ["latency"]
    assert "- latency: 40 against 12 for xgb2 (r-xgb2) (a gap of 28)" in markdown


def test_selecting_below_the_top_says_so_and_lists_what_was_traded() -> None:
    body, markdown = decide("r-xgb2", "latency matters more than 0.03 AUC online")
    assert (body.selected, body.top, body.selected_is_top) == ("r-xgb2", "r-lr3", False)
    assert body.rationale == "latency matters more than 0.03 AUC online"
    assert [(t.criterion, t.best_key, t.gap) for t in body.traded] == [("auc", "r-lr3", pytest.approx(0.029))]
    assert "Selected xgb2 (r-xgb2), **not** the top of the ranking (lr3 (r-lr3)). Traded on: auc." in markdown
    assert "- auc: 0.841 against 0.87 for lr3 (r-lr3) (a gap of 0.029)" in markdown
    assert body.run_ids == ["r-lr3", "r-xgb2"]


def test_selecting_a_run_that_is_not_a_finalist_is_invalid() -> None:
    with pytest.raises(InputInvalid, match="not one of the finalists"):
        compose_decision(context(), findings(), RANKING, selected="r-base", rationale="", title=None)


SETUP = Setup(
    key="r-lr3",
    fields=(
        SetupField("git_commit", "abc1234", "run"),
        SetupField("data_version", None, "missing"),
        SetupField("seed", "42", "inferred", ("r-lr2",), "the nearest lgbm run used it"),
        SetupField("environment", None, "missing"),
    ),
    params={"model": "lgbm", "lr": "0.1", "num_leaves": "63"},
    metric="val_auc",
    expected=0.87,
    tolerance=0.005,
    noise_source="min_effect",
    gaps=("data_version", "seed", "environment"),
)


def test_reproduction_report_has_setup_questions_checks_and_logging_calls() -> None:
    composed = compose_reproduction(context(), findings(), SETUP, known={"data": "the March 2024 snapshot"})
    body, markdown = composed.body, composed.markdown
    assert isinstance(body, ReproductionReport)
    assert [q.field for q in body.questions] == ["data_version", "seed", "environment"]
    assert [c.name for c in body.checks] == ["metric", "data_version", "git_commit", "environment"]
    assert "| seed | 42 | inferred | lr2 (r-lr2) | the nearest lgbm run used it |" in markdown
    assert (
        "- [ ] metric: val_auc comes out at 0.87 (the run's stored value), within ± 0.005 (the configured minimum "
        "effect: no seed repeats measure the seed sd) (lr3 (r-lr3))"
    ) in markdown
    assert "- [ ] git_commit: the same code: commit abc1234" in markdown
    assert '- seed: `mlflow.log_param("seed", seed)`' in markdown
    assert "mlflow.log_input(" in markdown
    assert "- data: the March 2024 snapshot" in markdown
    assert composed.run_ids == ["r-lr3", "r-lr2"]
    assert check_document_grounding(composed, context(), findings()) == []


def test_handover_brief_tells_the_story_and_the_risks() -> None:
    facts = findings(metric_switches=(SWITCH,))
    composed = compose_brief(context(target_value=0.9), facts, audience="the new team lead")
    body, markdown = composed.body, composed.markdown
    assert isinstance(body, HandoverBrief)
    assert [(a.name, a.outcome) for a in body.approaches] == [
        ("lgbm", "continued"),
        ("xgb", "paused"),
        ("logreg", "dropped"),
    ]
    assert (
        body.approaches[2].why
        == "marked abandoned: too simple for this data (the mark decides; the runs alone read active)"
    )
    assert [(d.entry_id, d.decision) for d in body.decisions] == [(3, "selected r-lr3")]
    assert [r.kind for r in body.risks] == ["noise_unknown", "repro_gap", "open_question"]
    assert [q.text for q in body.approaches[0].open_questions] == ["is lr 0.2 too high?"]
    assert "Written for: the new team lead." in markdown
    assert "Target: val_auc 0.9." in markdown
    assert "- 2024-05-02: from val_acc to **val_auc** (max)" in markdown
    assert "  - did not work: “deeper xgb trees did not help” (xgb2 (r-xgb2))" in markdown
    assert "- 2024-05-12 (entry 3): selected r-lr3 (lr3 (r-lr3)). best AUC, latency is fine" in markdown
    assert "- repro gap: The best run cannot be reproduced with confidence: no data_version, seed recorded." in markdown
    assert check_document_grounding(composed, context(target_value=0.9), facts) == []


def test_handover_brief_does_not_call_a_one_off_run_continued() -> None:
    once = replace(LGBM, name="k_neighbors", source="inferred", run_ids=("r-xgb1",), status="active", best="r-xgb1")
    facts = findings(approaches=(LGBM, XGB, LOGREG, once))
    composed = compose_brief(context(), facts, audience="")
    assert isinstance(composed.body, HandoverBrief)
    story = composed.body.approaches[-1]
    assert (story.name, story.outcome) == ("k_neighbors", "paused")
    assert story.why.startswith("tried once, not followed up; ")
    assert check_document_grounding(composed, context(), facts) == []


def test_a_decision_says_when_a_within_noise_gap_decides_the_top() -> None:
    tie = NoiseTie("auc", 0.029, 0.04, "r-xgb2")
    facts = findings(noise=Noise(source="seed_repeats", std=0.0172, min_gain=0.04))
    ranking = replace(RANKING, noise_ties=(tie,))
    composed = compose_decision(context(), facts, ranking, selected=None, rationale="", title=None)
    assert isinstance(composed.body, SelectionDecision)
    assert check_document_grounding(composed, context(), facts) == []
    [note] = composed.body.noise_ties
    assert (note.criterion, note.seed_sd, note.top_without, note.decides) == ("auc", 0.0172, "r-xgb2", True)
    assert (
        "- **auc**: the finalists span 0.029 on it, no more than the believable gain 0.04 (seed sd 0.017), yet "
        "normalisation scores them from 0 to 1 on it: it cannot separate them. Without it the top would be "
        "xgb2 (r-xgb2), not lr3 (r-lr3): the gap decides."
    ) in composed.markdown
    assert "The top rests on a gap within the noise on auc" in composed.markdown


def test_a_decision_stored_without_noise_ties_still_reads() -> None:
    body, _ = decide(None)
    stored = body.model_dump(mode="json")
    del stored["noise_ties"]
    assert SelectionDecision.model_validate(stored).noise_ties == []


def test_reproduction_report_says_a_project_gap_once_and_asks_no_seed_of_a_deterministic_run() -> None:
    setup = Setup(
        key="r-lr3",
        fields=(
            SetupField("git_commit", "abc1234", "run"),
            SetupField("seed", None, "not_needed", note="deterministic estimator: no seed needed"),
            SetupField("hardware", None, "missing", note="no run of this project records it"),
            SetupField("owner", None, "missing"),
        ),
        params={"model": "logistic_regression", "solver": "lbfgs"},
        metric="val_auc",
        expected=0.87,
        tolerance=0.005,
        noise_source="min_effect",
        gaps=("owner",),
        project_gaps=("hardware",),
    )
    composed = compose_reproduction(context(), findings(), setup, known={})
    body, markdown = composed.body, composed.markdown
    assert isinstance(body, ReproductionReport)
    assert [q.field for q in body.questions] == ["owner"]
    assert [g.field for g in body.project_gaps] == ["hardware"]
    assert "## Gaps of the whole project" in markdown
    assert markdown.count("On which hardware") == 1
    assert '- owner: `mlflow.set_tag("mlflow.user", user)`' in markdown
    assert "| seed | — | not_needed | — | deterministic estimator: no seed needed |" in markdown
    assert check_document_grounding(composed, context(), findings()) == []


def test_a_reproduction_report_stored_before_project_gaps_still_reads_and_renders() -> None:
    from app.compose.documents.reproduction import render_markdown

    stored = compose_reproduction(context(), findings(), SETUP, known={}).body.model_dump()
    del stored["project_gaps"]
    body = ReproductionReport.model_validate(stored)
    assert body.project_gaps == []
    assert "## Gaps of the whole project" not in render_markdown(body, "Reproduction report: Churn")


def test_handover_brief_names_the_project_gaps_once() -> None:
    from app.analysis.model import ProjectGap

    gaps = (ProjectGap("hardware", 5), ProjectGap("split", 5))
    composed = compose_brief(context(), findings(project_gaps=gaps), audience="a new teammate")
    body = composed.body
    assert isinstance(body, HandoverBrief)
    assert [r.kind for r in body.risks].count("project_gap") == 1
    assert "- project gap: No run of this project records hardware, split: every run shares these gaps." in (
        composed.markdown
    )


def test_an_exhausted_line_holding_the_chosen_model_is_adopted_not_dropped() -> None:
    done = replace(XGB, status="exhausted", computed_status="exhausted")
    facts = findings(approaches=(LGBM, done, LOGREG))
    chose = replace(DECISION, body=DECISION.body | {"selected": "r-xgb2"}, run_ids=("r-xgb2",))
    ctx = context(entries=(LOG_1, LOG_2, chose))
    composed = compose_brief(ctx, facts, audience="")
    assert isinstance(composed.body, HandoverBrief) and composed.body.selected == "r-xgb2"
    xgb = composed.body.approaches[1]
    assert (xgb.outcome, xgb.status) == ("adopted", "exhausted") and xgb.why.startswith("holds the chosen model; ")
    assert composed.body.approaches[2].outcome == "dropped"  # marked abandoned, and holding no choice
    assert check_document_grounding(composed, ctx, facts) == []


def test_a_deterministic_runs_check_is_a_match_to_rounding_not_seed_noise() -> None:
    """A Bayesian ridge refitted on the same data, code and environment gives the same model: the check asks for
    the stored value to its last digit and names what a larger gap would mean, with no seed sd in sight."""
    runs = {"r-br": RunView("r-br", name="br", params={"model": "BayesianRidge"}, metrics={"val_auc": 0.8125})}
    noise = Noise("seed_repeats", std=0.0031416, min_gain=0.0073084)
    facts = findings(noise=noise, approaches=(), run_order=("r-br",))
    setup = likely_setup("r-br", list(runs.values()), facts, {})
    composed = compose_reproduction(context(runs=runs, entries=()), facts, setup, known={})
    assert isinstance(composed.body, ReproductionReport) and composed.body.tolerance_rule == "rounding"
    assert (
        "- [ ] metric: val_auc comes out at 0.8125 (the run's stored value) to its last digit, within ± 0.00005: the "
        "estimator is deterministic, so the same data, code and environment give the same model and seed noise does "
        "not apply; a larger difference comes from other library versions or BLAS and thread settings, not chance"
    ) in composed.markdown
    assert "seed sd" not in composed.markdown and "0.0073" not in composed.markdown
    assert check_document_grounding(composed, context(runs=runs, entries=()), facts) == []


def test_seed_sd_and_believable_gain_are_written_at_two_significant_digits() -> None:
    runs = {"r-gb": RunView("r-gb", name="gb", params={"model": "gbm", "seed": "3"}, metrics={"val_auc": 0.8})}
    noise = Noise("seed_repeats", std=0.0031416, min_gain=0.0073084)
    facts = findings(noise=noise, approaches=(), run_order=("r-gb",))
    composed = compose_reproduction(
        context(runs=runs, entries=()), facts, likely_setup("r-gb", list(runs.values()), facts, {}), known={}
    )
    assert (
        "val_auc comes out at 0.8 (the run's stored value), within ± 0.0073 (the believable gain of one run over "
        "another; seed sd 0.0031)"
    ) in composed.markdown
    assert check_document_grounding(composed, context(runs=runs, entries=()), facts) == []


def test_a_log_entry_saying_the_code_was_not_recorded_reaches_the_report() -> None:
    """The log's words about the run make its commit a gap, asked about as code to recover or re-run, even though
    its nearest sibling of the same day and family records one; what the setup table shows is not listed twice."""
    day = date(2024, 6, 3)
    runs = {
        "r-a": RunView("r-a", name="cat-a", params={"model": "catboost"}, session=day, git_commit="5e5e5e5"),
        "r-b": RunView(
            "r-b", name="cat-b", params={"model": "catboost", "split": "by user"}, session=day, split="by user"
        ),
    }
    said = "cat-b was trained from a copy on my laptop with local tweaks to the loss; never committed"
    log = replace(LOG_2, run_ids=("r-b",), body={"observations": [{"text": said, "run_ids": ["r-b"], "line": 4}]})
    facts = findings(approaches=(), run_order=("r-a", "r-b"))
    ctx = context(runs=runs, entries=(log,))
    setup = likely_setup("r-b", list(runs.values()), facts, {}, log_statements(ctx.entries))
    composed = compose_reproduction(ctx, facts, setup, known={})
    markdown = composed.markdown
    assert f"| git_commit | — | missing | — | not recorded: the log says (2024-05-10) “{said}” |" in markdown
    assert (
        "- git_commit: The log says cat-b (r-b) ran from code no commit records: can that code be recovered (a commit "
        "or a saved diff), or should it be re-run from a clean checkout with its commit logged?"
    ) in markdown
    assert "- [ ] git_commit: the same code: unknown, the log says it was not recorded (see the questions)" in markdown
    assert "(records the exact code; launch from a clean, committed checkout so the commit is the code that ran)" in (
        markdown
    )
    assert "| split | by user | run |" in markdown and "- split = by user" not in markdown
    assert "- model = catboost" in markdown
    assert check_document_grounding(composed, ctx, facts) == []


def test_an_experiment_sentence_naming_two_runs_speaks_of_each_in_its_own_clause() -> None:
    sentence = "cat-b ran with uncommitted changes; cat-a is straight from main"
    experiments = [
        {"ref": ref, "run_id": key, "change": "", "context": sentence, "line": 2}
        for ref, key in (("cat-b", "r-b"), ("cat-a", "r-a"))
    ]
    log = replace(LOG_2, body={"experiments": experiments})
    (statement,) = log_statements((log, DECISION))
    assert (statement.text, statement.run_ids) == (sentence, ("r-b", "r-a"))
    runs = [RunView("r-a", name="cat-a", git_commit="1a"), RunView("r-b", name="cat-b", git_commit="1a")]
    facts = findings(approaches=(), run_order=("r-a", "r-b"))
    assert "git_commit" not in likely_setup("r-a", runs, facts, {}, [statement]).gaps
    assert "git_commit" in likely_setup("r-b", runs, facts, {}, [statement]).gaps
