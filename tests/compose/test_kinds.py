"""Every entry kind under one contract: a schema, a renderer that gives back the composer's Markdown, a check."""

from __future__ import annotations

import pytest

from app.analysis.model import Findings
from app.compose import kinds
from app.compose.contract import DocContext, Sources
from app.compose.documents import DOCUMENT_MODELS
from app.compose.labels import labelled
from app.compose.log_entry.facts import ProjectFacts, RunFacts
from app.compose.log_entry.kind import compose_entry
from app.compose.log_entry.schema import LogEntry
from tests.compose.documents.test_end_to_end import all_documents, setting  # noqa: F401 - the fixture

RUNS = [RunFacts("5c6d70a1", "5c6d70a1", "lgbm-smote", {"val_auc": 0.858}, {"lr": "0.05"})]
DUMP = "smote (5c6d70a1) didnt help, .858 vs .861. tomorrow: group split"


def test_every_kind_has_a_schema_a_renderer_and_a_check() -> None:
    assert set(kinds.KINDS) == {"log_entry", *DOCUMENT_MODELS}
    assert kinds.KINDS["log_entry"].schema is LogEntry
    for name, model in DOCUMENT_MODELS.items():
        assert kinds.KINDS[name].schema is model


def test_a_log_entry_renders_from_its_body_and_is_checked_against_its_dump() -> None:
    composed = compose_entry(DUMP, runs=RUNS, project=ProjectFacts("val_auc"), title="Churn — log 2026-11-24")
    assert kinds.render("log_entry", composed.body, composed.title) == composed.markdown
    assert kinds.check(composed, Sources(dump=DUMP, runs=RUNS)) == []
    assert kinds.check(composed, Sources(dump="nothing here", runs=RUNS)) != []


def test_every_document_renders_from_its_body_as_composed(setting: tuple[DocContext, Findings]) -> None:  # noqa: F811
    ctx, findings = setting
    for doc in all_documents(ctx, findings):
        with labelled(ctx.labels()):  # the runs' names and links, as the composer had them
            assert kinds.render(doc.kind, doc.body, doc.title) == doc.markdown, doc.kind
        assert kinds.check(doc, Sources(ctx=ctx, findings=findings)) == [], doc.kind


def test_a_body_of_another_kind_is_refused() -> None:
    composed = compose_entry(DUMP, runs=RUNS, project=ProjectFacts("val_auc"), title="t")
    with pytest.raises(TypeError):
        kinds.render("phase_summary", composed.body, "t")
