"""phase_summary: the window on run sessions and entry days, approaches with their evidence, closed and open,
current best and why, metric switches, and the plan."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from app.compose.documents import check_document_grounding, compose_phase_summary
from app.compose.documents.schemas import PhaseSummary
from tests.compose.documents.fixtures import LGBM, LOGREG, RUNS, SWITCH, XGB, context, findings, planned, run


def compose(since: date | None, until: date | None, **overrides: object) -> tuple[PhaseSummary, str]:
    facts = findings(**overrides)
    ctx = planned(context(), facts)
    composed = compose_phase_summary(ctx, facts, since=since, until=until)
    assert isinstance(composed.body, PhaseSummary)
    assert check_document_grounding(composed, ctx, facts) == []
    assert composed.run_ids == composed.body.run_ids
    return composed.body, composed.markdown


def test_window_keeps_runs_and_entries_inside_it_inclusive() -> None:
    body, markdown = compose(date(2024, 5, 3), date(2024, 5, 4))
    assert [(a.name, a.run_ids) for a in body.approaches] == [("lgbm", ["r-lr2", "r-lr3"]), ("xgb", ["r-xgb2"])]
    # entry 1 (May 3) is in; entry 2 (May 10) and its open question are not; the learning-rate question is lgbm's
    assert body.open_questions == []
    assert [q.text for q in body.approaches[0].open_questions] == ["is lr 0.2 too high?"]
    assert markdown.startswith("# Phase summary: Churn 2024\n\nFrom 2024-05-03 to 2024-05-04.")


def test_key_findings_per_approach_quote_entries_citing_its_runs() -> None:
    body, markdown = compose(date(2024, 5, 3), date(2024, 5, 4))
    lgbm, xgb = body.approaches
    assert [q.text for q in lgbm.conclusions] == ["num_leaves 63 helped lgbm"]
    assert [q.text for q in xgb.did_not_work] == ["deeper xgb trees did not help"]
    assert "- **lgbm** (converging, 2 runs (lr2 (r-lr2), lr3 (r-lr3)))" in markdown
    assert "Best lr3 (r-lr3) at 0.87." in markdown
    assert "  - did not work (2024-05-03, entry 1): “deeper xgb trees did not help” (xgb2 (r-xgb2))" in markdown


def test_closed_and_remaining() -> None:
    body, markdown = compose(None, None)
    assert [a.name for a in body.closed] == ["xgb", "logreg"]
    assert [a.name for a in body.remaining] == ["lgbm"]
    assert "- logreg: abandoned, because too simple for this data (base (r-base))" in markdown
    # a computed status is told in full once, under "Approaches explored"; "Closed" and "What remains" say it short
    assert "\n- lgbm (converging), best lr3 (r-lr3) at 0.87\n" in markdown
    closed_xgb = next(line for line in markdown.splitlines() if line.startswith("- xgb: "))
    assert "because" not in closed_xgb and ", best " in closed_xgb
    assert [q.text for q in body.open_questions] == ["does the March data drift?"]
    assert "  - open question (2024-05-03, entry 1): “is lr 0.2 too high?”" in markdown


def test_current_best_with_gain_and_noise() -> None:
    body, markdown = compose(None, None)
    assert body.current_best is not None
    assert (body.current_best.key, body.current_best.value, body.current_best.beyond_noise) == ("r-lr3", 0.87, True)
    best = "lr3 (r-lr3) with val_auc 0.87 (approach lgbm), 0.07 better than the baseline base (r-base) (0.8)"
    assert best in markdown


def test_best_as_of_the_window_end() -> None:
    body, markdown = compose(None, date(2024, 5, 3))
    assert body.current_best is not None and body.current_best.key == "r-lr2"
    assert "lr2 (r-lr2) with val_auc 0.86" in markdown


def test_metric_switches_up_to_the_window_end() -> None:
    body, markdown = compose(None, None, metric_switches=(SWITCH,))
    assert [s.metric for s in body.metric_switches] == ["val_auc"]
    assert "- 2024-05-02: from val_acc to **val_auc** (max), because accuracy hides the 7% minority class" in markdown
    body, _ = compose(None, date(2024, 5, 1), metric_switches=(SWITCH,))
    assert body.metric_switches == []


def test_plan_is_the_top_3_of_next_experiments() -> None:
    body, markdown = compose(None, None)
    assert [s.kind for s in body.plan] == ["seed_repeats", "continue", "stated"]
    # the question it plans to answer is quoted once, under the open questions, and named by its entry in the plan
    assert "3. **Answer the open question of entry 2 (quoted above)**" in markdown
    assert "## Plan for the next phase\n\n1. **Repeat the current best lr3 (r-lr3) with new seeds**" in markdown


def test_a_one_off_run_is_explored_but_not_what_remains() -> None:
    """An inferred approach of one run (an inherited try nobody followed up) is listed with what was explored, never
    as a line that remains open; a line a person named stays open however short."""
    knn = run("r-knn", 2, 0.83, 30, model="knn", n_neighbors="15")
    once = replace(LGBM, name="k_neighbors", source="inferred", run_ids=("r-knn",), status="active", best="r-knn")
    for source, remains in (("inferred", ["lgbm"]), ("tag", ["lgbm", "k_neighbors"])):
        facts = findings(approaches=(LGBM, XGB, LOGREG, replace(once, source=source)))
        ctx = planned(context(runs=RUNS | {knn.key: knn}), facts)
        composed = compose_phase_summary(ctx, facts, since=None, until=None)
        assert isinstance(composed.body, PhaseSummary)
        assert check_document_grounding(composed, ctx, facts) == []
        assert "k_neighbors" in [a.name for a in composed.body.approaches]
        assert [a.name for a in composed.body.remaining] == remains
