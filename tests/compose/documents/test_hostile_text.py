"""Every document composed from a history whose names and words are hostile (HTML, script links, emphasis, table
pipes, backticks in run keys, digits in names): the Markdown shows them as text and makes no markup, tables keep
their columns, the body keeps them as written, and the grounding check still reads every number."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from app.analysis.findings import analyze
from app.analysis.model import AnalysisInput, Criterion, Findings, RunView
from app.analysis.ranking import rank_finalists
from app.analysis.setup import likely_setup
from app.analysis.tried import match_proposal
from app.compose.documents import (
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
from tests.compose.documents.test_end_to_end import SWITCH, history
from tests.markdown_reader import assert_shows_as_text

PROJECT = "Churn <script>alert('p')</script>"
LGBM = "lgbm <b>v2</b> [x](javascript:alert(100)) | *fast*"
XGB = "xgb <img src=x onerror=alert(7)>"
# Run keys a pasted table can make (`name:<run name>` when it has no run ID column): backticks, a pipe, HTML.
KEYS = {"nl63": "name:nl`63|<i>x</i>", "xgb8": "name:<script>xgb8</script>"}
QUESTION = "does lr 0.2 overfit? <iframe src=javascript:alert(1)> | `tick"
CONCLUSION = "num_leaves 63 helped [see](javascript:alert(63))"


def hostile_history() -> tuple[RunView, ...]:
    runs = []
    for run in history():
        approach = {"lgbm": LGBM, "xgb": XGB}.get(run.params.get("model", ""))
        tags = {"approach": approach} if approach else run.tags
        runs.append(replace(run, key=KEYS.get(run.key, run.key), name=KEYS.get(run.key, run.key), tags=tags))
    return tuple(runs)


@pytest.fixture(scope="module")
def setting() -> tuple[DocContext, Findings]:
    runs = hostile_history()
    findings = analyze(AnalysisInput(runs=runs, primary_metric="val_acc", direction="max", metric_switches=(SWITCH,)))
    entry = EntryDigest(
        id=1,
        kind="log_entry",
        created=date(2024, 5, 3),
        session_date=date(2024, 5, 3),
        tldr="more leaves helped",
        run_ids=(KEYS["nl63"],),
        body={
            "conclusions": [{"text": CONCLUSION, "run_ids": [KEYS["nl63"]]}],
            "did_not_work": [{"text": "deeper <b>xgb</b> trees did not help", "run_ids": [KEYS["xgb8"]]}],
            "open_questions": [{"text": QUESTION, "run_ids": []}],
        },
    )
    ctx = DocContext(
        project_slug="churn",
        project_name=PROJECT,
        goal="Predict 30-day churn [x](javascript:alert(30))",
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


def documents(ctx: DocContext, findings: Findings) -> dict[str, Composed]:
    runs = list(ctx.runs.values())
    nl63, xgb8 = KEYS["nl63"], KEYS["xgb8"]
    criteria = [
        Criterion("auc | <script>x</script>", 0.7, "max", "val_auc", why="[why](javascript:alert(1)) <b>0.7</b>"),
        Criterion("latency\nms", 0.3, "min", "latency_ms"),
    ]
    ranking = rank_finalists([ctx.runs[nl63], ctx.runs[xgb8]], criteria)
    proposal = "lr 0.1 <script>x</script> [x](javascript:alert(1))"
    composed = [
        compose_phase_summary(ctx, findings, since=date(2024, 5, 2), until=None),
        compose_next_experiments(ctx, findings, target=None, deadline=None, budget_runs=4, budget_hours=1.0),
        compose_tried(ctx, findings, match_proposal(proposal, runs, findings), proposal=proposal),
        compose_decision(
            ctx, findings, ranking, selected=xgb8, rationale="<script>r</script> latency | 12 ms", title=None
        ),
        compose_reproduction(
            ctx, findings, likely_setup(nl63, runs, findings, {}), known={"data_version": "<b>v3</b> | 2024"}
        ),
        compose_brief(ctx, findings, audience="Sam <script>a</script>"),
        compose_metric_switch(
            ctx, replace(SWITCH, reason="<img src=x onerror=y> 7% minority"), source="api", log_id=None
        ),
    ]
    return {d.kind: d for d in composed}


def test_the_analysis_sees_the_hostile_names(setting: tuple[DocContext, Findings]) -> None:
    _, findings = setting
    assert {LGBM, XGB} <= {a.name for a in findings.approaches}
    assert findings.best == KEYS["nl63"]


@pytest.mark.parametrize(
    "kind",
    [
        "phase_summary",
        "next_experiments",
        "tried_answer",
        "selection_decision",
        "reproduction_report",
        "handover_brief",
        "metric_switch",
    ],
)
def test_each_document_shows_people_s_text_as_text_and_stays_grounded(
    setting: tuple[DocContext, Findings], kind: str
) -> None:
    ctx, findings = setting
    doc = documents(ctx, findings)[kind]
    rendered = assert_shows_as_text(doc.markdown, PROJECT)
    for row in rendered.rows:
        assert len(row) == len(rendered.rows[0]), f"a row lost its columns: {row}"
    assert set(rendered.code) - set(ctx.runs) <= set(_code_of(doc)), "a code span is neither a run nor quoted code"
    assert check_document_grounding(doc, ctx, findings) == [], doc.markdown


def test_names_and_words_show_where_they_are_used(setting: tuple[DocContext, Findings]) -> None:
    ctx, findings = setting
    docs = documents(ctx, findings)
    assert_shows_as_text(docs["phase_summary"].markdown, LGBM, XGB, QUESTION, CONCLUSION)
    assert_shows_as_text(docs["handover_brief"].markdown, LGBM, QUESTION, "Predict 30-day churn [x](javascript:")
    decision = assert_shows_as_text(
        docs["selection_decision"].markdown, "[why](javascript:alert(1)) <b>0.7</b>", "<script>r</script> latency | 12"
    )
    assert decision.rows[0][2:4] == ["auc | <script>x</script> (value / score)", "latency ms (value / score)"]
    shown = [row[1].removesuffix(" ← selected") for row in decision.rows[1:]]  # a `name:` key reads as its name
    assert shown == [KEYS["nl63"].removeprefix("name:"), KEYS["xgb8"].removeprefix("name:")]


def test_the_body_keeps_the_text_as_written(setting: tuple[DocContext, Findings]) -> None:
    ctx, findings = setting
    docs = documents(ctx, findings)
    summary = docs["phase_summary"].body.model_dump()
    assert {a["name"] for a in summary["approaches"]} >= {LGBM, XGB}
    quoted = summary["open_questions"] + [q for a in summary["approaches"] for q in a["open_questions"]]
    assert [q["text"] for q in quoted] == [QUESTION]
    decision = docs["selection_decision"].body.model_dump()
    assert [c["name"] for c in decision["criteria"]] == ["auc | <script>x</script>", "latency\nms"]
    assert decision["rationale"] == "<script>r</script> latency | 12 ms"
    assert docs["phase_summary"].title == f"Phase summary: {PROJECT}"


def _code_of(doc: Composed) -> list[str]:
    """The code a reproduction report quotes on purpose (its MLflow calls)."""
    body = doc.body.model_dump()
    return [d["code"] for d in (*body.get("documentation", []), *body.get("project_gaps", []))]
