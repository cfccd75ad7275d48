"""Queue index updates: an `index` item in the outbox per changed dump or entry, in the caller's transaction.

Kept apart from `app.services.memory` (which embeds) so the services that store dumps and entries
depend on nothing heavier than the outbox table. `configure` is called once at start-up with the service's
setting: with retrieval off nothing is queued.
"""

from __future__ import annotations

from sqlmodel import Session

from app.retrieval.chunks import entry_source_key, log_source_key
from app.storage import outbox as outbox_store
from app.storage.models import OutboxItem
from app.storage.types import utcnow

INDEX = outbox_store.INDEX
_enabled = True


def configure(*, enabled: bool) -> None:
    global _enabled
    _enabled = enabled


def enabled() -> bool:
    return _enabled


def queue_log(session: Session, *, project_id: int, log_id: int) -> None:
    _queue(session, project_id=project_id, key=log_source_key(log_id))


def queue_entry(session: Session, *, project_id: int, entry_id: int) -> None:
    _queue(session, project_id=project_id, key=entry_source_key(entry_id))


def _queue(session: Session, *, project_id: int, key: str) -> None:
    """One pending item per source that no worker holds: it reads the source's latest state anyway."""
    if not _enabled:
        return
    if outbox_store.has_waiting(session, entry_id=None, run_id=key, kind=INDEX, now=utcnow()):
        return
    outbox_store.add_item(session, OutboxItem(project_id=project_id, kind=INDEX, run_id=key, payload={"source": key}))


def behind(session: Session, *, project_id: int) -> int:
    """Sources of the project waiting to be indexed."""
    return outbox_store.pending_count(session, project_id=project_id, kind=INDEX)
