"""The real analysis on a small RunView history, then every document composed from its findings, each grounded."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from app.analysis.findings import analyze
from app.analysis.model import AnalysisInput, Criterion, Findings, MetricSwitch, RunView
from app.analysis.ranking import rank_finalists
from app.analysis.setup import likely_setup
from app.analysis.tried import match_proposal
from app.compose.documents import (
    DOCUMENT_MODELS,
    Composed,
    DocContext,
    EntryDigest,
    check_document_grounding,
    compose_brief,
    compose_decision,
    compose_metric_switch,
    compose_next_experiments,
    compose_phase_summary,
    compose_reproduction,
    compose_tried,
)
from tests.compose.documents.fixtures import planned

START = datetime(2024, 5, 1, 9, 0)
SWITCH = MetricSwitch("val_auc", "max", date(2024, 5, 2), "accuracy hides the minority class", "val_acc", "max")


def history() -> tuple[RunView, ...]:
    rows = [  # key, day, params, val_auc, duration
        ("base", 0, {"model": "logreg", "C": "1.0", "seed": "1"}, 0.80, 60.0),
        ("lr03", 1, {"model": "lgbm", "lr": "0.03", "num_leaves": "31", "seed": "1"}, 0.845, 590.0),
        ("lr05", 1, {"model": "lgbm", "lr": "0.05", "num_leaves": "31", "seed": "1"}, 0.850, 600.0),
        ("lr10", 2, {"model": "lgbm", "lr": "0.1", "num_leaves": "31", "seed": "1"}, 0.860, 620.0),
        ("nl63", 3, {"model": "lgbm", "lr": "0.1", "num_leaves": "63", "seed": "1"}, 0.872, 640.0),
        ("xgb6", 1, {"model": "xgb", "eta": "0.1", "max_depth": "6", "seed": "1"}, 0.840, 900.0),
        ("xgb8", 2, {"model": "xgb", "eta": "0.1", "max_depth": "8", "seed": "1"}, 0.841, 950.0),
        ("xgb8b", 4, {"model": "xgb", "eta": "0.1", "max_depth": "8", "seed": "1"}, 0.8405, 930.0),
    ]
    return tuple(
        RunView(
            key=key,
            name=key,
            params=params,
            metrics={"val_auc": auc, "val_acc": 0.9, "latency_ms": 10.0 + i},
            tags={"baseline": "true"} if key == "base" else {"approach": params["model"]},
            when=START + timedelta(days=day, minutes=i),
            session=(START + timedelta(days=day)).date(),
            status="FINISHED",
            duration_s=duration,
            source="mlflow",
            git_commit="abc1234" if key == "nl63" else None,
        )
        for i, (key, day, params, auc, duration) in enumerate(rows)
    )


@pytest.fixture(scope="module")
def setting() -> tuple[DocContext, Findings]:
    runs = history()
    findings = analyze(AnalysisInput(runs=runs, primary_metric="val_acc", direction="max", metric_switches=(SWITCH,)))
    entry = EntryDigest(
        id=1,
        kind="log_entry",
        created=date(2024, 5, 3),
        session_date=date(2024, 5, 3),
        tldr="more leaves helped",
        run_ids=("nl63",),
        body={
            "conclusions": [{"text": "num_leaves 63 helped", "run_ids": ["nl63"]}],
            "did_not_work": [{"text": "deeper xgb trees did not help", "run_ids": ["xgb8"]}],
            "open_questions": [{"text": "does lr 0.2 overfit?", "run_ids": []}],
        },
    )
    ctx = DocContext(
        project_slug="churn",
        project_name="Churn",
        goal="Predict 30-day churn",
        primary_metric="val_acc",
        direction="max",
        target_value=0.88,
        deadline=date(2024, 5, 30),
        today=date(2024, 5, 20),
        public_url="",
        runs={r.key: r for r in runs},
        entries=(entry,),
    )
    return planned(ctx, findings), findings


def all_documents(ctx: DocContext, findings: Findings) -> list[Composed]:
    runs = list(ctx.runs.values())
    ranking = rank_finalists(
        [ctx.runs["nl63"], ctx.runs["xgb8"]],
        [Criterion("auc", 0.7, "max", "val_auc"), Criterion("latency", 0.3, "min", "latency_ms")],
    )
    return [
        compose_phase_summary(ctx, findings, since=date(2024, 5, 2), until=None),
        compose_next_experiments(ctx, findings, target=None, deadline=None, budget_runs=4, budget_hours=1.0),
        compose_tried(ctx, findings, match_proposal("lr 0.1", runs, findings), proposal="lr 0.1"),
        compose_decision(ctx, findings, ranking, selected="xgb8", rationale="", title=None),
        compose_reproduction(ctx, findings, likely_setup("nl63", runs, findings, {}), known={}),
        compose_brief(ctx, findings, audience="a new teammate"),
        compose_metric_switch(ctx, SWITCH, source="api", log_id=None),
    ]


def test_the_analysis_judges_on_the_switched_metric(setting: tuple[DocContext, Findings]) -> None:
    _, findings = setting
    assert (findings.metric, findings.baseline, findings.best) == ("val_auc", "base", "nl63")


def test_every_document_composes_validates_and_is_grounded(setting: tuple[DocContext, Findings]) -> None:
    ctx, findings = setting
    documents = all_documents(ctx, findings)
    assert [d.kind for d in documents] == list(DOCUMENT_MODELS)
    for doc in documents:
        assert isinstance(doc.body, DOCUMENT_MODELS[doc.kind])
        assert doc.schema_version == f"{doc.kind}/1"
        assert doc.markdown.startswith(f"# {doc.title}\n") and doc.title.endswith(": Churn")
        assert set(doc.run_ids) <= set(ctx.runs)
        assert check_document_grounding(doc, ctx, findings) == [], doc.kind


def test_end_to_end_content(setting: tuple[DocContext, Findings]) -> None:
    ctx, findings = setting
    summary, plan, tried, decision, repro, brief, switch = all_documents(ctx, findings)
    assert "nl63 with val_auc 0.872" in summary.markdown
    assert "Continue lgbm: num_leaves 63 → 128 on nl63" in plan.markdown
    assert "**Verdict: tried.**" in tried.markdown
    assert "**not** the top of the ranking (nl63)" in decision.markdown
    assert "No rationale given: the selected run's weighted total is 0, against 1 for the top" in decision.markdown
    # no run records a data version: one gap of the project, said once, not a question about nl63
    assert "No run of this project records data_version, environment," in repro.markdown
    assert "- data_version: Which version or snapshot of the data do the project's runs read?" in repro.markdown
    assert repro.markdown.count("Which version or snapshot of the data") == 1
    assert "the same data: unknown (no run of this project records it)" in repro.markdown
    assert 'mlflow.set_tag("mlflow.source.git.commit"' not in repro.markdown  # nl63 records its commit
    assert "- 2024-05-02: from val_acc to **val_auc** (max)" in brief.markdown
    assert "Recorded from the API." in switch.markdown
