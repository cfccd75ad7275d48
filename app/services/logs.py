"""Brain dumps: stored verbatim and committed before anything else, listed, read, and redacted with an audit trail."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import cast

from sqlmodel import Session

from app.config import Settings
from app.errors import InputInvalid, LabbookError, LogNotFound
from app.parsing.tables import ParsedTable
from app.services import declarations as declarations_service
from app.services import entries as entries_service
from app.services import idempotency, index_queue, memory, metric_switches, phrasing
from app.services import outbox as outbox_service
from app.services import runs as runs_service
from app.services.auth import Principal
from app.services.pagination import decode_cursor, next_cursor
from app.services.schemas import (
    EntryPublic,
    LogCreate,
    LogPublic,
    Page,
    RedactionCreate,
    RedactionPublic,
    RunImportResult,
    TableFormat,
)
from app.storage import declarations as declaration_store
from app.storage import entries as entry_store
from app.storage import logs as log_store
from app.storage import projects as project_store
from app.storage.db import reading
from app.storage.models import Entry, OutboxItem, Project, Redaction, SessionLog

logger = logging.getLogger(__name__)

REDACTED = "[REDACTED]"
# How long a dump's `compose_entry` job waits before the worker may compose its entry: longer than any request.
COMPOSE_RETRY = timedelta(seconds=60)
_REDACTABLE = ("text", "run_table")


def create_log(
    session: Session, *, project: Project, principal: Principal, body: LogCreate, related_now: bool = False
) -> LogPublic:
    """Store the dump, commit it, import its run table (if any) in the request's own transaction, then compose
    its `log_entry` against the runs now stored. A `compose_entry` job is committed with the dump and settled with
    the entry, so an entry that could not be composed now (or a process that died first) is composed later by the
    outbox worker, after `COMPOSE_RETRY`. The entry's related prior work follows from the dump's index job, or is
    looked up here with `related_now` (a caller that chose to wait)."""
    log = log_store.add_log(session, _new_log(project, principal, body))
    project_id, log_id = cast(int, project.id), cast(int, log.id)
    outbox_service.queue_compose(session, project_id=project_id, log_id=log_id, due_in=COMPOSE_RETRY)
    index_queue.queue_log(session, project_id=project_id, log_id=log_id)
    idempotency.link(session, f"/v1/logs/{log_id}")  # with the dump: a retry after a crash answers with this dump
    # Nothing lost: the raw text is committed before any later step (table import, composing) can fail.
    session.commit()
    has_table = bool(log.run_table and log.run_table.strip())
    table = _import_table(session, project=project, log=log) if has_table else None
    table_keys = list(dict.fromkeys(row.key for row in table[0].rows)) if table else []
    entry = _compose_and_declare(session, project=project, log=log, table_keys=table_keys, related_now=related_now)
    run_import = table[1] if table else None
    return _public(session, log, project=project, run_import=run_import, log_entry=entry)


def follow_log(
    session: Session, log: LogPublic, *, project: Project, settings: Settings, request: phrasing.PhrasingRequest
) -> LogPublic:
    """The dump with its entry's model reading on its way (or in place, with `wait`)."""
    if log.log_entry is None:
        return log
    entry = phrasing.follow(session, log.log_entry, project=project, settings=settings, request=request)
    return log.model_copy(update={"log_entry": entry})


def _compose_and_declare(
    session: Session, *, project: Project, log: SessionLog, table_keys: list[str], related_now: bool = False
) -> EntryPublic | None:
    """Compose the dump's entry and apply what it declares; settle its `compose_entry` job, or leave it due now."""
    entry = _compose_entry(session, project=project, log=log, table_keys=table_keys, related_now=related_now)
    log_id = cast(int, log.id)
    if entry is None:
        outbox_service.retry_compose_soon(session, log_id=log_id, error="composing the entry failed; see the log")
        return None
    _apply_declarations(session, project=project, log=log, entry=entry)
    outbox_service.settle_compose(session, log_id=log_id)
    return entry


def _compose_entry(
    session: Session, *, project: Project, log: SessionLog, table_keys: list[str], related_now: bool = False
) -> EntryPublic | None:
    """The composed entry, or None when composing fails: a bug there must not turn a stored dump into a 500."""
    try:
        # Composed by a reader first, unless the request is inside a transaction already (its table import): the
        # write lock (SQLite) is then held only to store the entry, not while composing it.
        draft = None
        if not session.in_transaction():
            with reading(session) as reader:
                draft = entries_service.draft_log_entry(
                    reader, project=project, log=log, table_keys=table_keys, related_now=related_now
                )
        # A savepoint, so a failed insert leaves the transaction (and the imported table) usable.
        with session.begin_nested():
            entry = entries_service.create_log_entry(
                session, project=project, log=log, table_keys=table_keys, related_now=related_now, draft=draft
            )
    except Exception:
        logger.exception("entries.compose.failed", extra={"log_id": log.id, "project": project.slug})
        return None
    return entries_service.to_public_with_writeback(session, entry, project=project)


