"""The outbox as people see it: list write-backs with their state, revive one, and each entry's write-back state.

Split from `app.services.outbox` (which queues and delivers); this module only reads and marks items due."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import cast

from sqlmodel import Session

from app.errors import InputInvalid, NotFound
from app.services.auth import Principal
from app.services.outbox import OUTCOME, RUN_NOTE
from app.services.pagination import decode_cursor, next_cursor
from app.services.schemas import OutboxItemPublic, OutboxPage, WritebackStatus
from app.storage import outbox as outbox_store
from app.storage import projects as project_store
from app.storage.models import OutboxItem
from app.storage.types import utcnow


def list_outbox(
    session: Session,
    *,
    principal: Principal,
    state: str | None,
    project_slug: str | None,
    entry_id: int | None,
    limit: int,
    cursor: str | None,
) -> OutboxPage:
    """Items in the caller's projects, oldest first, with the number of items in each state (same filters)."""
    projects = _visible_projects(session, principal=principal, slug=project_slug)
    where = outbox_store.OutboxFilter(
        project_ids=list(projects) if projects is not None else None, state=state, entry_id=entry_id
    )
    items = outbox_store.list_items(session, where=where, after_id=decode_cursor(cursor), limit=limit)
    slugs = projects or _slugs(session, {i.project_id for i in items})
    return OutboxPage(
        items=[_public(i, slugs) for i in items],
        next_cursor=next_cursor([cast(int, i.id) for i in items], limit),
        counts=outbox_store.count_by_state(session, where=where),
    )


def retry_item(session: Session, *, principal: Principal, item_id: int) -> OutboxItemPublic:
    """A pending or dead item becomes due now; a delivered one is left as it is."""
    item = outbox_store.get_item(session, item_id)
    project = project_store.get_project(session, item.project_id) if item else None
    if item is None or project is None or not principal.can_see(project.slug):
        raise NotFound(f"no outbox item {item_id}", field="item_id")
    if item.state == outbox_store.DELIVERED:
        raise InputInvalid(f"outbox item {item_id} was delivered already", field="item_id")
    outbox_store.make_due(session, item_id, now=utcnow())
    session.refresh(item)
    return _public(item, {project.id or 0: project.slug})


def entry_writeback(session: Session, entry_ids: Iterable[int]) -> dict[int, list[WritebackStatus]]:
    """Per entry, the latest write-back of each run it was queued for, in the order the runs were first queued."""
    latest: dict[int, dict[str, OutboxItem]] = defaultdict(dict)
    for item in outbox_store.items_for_entries(session, list(entry_ids)):
        if item.kind != RUN_NOTE:  # a decision's model-version tags are listed by GET /v1/outbox?entry_id=
            continue
        latest[cast(int, item.entry_id)][item.run_id] = item
    return {
        entry_id: [WritebackStatus.model_validate(item, from_attributes=True) for item in by_run.values()]
        for entry_id, by_run in latest.items()
    }


def _visible_projects(session: Session, *, principal: Principal, slug: str | None) -> dict[int, str] | None:
    """{id: slug} of the projects to list (None: all); a project outside the token's scope is not found."""
    if slug is not None:
        project = project_store.get_project_by_slug(session, slug)
        if project is None or not principal.can_see(slug):
            raise NotFound(f"no project '{slug}'", field="project")
        return {cast(int, project.id): slug}
    if principal.projects is None:
        return None
    found = (project_store.get_project_by_slug(session, s) for s in sorted(principal.projects))
    return {cast(int, p.id): p.slug for p in found if p is not None}


def _slugs(session: Session, project_ids: set[int]) -> dict[int, str]:
    found = (project_store.get_project(session, pid) for pid in project_ids)
    return {cast(int, p.id): p.slug for p in found if p is not None}


def _public(item: OutboxItem, slugs: dict[int, str]) -> OutboxItemPublic:
    data = item.model_dump(exclude={"project_id", "payload", "claimed_until"})
    return OutboxItemPublic(**data, project=slugs.get(item.project_id, ""), outcome=item.payload.get(OUTCOME))
