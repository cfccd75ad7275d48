"""The generated documents: offline composers from `DocContext` + `Findings` to a validated body and its Markdown,
their body models (`DOCUMENT_MODELS`, kind -> model; the kind is also the prompt template's name), and the grounding
check every document, composed offline or by a model, is held to."""

from app.compose.contract import Composed, DocContext, EntryDigest
from app.compose.documents.brief import compose_brief
from app.compose.documents.decision import compose_decision
from app.compose.documents.grounding import check_document_grounding
from app.compose.documents.metric_switch import compose_metric_switch
from app.compose.documents.next_experiments import compose_next_experiments
from app.compose.documents.reproduction import compose_reproduction, log_statements
from app.compose.documents.schemas import DOCUMENT_MODELS
from app.compose.documents.summary import compose_phase_summary
from app.compose.documents.tried import compose_tried

__all__ = [
    "DOCUMENT_MODELS",
    "Composed",
    "DocContext",
    "EntryDigest",
    "check_document_grounding",
    "compose_brief",
    "compose_decision",
    "compose_metric_switch",
    "compose_next_experiments",
    "compose_phase_summary",
    "compose_reproduction",
    "compose_tried",
    "log_statements",
]
