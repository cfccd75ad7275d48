"""Every entry kind under one contract (`app.compose.contract.Kind`): its body schema, its renderer and its
grounding check. The service that stores entries looks a kind up here, so the log entry and the documents are
validated, rendered and checked the same way, whoever composed them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from pydantic import BaseModel

from app.compose.contract import Composed, Kind, Sources
from app.compose.documents import brief, decision, metric_switch, next_experiments, reproduction, summary, tried
from app.compose.documents.grounding import check_document_grounding
from app.compose.documents.schemas import (
    DOCUMENT_MODELS,
    HandoverBrief,
    MetricSwitchRecord,
    NextExperiments,
    PhaseSummary,
    ReproductionReport,
    SelectionDecision,
    TriedAnswer,
)
from app.compose.log_entry import kind as log_entry
from app.compose.log_entry.schema import LogEntry

__all__ = ["KINDS", "check", "render"]

M = TypeVar("M", bound=BaseModel)


def _renderer(model: type[M], render_markdown: Callable[[M, str], str]) -> Callable[[BaseModel, str], str]:
    def render_body(body: BaseModel, title: str) -> str:
        if not isinstance(body, model):
            raise TypeError(f"expected a {model.__name__} body, got {type(body).__name__}")
        return render_markdown(body, title)

    return render_body


def _check_document(composed: Composed, sources: Sources) -> list[str]:
    if sources.ctx is None or sources.findings is None:
        raise ValueError(f"a {composed.kind} is checked against the project's context and findings")
    return check_document_grounding(composed, sources.ctx, sources.findings)


def _document(name: str, model: type[M], render_markdown: Callable[[M, str], str]) -> Kind:
    if DOCUMENT_MODELS[name] is not model:
        raise ValueError(f"{name} is a {DOCUMENT_MODELS[name].__name__} document, not {model.__name__}")
    return Kind(name, model, _renderer(model, render_markdown), _check_document)


KINDS: Mapping[str, Kind] = {
    log_entry.KIND: Kind(log_entry.KIND, LogEntry, _renderer(LogEntry, log_entry.render_markdown), log_entry.check),
    **{
        kind.name: kind
        for kind in (
            _document("phase_summary", PhaseSummary, summary.render_markdown),
            _document("next_experiments", NextExperiments, next_experiments.render_markdown),
            _document("tried_answer", TriedAnswer, tried.render_markdown),
            _document("selection_decision", SelectionDecision, decision.render_markdown),
            _document("reproduction_report", ReproductionReport, reproduction.render_markdown),
            _document("handover_brief", HandoverBrief, brief.render_markdown),
            _document("metric_switch", MetricSwitchRecord, metric_switch.render_markdown),
        )
    },
}


def check(composed: Composed, sources: Sources) -> list[str]:
    """The grounding problems of a composed entry of any kind; [] means every run and number is backed."""
    return KINDS[composed.kind].check(composed, sources)


def render(kind: str, body: BaseModel, title: str) -> str:
    """The Markdown of a body of `kind` under `title`."""
    return KINDS[kind].render(body, title)
