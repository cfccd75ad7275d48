from __future__ import annotations

from fastapi import APIRouter, Response

from app.api.deps import (
    CursorQuery,
    LimitQuery,
    PhrasingDep,
    PrefersMarkdownDep,
    PrincipalDep,
    ProjectDep,
    SessionDep,
    SettingsDep,
)
from app.api.negotiation import MARKDOWN_RESPONSE, markdown_response
from app.api.params import LogIdPath
from app.api.responses import errors
from app.services import logs as logs_service
from app.services.schemas import LogCreate, LogPublic, Page, RedactionCreate

router = APIRouter(tags=["logs"])


@router.post(
    "/projects/{slug}/logs",
    status_code=201,
    response_model=LogPublic,
    operation_id="create_log",
    summary="Record a brain dump and get its log entry",
    responses={201: MARKDOWN_RESPONSE[200], **errors(409)},
)
def create_log(
    body: LogCreate,
    project: ProjectDep,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    markdown: PrefersMarkdownDep,
    phrasing: PhrasingDep,
) -> LogPublic | Response:
    """Record an end-of-session brain dump (with an optional pasted run table) and get it back structured. The text
    is stored verbatim and committed before anything else happens; a pasted table is imported as runs; then the
    answer's `log_entry` holds the TL;DR, hypothesis, experiments (run, change, stated and stored numbers),
    observations, conclusions, what didn't work, open questions, next steps and warnings, citing stored runs only.
    With `Accept: text/markdown`, answers with the entry's Markdown alone (a chat reply, ready to post). Where a model
    is configured, its reading follows as the entry's next version (`phrasing: pending`; `wait=true` waits for it)."""
    log = logs_service.create_log(session, project=project, principal=principal, body=body, related_now=phrasing.wait)
    log = logs_service.follow_log(session, log, project=project, settings=settings, request=phrasing)
    if markdown and log.log_entry is not None:
        response = markdown_response(log.log_entry.markdown)
        response.status_code = 201
        return response
    return log


@router.get("/projects/{slug}/logs", response_model=Page[LogPublic], operation_id="list_logs")
def list_logs(
    project: ProjectDep, session: SessionDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[LogPublic]:
    """List a project's brain dumps in the order they arrived."""
    return logs_service.list_logs(session, project=project, limit=limit, cursor=cursor)


@router.get("/logs/{log_id}", response_model=LogPublic, operation_id="get_log")
def get_log(log_id: LogIdPath, principal: PrincipalDep, session: SessionDep) -> LogPublic:
    """Read one brain dump as stored, with its redaction history."""
    return logs_service.get_log(session, principal=principal, log_id=log_id)


@router.post(
    "/logs/{log_id}/compose",
    response_model=LogPublic,
    operation_id="compose_log",
    responses={201: {"model": LogPublic, "description": "The entry was composed now."}},
)
def compose_log(log_id: int, principal: PrincipalDep, session: SessionDep, response: Response) -> LogPublic:
    """Compose the dump's log entry now if it has none (answers 201), e.g. one that could not be composed when it was
    posted; a dump that has its entry is answered as it is (200). The outbox worker does the same on its own, with
    retries, for every dump left without an entry."""
    log, composed = logs_service.compose_log(session, principal=principal, log_id=log_id)
    if composed:
        response.status_code = 201
    return log


@router.post("/logs/{log_id}/redactions", response_model=LogPublic, operation_id="redact_log")
def redact_log(log_id: LogIdPath, body: RedactionCreate, principal: PrincipalDep, session: SessionDep) -> LogPublic:
    """Remove pasted secrets from a stored brain dump. The dump is otherwise never edited; each redaction keeps an
    audit record of who removed what (a fingerprint, not the secret) and when."""
    return logs_service.redact_log(session, principal=principal, log_id=log_id, body=body)
