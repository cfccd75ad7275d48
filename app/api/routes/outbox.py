from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import CursorQuery, LimitQuery, PrincipalDep, SessionDep
from app.api.params import EntryIdQuery, OutboxItemIdPath
from app.api.responses import errors
from app.services import outbox_status
from app.services.schemas import OutboxItemPublic, OutboxPage, OutboxState

router = APIRouter(prefix="/outbox", tags=["outbox"])

StateQuery = Annotated[OutboxState | None, Query(description="Only items in this state.")]
ProjectQuery = Annotated[str | None, Query(max_length=64, description="Only this project's items (its slug).")]


@router.get("", response_model=OutboxPage, operation_id="list_outbox", responses=errors(404))
def list_outbox(
    principal: PrincipalDep,
    session: SessionDep,
    state: StateQuery = None,
    project: ProjectQuery = None,
    entry_id: EntryIdQuery = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> OutboxPage:
    """List write-backs to MLflow (each cited run's description and labbook.* tags), oldest first: pending ones
    (queued or retrying after an error, with `last_error` and `next_attempt_at`), delivered and dead ones, and
    how many items are in each state."""
    return outbox_status.list_outbox(
        session, principal=principal, state=state, project_slug=project, entry_id=entry_id, limit=limit, cursor=cursor
    )


@router.post("/{item_id}/retry", response_model=OutboxItemPublic, operation_id="retry_outbox_item")
def retry_outbox_item(item_id: OutboxItemIdPath, principal: PrincipalDep, session: SessionDep) -> OutboxItemPublic:
    """Deliver a pending or dead write-back at the next poll instead of waiting for its backoff."""
    return outbox_status.retry_item(session, principal=principal, item_id=item_id)
