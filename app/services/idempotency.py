"""Idempotency keys: a client that retries a POST with the same `Idempotency-Key` gets the first answer, and nothing
is created twice.

The API's middleware asks `open_key` what to do with a keyed request: run it (the key is claimed, committed, before
the request runs), replay the stored answer, follow the resource the first attempt created, or wait (409) while the
first attempt still runs. After the request it `settle`s the key: a 2xx or 4xx answer is stored; a 5xx, an error or a
transient refusal releases the key so that a retry runs again.

A request that commits part of its work before it answers (a brain dump is committed before its entry is composed)
`link`s the key to what it created in that same transaction: if the process dies after that commit, the key still
says where the resource is, and a retry answers with it instead of creating a second one.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlmodel import Session

from app.config import Settings
from app.errors import ConcurrentWrite, IdempotencyKeyInvalid, IdempotencyKeyReused
from app.services import auth
from app.storage import idempotency as key_store
from app.storage.models import IdempotencyKey
from app.storage.types import utcnow

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
# A pending key older than this without a linked resource belongs to an attempt that died before creating anything.
LEASE = timedelta(seconds=120)
TTL = timedelta(hours=24)  # how long a key is remembered
_PURGE_EVERY = 60.0  # seconds between two purges of expired keys in one process
# Refusals that say nothing ran (or a retry may succeed): not stored, so a retry runs again.
_NOT_STORED = frozenset({401, 408, 409, 429})

SessionFactory = Callable[[], Session]
_current: ContextVar[int | None] = ContextVar("idempotency_key_id", default=None)
_last_purge = 0.0


@dataclass(frozen=True)
class Run:
    """The key is ours: run the request, then settle the key."""

    record_id: int


@dataclass(frozen=True)
class Replay:
    """The first attempt's answer, as it was sent."""

    status: int
    media_type: str | None
    body: bytes


@dataclass(frozen=True)
class Follow:
    """The first attempt created the resource at `path` but its answer was not stored: answer with the resource."""

    path: str
    status: int


@dataclass(frozen=True)
class Busy:
    """The first attempt is still running."""


Outcome = Run | Replay | Follow | Busy


def checked_key(value: str) -> str:
    """The header's value, or IdempotencyKeyInvalid: 1 to 200 visible ASCII characters (a UUID fits)."""
    if not 1 <= len(value) <= MAX_KEY_LENGTH or not all("!" <= char <= "~" for char in value):
        raise IdempotencyKeyInvalid(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} visible ASCII characters (a UUID, for example)", field=HEADER
        )
    return value


def caller_scope(authorization: str | None) -> str:
    """Keys belong to the credentials that sent them; only a hash of those is stored."""
    return hashlib.sha256((authorization or "").encode()).hexdigest()


def fingerprint(*parts: bytes | str) -> str:
    """sha256 over the parts that make a request what it is (method, path, query, media types, body)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)  # length-prefixed: no two requests share a stream
    return digest.hexdigest()


def open_key(
    sessions: SessionFactory, *, settings: Settings, authorization: str | None, key: str, fingerprint: str
) -> Outcome:
    """Authenticate the caller (no key is stored for a stranger), then claim the key or say what the first attempt
    left. The same key with another request is IdempotencyKeyReused (422)."""
    with sessions() as session:
        auth.authenticate(session, settings=settings, authorization=authorization)
        session.commit()  # the token's last use
    now = utcnow()
    _purge_now_and_then(sessions, now)
    scope = caller_scope(authorization)
    for _attempt in range(3):
        with sessions() as session:
            outcome = _claim_or_read(session, scope=scope, key=key, fingerprint=fingerprint, now=now)
            session.commit()
        if outcome is not None:
            return outcome
    raise ConcurrentWrite(f"the {HEADER} changed hands too often at once; send again", field=HEADER)


def _claim_or_read(session: Session, *, scope: str, key: str, fingerprint: str, now: datetime) -> Outcome | None:
    """None: the key came and went under us (released, expired, taken over by another retry); try again."""
    record = IdempotencyKey(scope=scope, key=key, fingerprint=fingerprint, created_at=now, claimed_at=now)
    if key_store.insert_claim(session, record):
        return Run(record_id=_id(record))
    existing = key_store.get_key(session, scope=scope, key=key)
    if existing is None:
        return None
    if existing.created_at < now - TTL:
        key_store.delete_expired(session, before=now - TTL, record_id=_id(existing))
        return None
    if existing.fingerprint != fingerprint:
        raise IdempotencyKeyReused(f"this {HEADER} was already used with another request", field=HEADER)
    return _left_by_first_attempt(session, existing, now=now)


def _left_by_first_attempt(session: Session, existing: IdempotencyKey, *, now: datetime) -> Outcome | None:
    if existing.state == key_store.COMPLETE:
        return Replay(
            status=existing.response_status or 200, media_type=existing.media_type, body=existing.response_body or b""
        )
    if existing.replay_path is not None:
        return Follow(path=existing.replay_path, status=existing.response_status or 200)
    if existing.claimed_at >= now - LEASE:
        return Busy()
    if key_store.take_over(session, _id(existing), stale_before=now - LEASE, now=now):
        logger.info("idempotency.taken_over", extra={"record_id": existing.id})
        return Run(record_id=_id(existing))
    return None


def settle(sessions: SessionFactory, record_id: int, *, status: int, media_type: str | None, body: bytes) -> None:
    """Store the answer for the retries to come, or release the key when nothing (or nothing lasting) was done."""
    if status >= 500 or status in _NOT_STORED:
        release(sessions, record_id)
        return
    with sessions() as session:
        key_store.complete(session, record_id, status=status, media_type=media_type, body=body)
        session.commit()


def release(sessions: SessionFactory, record_id: int) -> None:
    """Forget the claim so that a retry runs again; a key linked to a created resource is kept."""
    with sessions() as session:
        key_store.release(session, record_id)
        session.commit()


@contextmanager
def bound(record_id: int) -> Iterator[None]:
    """Make the request's key known to the services it calls (`link`). A context variable: the threads the request
    runs in get a copy of its context."""
    token = _current.set(record_id)
    try:
        yield
    finally:
        _current.reset(token)


def link(session: Session, path: str, status: int = 201) -> None:
    """Record, in the caller's transaction, that the request created the resource at `path` (answered with `status`):
    a retry after a crash answers with it. A no-op without a key; the first link of a request wins."""
    record_id = _current.get()
    if record_id is not None:
        key_store.link(session, record_id, replay_path=path, status=status)


def _purge_now_and_then(sessions: SessionFactory, now: datetime) -> None:
    global _last_purge
    if time.monotonic() - _last_purge < _PURGE_EVERY:
        return
    _last_purge = time.monotonic()
    with sessions() as session:
        purged = key_store.delete_expired(session, before=now - TTL)
        session.commit()
    if purged:
        logger.info("idempotency.purged", extra={"keys": purged})


def _id(record: IdempotencyKey) -> int:
    return cast(int, record.id)
