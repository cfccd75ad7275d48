"""Project queries."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.errors import ProjectExists
from app.storage.models import Project


def get_project_by_slug(session: Session, slug: str) -> Project | None:
    return session.exec(select(Project).where(Project.slug == slug)).first()


def get_project(session: Session, project_id: int) -> Project | None:
    return session.get(Project, project_id)


def list_projects(session: Session, *, slugs: Collection[str] | None, after_id: int, limit: int) -> list[Project]:
    """Projects in creation order after `after_id`; `slugs` limits the list (a scoped token)."""
    query = select(Project).where(col(Project.id) > after_id)
    if slugs is not None:
        query = query.where(col(Project.slug).in_(list(slugs)))
    return list(session.exec(query.order_by(col(Project.id)).limit(limit)))


def add_project(session: Session, project: Project) -> Project:
    """Insert a project; a slug taken by a concurrent request is ProjectExists, as a slug taken earlier is."""
    session.add(project)
    try:
        session.flush()
    except IntegrityError as exc:
        raise ProjectExists(f"a project '{project.slug}' already exists", field="slug") from exc
    return project
