"""Entries: compose a `log_entry` from a stored brain dump, serve it, and keep every human correction as a version.

Version 1 is what the composer wrote. A correction (`update_entry`) replaces the sections it names, is validated
by the same `LogEntry` schema, and may cite only runs stored in the project, so no request can put an invented run
or a made-up stored metric into an entry. Earlier versions are never rewritten.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from pydantic import ValidationError
from sqlmodel import Session

from app.compose import kinds
from app.compose.contract import Composed, Sources
from app.compose.documents import DOCUMENT_MODELS
from app.compose.labels import labelled
from app.compose.log_entry import kind as log_entry_kind
from app.compose.log_entry.facts import ProjectFacts, RunFacts
from app.compose.log_entry.markdown import render_log_entry
from app.compose.log_entry.schema import SECTIONS, Experiment, LogEntry, log_entry_json_schema
from app.errors import EntryNotFound, InputInvalid, LabbookError, PromptInvalid, field_name
from app.llm.prompts import template_version
from app.parsing.tables import TableFormat
from app.services import declarations as declarations_service
from app.services import idempotency, index_queue, outbox_status, prior_work
from app.services import outbox as outbox_service
from app.services import runs as runs_service
from app.services.auth import Principal
from app.services.labels import run_labels
from app.services.pagination import decode_cursor, next_cursor
from app.services.schemas import (
    EntryPublic,
    EntryUpdate,
    EntryVersionPublic,
    Page,
    QuestionAnswerPublic,
    WritebackStatus,
)
from app.storage import declarations as declaration_store
from app.storage import entries as entry_store
from app.storage import logs as log_store
from app.storage import projects as project_store
from app.storage import runs as run_store
from app.storage.models import Entry, EntryVersion, Project, Run, SessionLog
from app.storage.types import utcnow

logger = logging.getLogger(__name__)

LOG_ENTRY = log_entry_kind.KIND
OFFLINE = "offline"
COMPOSER = "labbook"  # `edited_by` of a version the composer wrote


def store_entry(
    session: Session,
    *,
    project: Project,
    composed: Composed,
    sources: Sources,
    log_id: int | None = None,
    reason: str = "composed",
    grounded: bool = False,
) -> Entry:
    """Store a composed entry of any kind as version 1, after its grounding check (`grounded`: done already, by
    `checked`).

    Every kind passes through here, so this is where a model-written draft is held to the same check as the
    offline composer's. The offline composer only quotes stored values: a failed check is a composer bug, logged
    as an error, and never a lost entry. A log entry is stored with a `grounding_failed` warning per problem."""
    if not grounded:
        composed = checked(composed, sources)
    entry = Entry(
        project_id=cast(int, project.id),
        kind=composed.kind,
        log_id=log_id,
        body=composed.body.model_dump(mode="json"),
        markdown=composed.markdown,
        run_ids=list(dict.fromkeys(composed.run_ids)),
        provider=OFFLINE,
        template=composed.kind,
        template_version=_template_version(composed.kind),
        schema_version=composed.schema_version,
    )
    entry_store.add_entry(session, entry)
    entry_store.add_version(session, current_version(entry, edited_by=COMPOSER, reason=reason))
    index_queue.queue_entry(session, project_id=entry.project_id, entry_id=cast(int, entry.id))
    idempotency.link(session, f"/v1/entries/{entry.id}")  # a document's POST; a dump's own link comes first
    return entry


def checked(composed: Composed, sources: Sources) -> Composed:
    """The composed entry after its grounding check: unchanged when grounded; otherwise the failure is logged as an
    error and a log entry carries a `grounding_failed` warning per problem (a document's body has no warnings)."""
    problems = kinds.check(composed, sources)
    if problems:
        logger.error("entries.grounding.failed", extra={"kind": composed.kind, "problems": problems})
        composed = log_entry_kind.with_grounding_warnings(composed, problems)
    return composed


def _template_version(kind: str) -> str:
    """The version of the kind's prompt template; "none" for a kind that has no template yet."""
    try:
        return template_version(kind)
    except PromptInvalid:
        return "none"


@dataclass(frozen=True)
class Draft:
    """A dump's entry as composed against the runs stored when it was read, before it is stored."""

    composed: Composed
    sources: Sources


def draft_log_entry(
    session: Session,
    *,
    project: Project,
    log: SessionLog,
    table_keys: Sequence[str] = (),
    related_now: bool = False,
) -> Draft:
    """Compose the dump against the project's stored runs, reading only (`session` may be a reader's); `table_keys`
    are the runs of the table pasted with it (the session's experiments, even where the text does not name them).
    Its related prior work follows from the dump's index job (`attach_related`), so the request never waits on the
    embedding model; `related_now` looks it up here instead (a caller that chose to wait)."""
    with labelled(run_labels(session, project=project)):  # a failed check renders its warnings with the labels
        composed, sources = _compose(session, project=project, log=log, table_keys=table_keys, related=related_now)
        return Draft(checked(composed, sources), sources)


def create_log_entry(
    session: Session,
    *,
    project: Project,
    log: SessionLog,
    table_keys: Sequence[str] = (),
    related_now: bool = False,
    draft: Draft | None = None,
) -> Entry:
    """Compose the dump (or take its `draft`, composed by a reader) and store it as version 1 (see
    `draft_log_entry`)."""
    if draft is None:
        draft = draft_log_entry(session, project=project, log=log, table_keys=table_keys, related_now=related_now)
    entry = store_entry(
        session,
        project=project,
        composed=draft.composed,
        sources=draft.sources,
        log_id=log.id,
        reason=f"composed from log {log.id}",
        grounded=True,
    )
    # Same transaction as the entry: its MLflow write-backs are stored with it, or not at all.
    outbox_service.enqueue_run_notes(session, project=project, entry=entry, run_keys=entry.run_ids)
    if not related_now:  # the dump's index job relates the entry; one that ran before the entry existed could not
        index_queue.queue_log(session, project_id=cast(int, project.id), log_id=cast(int, log.id))
    return entry


def _compose(
    session: Session, *, project: Project, log: SessionLog, table_keys: Sequence[str], related: bool = True
) -> tuple[Composed, Sources]:
    rows = run_store.run_rows(session, project_id=cast(int, project.id))
    runs = [RunFacts(key, run_id, name, metrics, params) for key, run_id, name, metrics, params in rows]
    found = (
        prior_work.related_for(session, project=project, text=log.text, log_id=log.id, day=log.session_date)
        if related
        else []
    )
    composed = log_entry_kind.compose_entry(
        log.text,
        runs=runs,
        project=_project_facts(project),
        title=_title(project, log),
        run_ids=log.run_refs,
        table_run_ids=table_keys,
        related=found,
    )
    return composed, Sources(dump=log.text, runs=runs)


def attach_related(session: Session, log_id: int) -> str:
    """Give the dump's entry the related prior work the index finds for it now (the outbox's index job, once the
    dump is indexed, calls this). The related work is a cross-reference the index adds, not a reading of the dump, so
    it goes into the entry's current version (its body, its Markdown and that version's row) rather than a new one;
    nothing is written when the entry already cites the same. The transaction ends before the dump is embedded, so
    no lock is held while the model runs. Returns what happened, in words."""
    log = log_store.get_log(session, log_id)
    project = project_store.get_project(session, log.project_id) if log is not None else None
    entry_id = entry_store.entry_ids_by_log(session, [log_id]).get(log_id)
    if log is None or project is None or entry_id is None:
        return f"log {log_id} has no entry to relate"
    text, day = log.text, log.session_date
    session.commit()
    related = prior_work.related_for(session, project=project, text=text, log_id=log_id, day=day)
    found = [r.model_dump(mode="json") for r in related]
    entry = entry_store.get_entry_for_update(session, entry_id)
    if entry is None or entry.kind != LOG_ENTRY:
        return f"entry {entry_id} is gone"
    if list(entry.body.get("related") or []) == found:
        return f"related prior work unchanged ({len(found)})"
    body = LogEntry.model_validate({**entry.body, "related": found})
    entry.body = body.model_dump(mode="json")
    entry.markdown = render_log_entry(body, title=_title(project, log))
    entry.updated_at = utcnow()
    session.add(entry)
    version = entry_store.get_version(session, entry_id=entry_id, version=entry.version)
    if version is not None:
        version.body, version.markdown = entry.body, entry.markdown
        session.add(version)
    session.flush()
    return f"related prior work: {len(found)}"


def table_keys(log: SessionLog, project: Project) -> list[str]:
    """The runs of the table stored with the dump. A table that cannot be read was refused when it was posted; it
    adds nothing here."""
    if not (log.run_table and log.run_table.strip()):
        return []
    try:
        parsed = runs_service.parse_table(
            project, text=log.run_table, format=cast(TableFormat | None, log.run_table_format)
        )
    except LabbookError:
        return []
    return list(dict.fromkeys(row.key for row in parsed.rows))


def recompose_entry(session: Session, *, principal: Principal, entry_id: int) -> EntryPublic:
    """Compose the entry's dump again against the runs stored now (a run imported after the dump resolves), as a
    new version; when nothing changes, no version is added."""
    entry, project = _visible_entry(session, principal=principal, entry_id=entry_id, for_update=True)
    log = log_store.get_log(session, entry.log_id) if entry.log_id is not None else None
    if entry.kind != LOG_ENTRY or log is None:
        raise InputInvalid(f"entry {entry_id} was not composed from a brain dump", field="entry_id")
    with labelled(run_labels(session, project=project)):
        composed, sources = _compose(session, project=project, log=log, table_keys=table_keys(log, project))
        composed = checked(composed, sources)
    body = cast(LogEntry, composed.body)
    if body.model_dump(mode="json") != entry.body:
        cited_before = list(entry.run_ids)
        _apply(entry, body, markdown=composed.markdown)
        entry.provider = OFFLINE
        reason = "composed again against the project's current runs"
        entry_store.add_version(session, current_version(entry, edited_by=principal.name, reason=reason))
        index_queue.queue_entry(session, project_id=entry.project_id, entry_id=entry_id)
        # Runs no longer cited are written too: their section drops this entry.
        outbox_service.enqueue_run_notes(session, project=project, entry=entry, run_keys=cited_before + entry.run_ids)
    return _with_writeback(session, to_public(entry, project=project))


def document_schema(kind: str) -> dict[str, object]:
    """The JSON schema of an entry kind: what the composer writes, what a model is asked for, what PATCH accepts."""
    if kind == LOG_ENTRY:
        return log_entry_json_schema()
    model = DOCUMENT_MODELS.get(kind)
    if model is None:
        known = ", ".join([LOG_ENTRY, *DOCUMENT_MODELS])
        raise EntryNotFound(f"no schema for entry kind '{kind}' (known: {known})", field="kind")
    return model.model_json_schema()


def _project_facts(project: Project) -> ProjectFacts:
    return ProjectFacts(
        primary_metric=project.primary_metric,
        metric_direction=project.metric_direction,
        metric_aliases=dict(project.metric_aliases),
    )


def _title(project: Project, log: SessionLog) -> str:
    return f"{project.name} — log {log.session_date.isoformat()}"


def to_public(entry: Entry, *, project: Project) -> EntryPublic:
    return EntryPublic(**entry.model_dump(exclude={"project_id"}), project=project.slug)


def _with(
    entry: Entry,
    project: Project,
    writeback: dict[int, list[WritebackStatus]],
    answers: dict[int, list[QuestionAnswerPublic]],
) -> EntryPublic:
    entry_id = cast(int, entry.id)
    update = {"writeback": writeback.get(entry_id, []), "answered_questions": answers.get(entry_id, [])}
    return to_public(entry, project=project).model_copy(update=update)


def to_public_with_writeback(session: Session, entry: Entry, *, project: Project) -> EntryPublic:
    """The entry as answered, with the delivery state of its write-backs (queued in the same transaction)."""
    return _with_writeback(session, to_public(entry, project=project))


def _with_writeback(session: Session, public: EntryPublic) -> EntryPublic:
    """The entry with where its write-back to each cited MLflow run stands, and its open questions answered since."""
    writeback = outbox_status.entry_writeback(session, [public.id]).get(public.id, [])
    answers = _answers(session, [public.id]).get(public.id, [])
    return public.model_copy(update={"writeback": writeback, "answered_questions": answers})


def _answers(session: Session, entry_ids: Sequence[int]) -> dict[int, list[QuestionAnswerPublic]]:
    """Entry id -> its open questions that a later dump answered."""
    out: dict[int, list[QuestionAnswerPublic]] = {}
    for row in declaration_store.answers_of(session, entry_ids=entry_ids):
        out.setdefault(row.entry_id, []).append(declarations_service.answer_public(row))
    return out


def list_entries(
    session: Session, *, project: Project, kind: str | None, limit: int, cursor: str | None
) -> Page[EntryPublic]:
    entries = entry_store.list_entries(
        session, project_id=cast(int, project.id), kind=kind, after_id=decode_cursor(cursor), limit=limit
    )
    ids = [cast(int, e.id) for e in entries]
    writeback, answers = outbox_status.entry_writeback(session, ids), _answers(session, ids)
    return Page[EntryPublic](
        items=[_with(e, project, writeback, answers) for e in entries],
        next_cursor=next_cursor([e.id or 0 for e in entries], limit),
    )


def get_entry(session: Session, *, principal: Principal, entry_id: int, version: int | None = None) -> EntryPublic:
    """The current version, or the numbered one."""
    entry, project = _visible_entry(session, principal=principal, entry_id=entry_id)
    current = _with_writeback(session, to_public(entry, project=project))
    if version is None or version == entry.version:
        return current
    old = entry_store.get_version(session, entry_id=entry_id, version=version)
    if old is None:
        raise EntryNotFound(f"entry {entry_id} has no version {version}", field="version")
    shown = {"version": old.version, "body": old.body, "markdown": old.markdown, "run_ids": old.run_ids}
    return current.model_copy(update={**shown, "provider": old.provider, "updated_at": old.created_at})


def list_versions(session: Session, *, principal: Principal, entry_id: int) -> list[EntryVersionPublic]:
    _visible_entry(session, principal=principal, entry_id=entry_id)
    return [EntryVersionPublic.model_validate(v) for v in entry_store.list_versions(session, entry_id=entry_id)]


def update_entry(session: Session, *, principal: Principal, entry_id: int, body: EntryUpdate) -> EntryPublic:
    """Apply a human correction as a new version; the entry row then shows it, the old versions stay."""
    entry, project = _visible_entry(session, principal=principal, entry_id=entry_id, for_update=True)
    if entry.kind != LOG_ENTRY:
        raise InputInvalid(
            f"entries of kind '{entry.kind}' are documents computed from the runs: they are recomposed (post a new "
            "one), not edited",
            field="kind",
        )
    corrected = _corrected(session, entry=entry, project=project, body=body)
    cited_before = list(entry.run_ids)
    with labelled(run_labels(session, project=project)):
        markdown = render_log_entry(corrected, title=_entry_title(session, entry, project))
    _apply(entry, corrected, markdown=markdown)
    entry_store.add_version(session, current_version(entry, edited_by=principal.name, reason=body.reason))
    index_queue.queue_entry(session, project_id=entry.project_id, entry_id=entry_id)
    outbox_service.enqueue_run_notes(session, project=project, entry=entry, run_keys=cited_before + entry.run_ids)
    return _with_writeback(session, to_public(entry, project=project))


def _corrected(session: Session, *, entry: Entry, project: Project, body: EntryUpdate) -> LogEntry:
    """The current body with the request's fields in place, validated, citing only stored runs."""
    changes = _changes(body)
    runs = _cited_runs(session, project=project, body=body)
    if body.experiments is not None:
        changes["experiments"] = [_refresh(e, runs) for e in body.experiments]
    corrected = _validated({**entry.body, **changes})
    return corrected.model_copy(update={"run_ids": cited_run_ids(corrected)})


def _entry_title(session: Session, entry: Entry, project: Project) -> str:
    log = log_store.get_log(session, entry.log_id) if entry.log_id is not None else None
    return _title(project, log) if log is not None else project.name


def current_version(entry: Entry, *, edited_by: str, reason: str) -> EntryVersion:
    return EntryVersion(
        entry_id=cast(int, entry.id),
        version=entry.version,
        body=entry.body,
        markdown=entry.markdown,
        run_ids=entry.run_ids,
        provider=entry.provider,
        edited_by=edited_by,
        reason=reason,
    )


def _changes(body: EntryUpdate) -> dict[str, Any]:
    """The fields the request sends, as JSON; a section sent as null is refused (send [] to empty it)."""
    changes = body.model_dump(mode="json", exclude_unset=True, exclude={"reason"})
    for name, value in changes.items():
        if value is None:
            hint = "" if name == "tldr" else "; send [] to empty a section"
            raise InputInvalid(f"'{name}' cannot be null{hint}", field=name)
    if not changes:
        raise InputInvalid("nothing to correct: send tldr or a section with the reason", field="body")
    return changes


def _citations(body: EntryUpdate) -> Iterator[tuple[str, str]]:
    """(field, run ID) for every run the request cites, named as the request names it."""
    for i, experiment in enumerate(body.experiments or []):
        if experiment.run_id is not None:
            yield f"experiments[{i}].run_id", experiment.run_id
    for section in SECTIONS:
        for i, item in enumerate(getattr(body, section) or []):
            for j, run_id in enumerate(item.run_ids):
                yield f"{section}[{i}].run_ids[{j}]", run_id


def _cited_runs(session: Session, *, project: Project, body: EntryUpdate) -> dict[str, Run]:
    """The stored runs the request cites; a run that is not stored in the project is refused, naming the field."""
    citations = list(_citations(body))
    runs = run_store.get_runs_by_keys(session, project_id=cast(int, project.id), keys=[r for _, r in citations])
    for field, run_id in citations:
        if run_id not in runs:
            raise InputInvalid(f"'{run_id}' is not a stored run of project '{project.slug}'", field=field)
    return runs


def _refresh(experiment: Experiment, runs: dict[str, Run]) -> dict[str, Any]:
    """`stored` and `run_name` are facts of the stored run, so they come from it, never from the request."""
    run = runs.get(experiment.run_id) if experiment.run_id is not None else None
    update: dict[str, Any] = {"stored": dict(run.metrics) if run else {}}
    if run is not None:
        update["run_name"] = run.run_name
    return experiment.model_copy(update=update).model_dump(mode="json")


def cited_run_ids(entry: LogEntry) -> list[str]:
    """The experiments' runs, then the runs each section's items cite: in order, each once."""
    cited = [e.run_id for e in entry.experiments if e.run_id is not None]
    cited += [run_id for section in SECTIONS for item in getattr(entry, section) for run_id in item.run_ids]
    return list(dict.fromkeys(cited))


def _validated(body: dict[str, Any]) -> LogEntry:
    try:
        return LogEntry.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = field_name(first["loc"], brackets=True)
        raise InputInvalid(f"{field}: {first['msg']}", field=field) from exc


def _apply(entry: Entry, corrected: LogEntry, *, markdown: str) -> None:
    entry.version += 1
    entry.body = corrected.model_dump(mode="json")
    entry.markdown = markdown
    entry.run_ids = list(corrected.run_ids)
    entry.schema_version = corrected.schema_version
    entry.updated_at = utcnow()


def _visible_entry(
    session: Session, *, principal: Principal, entry_id: int, for_update: bool = False
) -> tuple[Entry, Project]:
    """The entry and its project; EntryNotFound also when the project is outside the caller's scope."""
    get = entry_store.get_entry_for_update if for_update else entry_store.get_entry
    entry = get(session, entry_id)
    project = project_store.get_project(session, entry.project_id) if entry else None
    if entry is None or project is None or not principal.can_see(project.slug):
        raise EntryNotFound(f"no entry {entry_id}", field="entry_id")
    return entry, project
