from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.api.deps import CursorQuery, LimitQuery, PrefersMarkdownDep, PrincipalDep, ProjectDep, SessionDep
from app.api.negotiation import MARKDOWN_RESPONSE, markdown_page
from app.api.responses import errors
from app.services import projects as projects_service
from app.services.schemas import Page, ProjectCreate, ProjectPublic, ProjectUpdate

router = APIRouter(prefix="/projects", tags=["projects"])


@router.post(
    "", status_code=201, response_model=ProjectPublic, operation_id="create_project", responses=errors(403, 409)
)
def create_project(body: ProjectCreate, session: SessionDep, principal: PrincipalDep) -> ProjectPublic:
    """Create a project: one modelling problem, with its goal and primary metric (max or min)."""
    return projects_service.create_project(session, principal=principal, body=body)


@router.get("", response_model=Page[ProjectPublic], operation_id="list_projects", responses=MARKDOWN_RESPONSE)
def list_projects(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    markdown: PrefersMarkdownDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[ProjectPublic] | Response:
    """List the projects this token can see, oldest first: each one's slug (which every per-project operation
    takes), goal, primary metric and direction, target and deadline. With `Accept: text/markdown`, answers with a
    Markdown list, and the next page in a `Link` header."""
    page = projects_service.list_projects(session, principal=principal, limit=limit, cursor=cursor)
    return markdown_page(request, [projects_service.projects_markdown(page)], page.next_cursor) if markdown else page


@router.get("/{slug}", response_model=ProjectPublic, operation_id="get_project")
def get_project(project: ProjectDep) -> ProjectPublic:
    """Read one project: its goal, primary metric and direction, target, deadline, linked MLflow experiments and
    analysis settings."""
    return ProjectPublic.model_validate(project)


@router.patch("/{slug}", response_model=ProjectPublic, operation_id="update_project")
def update_project(body: ProjectUpdate, project: ProjectDep, session: SessionDep) -> ProjectPublic:
    """Change a project's name, goal, metric, direction, target, deadline or linked MLflow experiments."""
    return projects_service.update_project(session, project=project, body=body)
