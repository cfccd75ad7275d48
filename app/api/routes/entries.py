from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import CursorQuery, LimitQuery, PrefersMarkdownDep, PrincipalDep, ProjectDep, SessionDep
from app.api.negotiation import MARKDOWN_RESPONSE, markdown_page, markdown_response
from app.api.params import EntryIdPath, VersionQuery
from app.api.responses import errors
from app.services import declarations as declarations_service
from app.services import entries as entries_service
from app.services.schemas import EntryPublic, EntryUpdate, EntryVersionPublic, OpenQuestionPublic, Page

router = APIRouter(tags=["entries"])

KindQuery = Annotated[str | None, Query(max_length=32, description="Only entries of this kind, e.g. `log_entry`.")]
OpenQuery = Annotated[bool, Query(alias="open", description="Only the questions no later brain dump answered.")]


@router.get(
    "/projects/{slug}/entries",
    response_model=Page[EntryPublic],
    operation_id="list_entries",
    responses=MARKDOWN_RESPONSE,
)
def list_entries(
    request: Request,
    project: ProjectDep,
    session: SessionDep,
    markdown: PrefersMarkdownDep,
    kind: KindQuery = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[EntryPublic] | Response:
    """List a project's structured entries (log entries composed from brain dumps, ...), oldest first. With
    `Accept: text/markdown`, answers with the entries' Markdown separated by `---`, and the next page in a `Link`
    header."""
    page = entries_service.list_entries(session, project=project, kind=kind, limit=limit, cursor=cursor)
    return markdown_page(request, [e.markdown for e in page.items], page.next_cursor) if markdown else page


@router.get("/projects/{slug}/questions", response_model=list[OpenQuestionPublic], operation_id="list_questions")
def list_questions(project: ProjectDep, session: SessionDep, open_only: OpenQuery = False) -> list[OpenQuestionPublic]:
    """The open questions of the project's log entries, oldest first, each with where a later brain dump answered
    it (the dump, its entry and the sentence), or null while it is open."""
    return declarations_service.list_questions(session, project=project, open_only=open_only)


@router.get("/entries/{entry_id}", response_model=EntryPublic, operation_id="get_entry", responses=MARKDOWN_RESPONSE)
def get_entry(
    entry_id: EntryIdPath,
    principal: PrincipalDep,
    session: SessionDep,
    markdown: PrefersMarkdownDep,
    version: VersionQuery = None,
) -> EntryPublic | Response:
    """Read one entry: its JSON body, its Markdown and the runs it cites; `version` reads an earlier version. With
    `Accept: text/markdown`, answers with the Markdown document alone."""
    entry = entries_service.get_entry(session, principal=principal, entry_id=entry_id, version=version)
    return markdown_response(entry.markdown) if markdown else entry


@router.patch("/entries/{entry_id}", response_model=EntryPublic, operation_id="correct_entry", responses=errors(409))
def correct_entry(
    entry_id: EntryIdPath, body: EntryUpdate, principal: PrincipalDep, session: SessionDep
) -> EntryPublic:
    """Correct an entry by hand: the sections sent replace the current ones, with a `reason`. This adds a version;
    earlier versions stay readable. Cited runs must be stored runs of the project."""
    return entries_service.update_entry(session, principal=principal, entry_id=entry_id, body=body)


@router.post(
    "/entries/{entry_id}/recompose", response_model=EntryPublic, operation_id="recompose_entry", responses=errors(409)
)
def recompose_entry(entry_id: EntryIdPath, principal: PrincipalDep, session: SessionDep) -> EntryPublic:
    """Compose a log entry again from its brain dump, against the runs stored now: references to runs imported
    since the dump was posted resolve. Adds a version when the result differs; earlier versions stay readable."""
    return entries_service.recompose_entry(session, principal=principal, entry_id=entry_id)


@router.get("/entries/{entry_id}/versions", response_model=list[EntryVersionPublic], operation_id="list_entry_versions")
def list_entry_versions(
    entry_id: EntryIdPath, principal: PrincipalDep, session: SessionDep
) -> list[EntryVersionPublic]:
    """List every version of an entry, oldest first: who made it, why, and what it said."""
    return entries_service.list_versions(session, principal=principal, entry_id=entry_id)


@router.get("/schemas/{kind}", operation_id="get_entry_schema")
def get_entry_schema(kind: str, principal: PrincipalDep) -> dict[str, Any]:
    """The JSON schema of an entry kind (`log_entry`, `phase_summary`, `next_experiments`, `tried_answer`,
    `selection_decision`, `reproduction_report`, `handover_brief`, `metric_switch`): the shape of `body` in every
    entry of that kind."""
    return entries_service.document_schema(kind)
