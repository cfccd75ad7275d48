"""Outbox queries: enqueue, claim due items under a lease, and settle each one (delivered once, retried, dead).

Every state change is one conditional UPDATE, so two workers (or a worker whose lease ran out) can never both
settle an item: marking an item delivered only succeeds while it is still pending, hence "delivered once".
Claiming selects due items `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite ignores the clause and serialises
writers itself) and then takes each with an UPDATE that re-checks the lease.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial

from sqlalchemy import ColumnElement, Engine, Text, Update, bindparam, cast, delete, func, insert, or_, update
from sqlalchemy import select as sql_select  # sqlmodel's select does not type an entity with a column
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from app.storage import revisions
from app.storage.models import Entry, OutboxItem, Run, SessionLog

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
STATES = (PENDING, DELIVERED, DEAD)
# Index updates (app.services.memory) ride the same queue but are not write-backs: the outbox's listing and counts
# leave them out.
INDEX = "index"


@dataclass(frozen=True)
class OutboxFilter:
    project_ids: Collection[int] | None = None  # None: every project
    state: str | None = None
    entry_id: int | None = None


def session_factory(engine: Engine) -> Callable[[], Session]:
    """New sessions on `engine` for the delivery loop, which opens one short transaction per step."""
    return partial(Session, engine, expire_on_commit=False)


def add_item(session: Session, item: OutboxItem) -> OutboxItem:
    session.add(item)
    session.flush()
    return item


def has_waiting(session: Session, *, entry_id: int | None, run_id: str, kind: str, now: datetime) -> bool:
    """A pending item for the same entry and run that no worker holds: it will render the latest state anyway."""
    query = select(OutboxItem.id).where(
        OutboxItem.entry_id == entry_id,
        OutboxItem.run_id == run_id,
        OutboxItem.kind == kind,
        OutboxItem.state == PENDING,
        _unclaimed(now),
    )
    return session.exec(query.limit(1)).first() is not None


def pending_items(session: Session, *, kind: str, run_id: str) -> list[OutboxItem]:
    query = select(OutboxItem).where(OutboxItem.kind == kind, OutboxItem.run_id == run_id, OutboxItem.state == PENDING)
    return list(session.exec(query.order_by(col(OutboxItem.id))))


def _unclaimed(now: datetime) -> ColumnElement[bool]:
    return or_(col(OutboxItem.claimed_until).is_(None), col(OutboxItem.claimed_until) < now)


def claim_due(session: Session, *, now: datetime, lease: timedelta, limit: int) -> list[OutboxItem]:
    """Take up to `limit` due, unclaimed pending items for this worker until `now + lease`. Flushes, never commits:
    the caller commits at once so other workers see the lease."""
    candidates = select(OutboxItem.id).where(
        OutboxItem.state == PENDING, col(OutboxItem.next_attempt_at) <= now, _unclaimed(now)
    )
    candidates = candidates.order_by(col(OutboxItem.next_attempt_at), col(OutboxItem.id)).limit(limit)
    ids = list(session.exec(candidates.with_for_update(skip_locked=True)))
    claimed = [item_id for item_id in ids if _take(session, item_id, now=now, until=now + lease)]
    if not claimed:
        return []
    return list(session.exec(select(OutboxItem).where(col(OutboxItem.id).in_(claimed)).order_by(col(OutboxItem.id))))


def _take(session: Session, item_id: int | None, *, now: datetime, until: datetime) -> bool:
    statement = (
        update(OutboxItem)
        .where(col(OutboxItem.id) == item_id, col(OutboxItem.state) == PENDING, _unclaimed(now))
        .values(claimed_until=until)
    )
    return _changed(session, statement)


def mark_delivered(session: Session, item_id: int, *, now: datetime, payload: dict[str, object] | None = None) -> bool:
    """Delivered, once: False if the item was already settled (another worker, or a lease that ran out).
    `payload`, when given, replaces the item's (a delivery that records what it did, e.g. the versions it tagged)."""
    values: dict[str, object] = {"state": DELIVERED, "delivered_at": now, "last_error": None}
    if payload is not None:
        values["payload"] = payload
    return _settle(session, item_id, now=now, **values)


