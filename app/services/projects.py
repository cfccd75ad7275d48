"""Projects: create, read, list and update, always through the caller's scope."""

from __future__ import annotations

from sqlmodel import Session

from app.compose.projects import ProjectLine, render_projects
from app.errors import Forbidden, InputInvalid, ProjectExists, ProjectNotFound
from app.services import idempotency
from app.services.auth import Principal
from app.services.pagination import decode_cursor, next_cursor
from app.services.schemas import Page, ProjectCreate, ProjectPublic, ProjectUpdate
from app.storage import projects as project_store
from app.storage.models import Project
from app.storage.types import utcnow

# Fields a PATCH may change but not clear.
_NOT_NULL = frozenset(
    {
        "name",
        "goal",
        "primary_metric",
        "metric_direction",
        "mlflow_experiments",
        "metric_aliases",
        "writeback",
        "auto_apply_declared_marks",
        "llm",
    }
)


def resolve_project(session: Session, *, principal: Principal, slug: str) -> Project:
    """The project, or ProjectNotFound, also when it exists outside the caller's scope."""
    project = project_store.get_project_by_slug(session, slug) if principal.can_see(slug) else None
    if project is None:
        raise ProjectNotFound(f"no project '{slug}'", field="slug")
    return project


def create_project(session: Session, *, principal: Principal, body: ProjectCreate) -> ProjectPublic:
    if not principal.can_see(body.slug):
        raise Forbidden(f"this token cannot create project '{body.slug}'", field="slug")
    if project_store.get_project_by_slug(session, body.slug) is not None:
        raise ProjectExists(f"a project '{body.slug}' already exists", field="slug")
    project = project_store.add_project(session, Project(**body.model_dump()))
    idempotency.link(session, f"/v1/projects/{project.slug}")
    return ProjectPublic.model_validate(project)


def list_projects(session: Session, *, principal: Principal, limit: int, cursor: str | None) -> Page[ProjectPublic]:
    projects = project_store.list_projects(
        session, slugs=principal.projects, after_id=decode_cursor(cursor), limit=limit
    )
    return Page[ProjectPublic](
        items=[ProjectPublic.model_validate(p) for p in projects],
        next_cursor=next_cursor([p.id or 0 for p in projects], limit),
    )


def projects_markdown(page: Page[ProjectPublic]) -> str:
    """A page of projects as a Markdown list (slug, goal, metric, target, deadline)."""
    lines = [
        ProjectLine(p.slug, p.name, p.goal, p.primary_metric, p.metric_direction, p.target_value, p.deadline)
        for p in page.items
    ]
    return render_projects(lines)


def update_project(session: Session, *, project: Project, body: ProjectUpdate) -> ProjectPublic:
    """Apply the fields the request names; a field sent as null clears it where it may be empty."""
    changes = body.model_dump(exclude_unset=True)
    for name in _NOT_NULL.intersection(k for k, v in changes.items() if v is None):
        raise InputInvalid(f"'{name}' cannot be null", field=name)
    for name, value in changes.items():
        setattr(project, name, value)
    project.updated_at = utcnow()
    session.add(project)
    session.flush()
    return ProjectPublic.model_validate(project)
