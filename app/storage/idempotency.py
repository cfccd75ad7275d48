"""Idempotency-key queries. A key is claimed by inserting it (the unique (scope, key) pair decides a race); every
later change is one conditional statement, so two requests never both take over, settle or release one key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Delete, Update, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.storage.models import IdempotencyKey

PENDING, COMPLETE = "pending", "complete"


def insert_claim(session: Session, record: IdempotencyKey) -> bool:
    """Insert a pending key; False when the caller already holds this key (a savepoint keeps the session usable).
    The insert is the transaction's first statement, so on SQLite it waits for the write lock like any writer."""
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        return False
    return True


def get_key(session: Session, *, scope: str, key: str) -> IdempotencyKey | None:
    session.expire_all()  # a row read before a concurrent commit must be read again
    return session.exec(select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)).first()


def take_over(session: Session, record_id: int, *, stale_before: datetime, now: datetime) -> bool:
    """Lease a pending, unlinked key whose lease ran out (its first attempt died before creating anything)."""
    statement = (
        update(IdempotencyKey)
        .where(_pending(record_id), col(IdempotencyKey.replay_path).is_(None))
        .where(col(IdempotencyKey.claimed_at) < stale_before)
        .values(claimed_at=now)
    )
    return _changed(session, statement)


def link(session: Session, record_id: int, *, replay_path: str, status: int) -> bool:
    """Point a pending key at the resource its request created; the first link wins (a log's entry keeps the log)."""
    statement = (
        update(IdempotencyKey)
        .where(_pending(record_id), col(IdempotencyKey.replay_path).is_(None))
        .values(replay_path=replay_path, response_status=status)
    )
    # Not `_changed`: this runs in the request's own session, whose loaded rows must stay as they are.
    return bool(getattr(session.execute(statement), "rowcount", 0) == 1)


def complete(session: Session, record_id: int, *, status: int, media_type: str | None, body: bytes) -> bool:
    statement = (
        update(IdempotencyKey)
        .where(_pending(record_id))
        .values(state=COMPLETE, response_status=status, media_type=media_type, response_body=body)
    )
    return _changed(session, statement)


def release(session: Session, record_id: int) -> bool:
    """Forget a pending key whose request created nothing, so a retry runs again; a linked key stays."""
    unlinked = col(IdempotencyKey.replay_path).is_(None)
    return _changed(session, delete(IdempotencyKey).where(_pending(record_id), unlinked))


def delete_expired(session: Session, *, before: datetime, record_id: int | None = None) -> int:
    """Delete keys created before `before` (one key, or all of them)."""
    statement = delete(IdempotencyKey).where(col(IdempotencyKey.created_at) < before)
    if record_id is not None:
        statement = statement.where(col(IdempotencyKey.id) == record_id)
    result = session.execute(statement)
    session.expire_all()
    return int(getattr(result, "rowcount", 0) or 0)


def _pending(record_id: int) -> ColumnElement[bool]:
    return (col(IdempotencyKey.id) == record_id) & (col(IdempotencyKey.state) == PENDING)


def _changed(session: Session, statement: Update | Delete) -> bool:
    result = session.execute(statement)
    session.expire_all()  # the ORM copies in this session are stale now
    return bool(getattr(result, "rowcount", 0) == 1)