def reschedule(session: Session, item_id: int, *, now: datetime, next_attempt_at: datetime, error: str) -> bool:
    return _settle(session, item_id, now=now, next_attempt_at=next_attempt_at, last_error=error)


def mark_dead(session: Session, item_id: int, *, now: datetime, error: str) -> bool:
    return _settle(session, item_id, now=now, state=DEAD, last_error=error)


def _settle(session: Session, item_id: int, *, now: datetime, **values: object) -> bool:
    """One attempt finished: count it, release the lease, apply `values`; only while the item is still pending."""
    statement = (
        update(OutboxItem)
        .where(col(OutboxItem.id) == item_id, col(OutboxItem.state) == PENDING)
        .values(attempts=col(OutboxItem.attempts) + 1, claimed_until=None, updated_at=now, **values)
    )
    return _changed(session, statement)


def make_due(session: Session, item_id: int, *, now: datetime) -> bool:
    """A pending or dead item becomes pending and due now (a manual retry); a delivered one stays delivered."""
    statement = (
        update(OutboxItem)
        .where(col(OutboxItem.id) == item_id, col(OutboxItem.state).in_([PENDING, DEAD]))
        .values(state=PENDING, next_attempt_at=now, claimed_until=None, updated_at=now)
    )
    return _changed(session, statement)


def _changed(session: Session, statement: Update) -> bool:
    result = session.execute(statement)
    session.expire_all()  # the ORM copies in this session are stale now
    return bool(getattr(result, "rowcount", 0) == 1)


def get_item(session: Session, item_id: int) -> OutboxItem | None:
    return session.get(OutboxItem, item_id)


def list_items(session: Session, *, where: OutboxFilter, after_id: int, limit: int) -> list[OutboxItem]:
    query = select(OutboxItem).where(*_conditions(where), col(OutboxItem.id) > after_id)
    return list(session.exec(query.order_by(col(OutboxItem.id)).limit(limit)))


def count_by_state(session: Session, *, where: OutboxFilter) -> dict[str, int]:
    """{state: items} under the filter (its `state` ignored), every state present, 0 when none."""
    unfiltered_state = OutboxFilter(where.project_ids, None, where.entry_id)
    query = select(OutboxItem.state, func.count()).where(*_conditions(unfiltered_state))
    counts = dict.fromkeys(STATES, 0)
    counts.update({state: n for state, n in session.exec(query.group_by(col(OutboxItem.state)))})
    return counts