def compose_log(session: Session, *, principal: Principal, log_id: int) -> tuple[LogPublic, bool]:
    """`POST /v1/logs/{id}/compose`: compose the dump's entry if it has none yet (True), else return it as it is
    (False). A failure to compose is an error here: a person asked."""
    log, project = _visible_log(session, principal=principal, log_id=log_id)
    entry, composed = _compose_missing(session, project=project, log=log)
    outbox_service.settle_compose(session, log_id=log_id)
    return _public(session, log, project=project, log_entry=entry), composed


def _compose_missing(session: Session, *, project: Project, log: SessionLog) -> tuple[EntryPublic | None, bool]:
    """The log's entry, composed now unless it exists (its `compose_entry` items are the caller's to settle). The
    log row is locked first (PostgreSQL; SQLite's writer
    already holds the database's write lock), so the worker and a person can never both compose it."""
    log_id = cast(int, log.id)
    log_store.lock_log(session, log_id)
    existing = entry_store.entry_ids_by_log(session, [log_id]).get(log_id)
    if existing is not None:
        stored = cast(Entry, entry_store.get_entry(session, existing))
        return entries_service.to_public_with_writeback(session, stored, project=project), False
    entry = entries_service.create_log_entry(
        session, project=project, log=log, table_keys=entries_service.table_keys(log, project)
    )
    public = entries_service.to_public_with_writeback(session, entry, project=project)
    _apply_declarations(session, project=project, log=log, entry=public)
    return public, True


def compose_writer(
    sessions: outbox_service.SessionFactory,
    settings: Settings,
    *,
    project_id: int,
    run_id: str,
    items: Sequence[OutboxItem],
) -> outbox_service.Delivery:
    """The outbox writer of `compose_entry` items: compose the dump's entry unless it exists by now."""
    log_id = int(items[0].payload["log_id"])
    with sessions() as session:
        log = log_store.get_log(session, log_id)
        project = project_store.get_project(session, project_id)
        if log is None or project is None:
            raise LogNotFound(f"log {log_id} no longer exists", field="log_id")
        entry, composed = _compose_missing(session, project=project, log=log)
        if composed and entry is not None and phrasing.enabled(settings, project):
            stored = entry_store.get_entry(session, entry.id)
            if stored is not None:
                phrasing.queue(session, settings=settings, project=project, entry=stored)
        session.commit()
    entry_id = entry.id if entry is not None else None
    return 0, f"composed entry {entry_id}" if composed else f"entry {entry_id} already composed"


def _apply_declarations(session: Session, *, project: Project, log: SessionLog, entry: EntryPublic | None) -> None:
    """A metric switch the dump announces, the baseline it declares, its verdicts on approaches and the open
    questions it answers: in a savepoint, so a bug there never loses the dump, its runs or its entry."""
    try:
        with session.begin_nested():
            metric_switches.apply_dump_declarations(session, project=project, log=log, entry=entry, public_url="")
            declarations_service.apply_dump_said(session, project=project, log=log, entry=entry)
    except Exception:
        logger.exception("logs.declarations.failed", extra={"log_id": log.id, "project": project.slug})


def _new_log(project: Project, principal: Principal, body: LogCreate) -> SessionLog:
    today = datetime.now(UTC).date()
    session_date = body.session_date or today
    # One day of slack: a session "today" in UTC+14 is tomorrow in UTC.
    if session_date > today + timedelta(days=1):
        raise InputInvalid(f"session_date {session_date} is in the future", field="session_date")
    return SessionLog(
        project_id=cast(int, project.id),
        text=body.text,
        run_table=body.run_table,
        run_table_format=body.run_table_format,
        run_refs=list(dict.fromkeys(body.run_ids)),
        author=body.author or principal.name,
        session_date=session_date,
        received_sha256=hashlib.sha256(body.text.encode()).hexdigest(),
    )


def _import_table(session: Session, *, project: Project, log: SessionLog) -> tuple[ParsedTable, RunImportResult]:
    """The pasted table, read once: its rows are imported and cited as the session's experiments."""
    try:
        parsed = runs_service.parse_table(
            project, text=cast(str, log.run_table), format=cast(TableFormat | None, log.run_table_format)
        )
        return parsed, runs_service.import_parsed(session, project=project, parsed=parsed)
    except LabbookError as exc:
        # The dump itself is already stored: tell the caller where it is, so the table can be fixed and re-sent.
        exc.extra["log_id"] = log.id
        if exc.field is None and exc.line is not None:
            exc.field = "run_table"
        raise


