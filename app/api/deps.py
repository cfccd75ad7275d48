"""Request dependencies: the session (one transaction per request), settings, the caller, the project, and
whether the caller asked for Markdown."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import Depends, Header, Path, Query, Request, Response
from sqlmodel import Session

from app.api.negotiation import prefers_markdown
from app.config import Settings
from app.services import projects as projects_service
from app.services.auth import Principal, authenticate
from app.services.pagination import MAX_LIMIT
from app.services.phrasing import PhrasingRequest
from app.storage.db import WRITER, session_scope
from app.storage.models import Project


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session(request: Request) -> Iterator[Session]:
    """The request's transaction; a request that may write takes the write lock up front (`writer`)."""
    engine = request.app.state.engine if request.method in _READS else request.app.state.writer_engine
    yield from session_scope(engine)


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
# scope="function": commit (or roll back) when the route returns, before the response is sent, so a client never
# sees success for a write that did not commit.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def _between_steps(session: Session) -> None:
    """End a writer's transaction after a dependency's lookup (the token, the project): FastAPI runs each
    dependency and then the route on a thread of its pool, and a request waiting for its next thread must not hold
    SQLite's write lock meanwhile. The route's first statement takes it again. The objects read stay loaded."""
    if session.in_transaction() and session.get_bind().get_execution_options().get(WRITER, False):
        session.commit()


def get_principal(
    session: SessionDep,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    principal = authenticate(session, settings=settings, authorization=authorization)
    _between_steps(session)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_project(
    slug: Annotated[str, Path(description="The project's slug.")], session: SessionDep, principal: PrincipalDep
) -> Project:
    project = projects_service.resolve_project(session, principal=principal, slug=slug)
    _between_steps(session)
    return project


ProjectDep = Annotated[Project, Depends(get_project)]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")]
CursorQuery = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]


def get_prefers_markdown(
    response: Response, accept: Annotated[str | None, Header(include_in_schema=False)] = None
) -> bool:
    response.headers["Vary"] = "Accept"  # the JSON answer depends on the header too (caches must know)
    return prefers_markdown(accept)


PrefersMarkdownDep = Annotated[bool, Depends(get_prefers_markdown)]


def get_phrasing(
    provider: Annotated[
        Literal["auto", "offline"],
        Query(
            description="`offline`: the offline composer alone, even where a model is configured; `auto` (default): "
            "a configured model's version follows as the entry's next version."
        ),
    ] = "auto",
    wait: Annotated[
        bool,
        Query(
            description="Wait (up to the model timeout) for the model's version and answer with whichever version "
            "stands then; without it the answer is the offline version at once, with `phrasing: pending`."
        ),
    ] = False,
) -> PhrasingRequest:
    return PhrasingRequest(provider=provider, wait=wait)


PhrasingDep = Annotated[PhrasingRequest, Depends(get_phrasing)]