def _conditions(where: OutboxFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [col(OutboxItem.kind) != INDEX]
    if where.project_ids is not None:
        conditions.append(col(OutboxItem.project_id).in_(list(where.project_ids)))
    if where.state is not None:
        conditions.append(col(OutboxItem.state) == where.state)
    if where.entry_id is not None:
        conditions.append(col(OutboxItem.entry_id) == where.entry_id)
    return conditions


def items_for_entries(session: Session, entry_ids: Collection[int]) -> list[OutboxItem]:
    """Every item of these entries, oldest first."""
    if not entry_ids:
        return []
    query = select(OutboxItem).where(col(OutboxItem.entry_id).in_(list(entry_ids))).order_by(col(OutboxItem.id))
    return list(session.exec(query))


def entries_citing_run(session: Session, *, project_id: int, run_id: str) -> list[tuple[Entry, date | None]]:
    """The project's entries whose current version cites `run_id`, each with its brain dump's session date (None for
    an entry not composed from a dump). A text match on the JSON list narrows the rows in SQL on SQLite and
    PostgreSQL alike; the exact check is done here."""
    pattern = '%"' + run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + '"%'
    query = (
        sql_select(Entry, col(SessionLog.session_date))
        .join(SessionLog, col(Entry.log_id) == col(SessionLog.id), isouter=True)
        .where(col(Entry.project_id) == project_id, cast(col(Entry.run_ids), Text).like(pattern, escape="\\"))
        .order_by(col(Entry.id))
    )
    return [(entry, day) for entry, day in session.execute(query).all() if run_id in entry.run_ids]


# --- labbook.* run tags -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaggedRun:
    """A run synced from MLflow, with the labbook.* tags last queued for it."""

    id: int
    key: str
    run_id: str
    labbook_tags: dict[str, str]


def mlflow_runs_with_tags(session: Session, *, project_id: int) -> list[TaggedRun]:
    """The project's runs synced from MLflow (with a run ID), four columns each: one query for any number of runs."""
    query = sql_select(col(Run.id), col(Run.key), col(Run.run_id), col(Run.labbook_tags)).where(
        col(Run.project_id) == project_id, col(Run.source) == "mlflow", col(Run.run_id).is_not(None)
    )
    return [TaggedRun(i, k, r, dict(t or {})) for i, k, r, t in session.execute(query.order_by(col(Run.id)))]


def save_labbook_tags(session: Session, *, project_id: int, tags_by_id: Sequence[tuple[int, dict[str, str]]]) -> None:
    """Store each run's labbook.* tags in one executemany UPDATE; copies already loaded in the session agree. The
    analysis reads them (a run's own tags leave out those Labbook wrote), so the project's revision moves."""
    if not tags_by_id:
        return
    revisions.touch(session, project_id)
    table = Run.__table__  # type: ignore[attr-defined]
    statement = (
        update(table).where(table.c.id == bindparam("b_run_pk")).values(labbook_tags=bindparam("b_labbook_tags"))
    )
    session.execute(statement, [{"b_run_pk": run_pk, "b_labbook_tags": tags} for run_pk, tags in tags_by_id])
    loaded = {run.id: run for run in session.identity_map.values() if isinstance(run, Run)}
    for run_pk, tags in tags_by_id:
        if run_pk in loaded:
            set_committed_value(loaded[run_pk], "labbook_tags", tags)


def add_items(
    session: Session, *, project_id: int, kind: str, payloads: Sequence[tuple[str, dict[str, object]]], now: datetime
) -> None:
    """Enqueue one pending item per (run ID, payload), due now, as one executemany INSERT: building ORM objects
    costs about a millisecond each, which 10k runs would notice."""
    if not payloads:
        return
    fixed = {"project_id": project_id, "entry_id": None, "kind": kind, "state": PENDING, "attempts": 0}
    times = {"next_attempt_at": now, "created_at": now, "updated_at": now}
    rows = [{**fixed, **times, "run_id": run_id, "payload": payload} for run_id, payload in payloads]
    session.execute(insert(OutboxItem.__table__), rows)  # type: ignore[attr-defined]


def run_labbook_tags(session: Session, *, project_id: int, run_id: str) -> dict[str, str] | None:
    """The labbook.* tags the project wants on the MLflow run now; None if the project has no such run."""
    query = sql_select(col(Run.labbook_tags)).where(
        col(Run.project_id) == project_id, col(Run.source) == "mlflow", col(Run.run_id) == run_id
    )
    row = session.execute(query.limit(1)).first()
    return None if row is None else dict(row[0] or {})


# --- index items ------------------------------------------------------------------------------------------------------


def pending_count(session: Session, *, project_id: int, kind: str) -> int:
    query = select(func.count()).where(
        col(OutboxItem.project_id) == project_id, col(OutboxItem.kind) == kind, col(OutboxItem.state) == PENDING
    )
    return int(session.exec(query).one())


def delete_pending(session: Session, *, project_id: int, kind: str) -> int:
    table = OutboxItem.__table__  # type: ignore[attr-defined]
    statement = delete(table).where(table.c.project_id == project_id, table.c.kind == kind, table.c.state == PENDING)
    return int(getattr(session.execute(statement), "rowcount", 0))
