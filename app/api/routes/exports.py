"""A project taken out whole: its backup (every row, as stored) and its report (the narrative, as Markdown)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.api.deps import ProjectDep, SessionDep
from app.api.negotiation import MARKDOWN_RESPONSE, markdown_response
from app.services import backup as backup_service
from app.services import report as report_service
from app.services.schemas import ProjectBackup

router = APIRouter(prefix="/projects/{slug}", tags=["projects"])


@router.get("/export", response_model=ProjectBackup, operation_id="export_project")
def export_project(project: ProjectDep, session: SessionDep) -> ProjectBackup:
    """Back up the project: its settings, runs, brain dumps verbatim with their redaction audit, entries with every
    version, approach regroupings, marks and proposed marks, answered questions and MLflow sync state, every value
    exactly as stored (no tokens, no outbox). `labbook restore` reads it into a database that lacks the project."""
    return backup_service.export_project(session, project=project)


@router.get("/report", operation_id="get_project_report", response_class=Response, responses=MARKDOWN_RESPONSE)
def get_project_report(project: ProjectDep, session: SessionDep) -> Response:
    """The project's whole narrative as one Markdown document, for an audit: the project, its findings now, the
    approach marks, every session (the brain dump verbatim, its redactions, its log entry and every correction) and
    every document, oldest first."""
    return markdown_response(report_service.project_report(session, project=project))
