"""Search a project's history: past sessions and documents by meaning, and by exact token (run IDs and names,
parameters)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.deps import PrefersMarkdownDep, ProjectDep, SessionDep, SettingsDep
from app.api.negotiation import MARKDOWN_RESPONSE, markdown_response
from app.api.responses import errors
from app.services import search as search_service
from app.services.schemas import SearchPage

router = APIRouter(prefix="/projects/{slug}", tags=["search"])


@router.get(
    "/search",
    response_model=SearchPage,
    operation_id="search_project",
    summary="Search a project's history",
    responses={**MARKDOWN_RESPONSE, **errors(503)},
)
def search_project(
    project: ProjectDep,
    session: SessionDep,
    settings: SettingsDep,
    markdown: PrefersMarkdownDep,
    q: Annotated[str, Query(min_length=1, max_length=1000, description="What to look for, in any words.")],
    kind: Annotated[
        str | None,
        Query(max_length=32, pattern=r"^[a-z_]+$", description="`log_entry` (sessions) or a document kind."),
    ] = None,
    since: Annotated[date | None, Query(description="Only sessions and documents on or after this day.")] = None,
    until: Annotated[date | None, Query(description="Only sessions and documents on or before this day.")] = None,
    approach: Annotated[str | None, Query(max_length=200, description="Only passages about this approach.")] = None,
    limit: Annotated[int, Query(ge=1, le=50, description="How many hits.")] = 10,
) -> SearchPage | Response:
    """Past sessions (a brain dump with its log entry) and documents ranked by how well they answer `q`: by
    meaning (embeddings in Chroma) fused with exact tokens (a run ID or name, a parameter, `key=value`). Each hit
    has its day, kind, approaches, a link and a snippet with the matched words marked. `not_indexed` says how many
    recent dumps and entries the index does not hold yet. 503 when the index cannot answer now; 404 `retrieval_off`
    on a service with retrieval off."""
    query = search_service.Query(text=q, kind=kind, since=since, until=until, approach=approach, limit=limit)
    page = search_service.search_page(session, settings, project=project, query=query)
    if markdown:
        return markdown_response(search_service.search_markdown(page, project=project, public_url=settings.public_url))
    return page