def get_log(session: Session, *, principal: Principal, log_id: int) -> LogPublic:
    log, project = _visible_log(session, principal=principal, log_id=log_id)
    return _public(session, log, project=project)


def list_logs(session: Session, *, project: Project, limit: int, cursor: str | None) -> Page[LogPublic]:
    logs = log_store.list_logs(session, project_id=cast(int, project.id), after_id=decode_cursor(cursor), limit=limit)
    entry_ids = entry_store.entry_ids_by_log(session, [cast(int, log.id) for log in logs])
    return Page[LogPublic](
        items=[_public(session, log, project=project, entry_ids=entry_ids) for log in logs],
        next_cursor=next_cursor([log.id or 0 for log in logs], limit),
    )


def redact_log(session: Session, *, principal: Principal, log_id: int, body: RedactionCreate) -> LogPublic:
    """Replace each string everywhere it occurs in the stored dump; keep who, when, why and a fingerprint."""
    log, project = _visible_log(session, principal=principal, log_id=log_id)
    for index, secret in enumerate(body.strings):
        found = [_redact_field(log, name, secret) for name in _REDACTABLE]
        if not any(found):
            raise InputInvalid("this string does not occur in the stored log", field=f"strings[{index}]")
        for name, count in zip(_REDACTABLE, found, strict=True):
            if count:
                log_store.add_redaction(session, _audit(log, name, count, secret, principal, body.reason))
        # The sentences quoted from the dump as proposed marks' reasons and as answers go with it.
        declaration_store.redact_quotes(session, log_id=log_id, secret=secret, replacement=REDACTED)
        # So does every entry and version composed from it or quoting it, and the run notes written from them.
        entries, count = entry_store.redact_entries(
            session, project_id=project.id or 0, secret=secret, replacement=REDACTED
        )
        if count:
            log_store.add_redaction(session, _audit(log, "entries", count, secret, principal, body.reason))
        for entry in entries:
            index_queue.queue_entry(session, project_id=project.id or 0, entry_id=cast(int, entry.id))
            outbox_service.enqueue_run_notes(session, project=project, entry=entry, run_keys=entry.run_ids)
    session.add(log)
    session.flush()
    # The index holds the dump's words too: both are indexed again from the redacted text.
    index_queue.queue_log(session, project_id=project.id or 0, log_id=log_id)
    entry_id = entry_store.entry_ids_by_log(session, [log_id]).get(log_id)
    if entry_id is not None:
        index_queue.queue_entry(session, project_id=project.id or 0, entry_id=entry_id)
    return _public(session, log, project=project)


def _redact_field(log: SessionLog, name: str, secret: str) -> int:
    value: str | None = getattr(log, name)
    count = value.count(secret) if value else 0
    if count:
        setattr(log, name, cast(str, value).replace(secret, REDACTED))
    return count


def _audit(log: SessionLog, name: str, count: int, secret: str, principal: Principal, reason: str) -> Redaction:
    return Redaction(
        log_id=cast(int, log.id),
        field=name,
        occurrences=count,
        removed_sha256=hashlib.sha256(secret.encode()).hexdigest(),
        reason=reason,
        redacted_by=principal.name,
    )


def _visible_log(session: Session, *, principal: Principal, log_id: int) -> tuple[SessionLog, Project]:
    log = log_store.get_log(session, log_id)
    project = project_store.get_project(session, log.project_id) if log else None
    if log is None or project is None or not principal.can_see(project.slug):
        raise LogNotFound(f"no log {log_id}", field="log_id")
    return log, project


def _public(
    session: Session,
    log: SessionLog,
    *,
    project: Project,
    run_import: RunImportResult | None = None,
    log_entry: EntryPublic | None = None,
    entry_ids: dict[int, int] | None = None,
) -> LogPublic:
    """`entry_ids` (log id -> entry id) spares a list one query per log; without it, this log's is looked up."""
    log_id = cast(int, log.id)
    if entry_ids is None:
        entry_ids = entry_store.entry_ids_by_log(session, [log_id])
    redactions = log_store.list_redactions(session, log_id=log_id)
    return LogPublic(
        **log.model_dump(exclude={"project_id"}),
        project=project.slug,
        redactions=[RedactionPublic.model_validate(r) for r in redactions],
        run_import=run_import,
        entry_id=entry_ids.get(log_id),
        log_entry=log_entry,
    )


# The outbox kinds this module delivers, for the worker (`OutboxWorker(..., extra_writers=OUTBOX_WRITERS)`).
OUTBOX_WRITERS: dict[str, outbox_service.Writer] = {
    outbox_service.COMPOSE_ENTRY: compose_writer,
    index_queue.INDEX: partial(memory.index_writer, relate=entries_service.attach_related),
    phrasing.PHRASE_ENTRY: phrasing.phrase_writer,
}
