"""The reasoning core over HTTP: the project's findings (baseline, best, noise, within-noise gains, multi-change runs,
duplicates, stalls, reproduction gaps, approach statuses, metric switches)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.api.deps import PrefersMarkdownDep, ProjectDep, SessionDep
from app.api.negotiation import MARKDOWN_RESPONSE, markdown_response
from app.services import analysis as analysis_service
from app.services.schemas import FindingsPublic

router = APIRouter(prefix="/projects/{slug}", tags=["analysis"])


@router.get("/findings", response_model=FindingsPublic, operation_id="get_findings", responses=MARKDOWN_RESPONSE)
def get_findings(project: ProjectDep, session: SessionDep, markdown: PrefersMarkdownDep) -> FindingsPublic | Response:
    """Analyse the project's runs on the metric in force: baseline (or its absence), current best, seed noise,
    improvements within noise, runs that changed several things at once, duplicates, stalls, reproduction gaps,
    approach statuses and metric switches. Every finding carries its numbers and the runs it comes from. With
    `Accept: text/markdown`, answers with a Markdown list."""
    findings = analysis_service.project_findings(session, project=project)
    if markdown:
        return markdown_response(analysis_service.findings_markdown(session, project=project, findings=findings))
    return analysis_service.findings_public(
        findings, proposed=analysis_service.proposed_marks(session, project=project)
    )
