"""The write-back outbox: enqueue a `run_note` per cited MLflow run with the entry, then deliver with retries.

Enqueueing happens in the entry's own transaction, so an entry is never stored without its write-backs (and a
rolled-back entry leaves none). Delivery renders the run's whole Labbook section at delivery time, from every
current entry of the project that cites the run, so it always writes the latest state, and writing it twice
writes the same bytes (idempotent). Due items of the same run are delivered by one write and each marked delivered.
Two more kinds follow the same rules (see their section below): `run_tags`, a run's labbook.approach and
labbook.finding.* tags, and `model_version_tags`, a selection decision's ID on the chosen run's model versions.

Errors: TrackingUnavailable, TrackingAuthFailed, TrackingNotConfigured and anything unexpected are retried with
exponential backoff (base * 2**attempts, capped, with up to 10% jitter), for ever: an outage loses nothing.
A run that no longer exists, a request MLflow refuses, a project deleted or with write-back turned off since the
item was queued: the item is dead (POST /v1/outbox/{id}/retry revives it). A project with write-back off queues
nothing in the first place.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, cast

from sqlmodel import Session

from app.analysis.model import Findings
from app.compose.writeback.note import NOTE_KEY, NoteEntry, entry_url, run_tags
from app.compose.writeback.tags import is_managed, labbook_tags
from app.config import Settings
from app.errors import (
    InputInvalid,
    LabbookError,
    NotFound,
    TrackingAuthFailed,
    TrackingError,
    TrackingNotConfigured,
    TrackingUnavailable,
)
from app.integrations.mlflow import writeback
from app.services.tracking import tracking_uri_for
from app.storage import outbox as outbox_store
from app.storage import projects as project_store
from app.storage import runs as run_store
from app.storage.models import Entry, OutboxItem, Project
from app.storage.types import utcnow

logger = logging.getLogger(__name__)

RUN_NOTE = "run_note"
LEASE = timedelta(minutes=2)  # longer than one delivery can take (two requests with a 10 s timeout each)
BATCH = 50
SessionFactory = Callable[[], Session]
_RETRYABLE = (TrackingUnavailable, TrackingAuthFailed, TrackingNotConfigured)


# --- enqueue ----------------------------------------------------------------------------------------------------------


def enqueue_run_notes(session: Session, *, project: Project, entry: Entry, run_keys: Iterable[str]) -> int:
    """Queue a `run_note` for each of `run_keys` that is a run synced from MLflow; none when write-back is off.
    A pending item of the same entry and run that no worker holds yet is enough (it renders the latest state)."""
    if not project.writeback:
        return 0
    runs = run_store.get_runs_by_keys(session, project_id=cast(int, project.id), keys=list(run_keys))
    run_ids = sorted({r.run_id for r in runs.values() if r.source == "mlflow" and r.run_id})
    now, queued = utcnow(), 0
    for run_id in run_ids:
        if outbox_store.has_waiting(session, entry_id=entry.id, run_id=run_id, kind=RUN_NOTE, now=now):
            continue
        item = OutboxItem(project_id=cast(int, project.id), entry_id=entry.id, kind=RUN_NOTE, run_id=run_id)
        item.payload = {"entry_version": entry.version}
        outbox_store.add_item(session, item)
        queued += 1
    return queued


# --- labbook.* run tags and a decision's model-version tags -------------------------------------------------------
#
# `run_tags`: a run's labbook.approach / labbook.approach_status / labbook.finding.* tags. Queued only for runs whose
# tags changed since last queued (`Run.labbook_tags` holds the wanted state), delivered as that state at delivery
# time: one log-batch of the tags MLflow lacks, and a delete of each tag no longer wanted. However many items of a
# run are due and in whatever order they were queued, the run ends with exactly `Run.labbook_tags`.
# `model_version_tags`: a selection decision's ID and link on every registered model version made from the selected
# run, so a deployed model traces back to why it was chosen. A run with no version is delivered with that outcome.

RUN_TAGS = "run_tags"
MODEL_VERSION_TAGS = "model_version_tags"
DECISION_ID_KEY = "labbook.decision_id"
DECISION_URL_KEY = "labbook.decision_url"
OUTCOME = "outcome"  # payload key: what a delivered item did, shown as OutboxItemPublic.outcome


def queue_labbook_tags(session: Session, *, project: Project, findings: Findings) -> int:
    """Queue a `run_tags` item for each MLflow run whose labbook.* tags differ from those last queued, and store the
    new ones on the run, in the caller's transaction. One query reads the runs, one UPDATE and one INSERT batch write.
    Returns the number of items queued; none when write-back is off."""
    if not project.writeback:
        return 0
    wanted = labbook_tags(findings)
    payloads: list[tuple[str, dict[str, object]]] = []
    changed: list[tuple[int, dict[str, str]]] = []
    project_id = cast(int, project.id)
    for run in outbox_store.mlflow_runs_with_tags(session, project_id=project_id):
        tags = wanted.get(run.key, {})
        if tags == run.labbook_tags:
            continue
        to_set = {k: v for k, v in tags.items() if run.labbook_tags.get(k) != v}
        payloads.append((run.run_id, {"set": to_set, "delete": sorted(set(run.labbook_tags) - set(tags))}))
        changed.append((run.id, tags))
    outbox_store.save_labbook_tags(session, project_id=project_id, tags_by_id=changed)
    outbox_store.add_items(session, project_id=project_id, kind=RUN_TAGS, payloads=payloads, now=utcnow())
    return len(payloads)


def queue_decision_model_tags(session: Session, *, project: Project, entry: Entry, run_key: str) -> int:
    """Queue the decision's ID for the registered model versions of the selected run (found at delivery, so a
    version registered in between is tagged too). 1 if queued; 0 when write-back is off or the run is not an
    MLflow run."""
    if not project.writeback:
        return 0
    run = run_store.get_run_by_key(session, project_id=cast(int, project.id), key=run_key)
    if run is None or run.source != "mlflow" or not run.run_id:
        return 0
    payload = {"run_id": run.run_id, "tags": {DECISION_ID_KEY: str(entry.id)}}
    item = OutboxItem(project_id=cast(int, project.id), entry_id=entry.id, kind=MODEL_VERSION_TAGS, run_id=run.run_id)
    item.payload = payload
    outbox_store.add_item(session, item)
    return 1


Delivery = tuple[int, str | None]  # (tag writes sent, outcome worth recording on the items or None)


def write_labbook_tags(
    sessions: SessionFactory, settings: Settings, *, project_id: int, run_id: str, items: Sequence[OutboxItem] = ()
) -> int:
    """Bring the run's labbook.* tags in MLflow to the state the project wants now: set what differs, delete what is
    no longer wanted (a finding's or status tag, or a key one of `items` dropped). 1 if anything was written."""
    with sessions() as session:
        uri = _writeback_uri(session, settings, project_id=project_id)
        wanted = outbox_store.run_labbook_tags(session, project_id=project_id, run_id=run_id)
    if wanted is None:
        raise NotFound(f"run {run_id} is no longer in project {project_id}", field="run_id")
    dropped = {str(k) for item in items for k in item.payload.get("delete", [])}
    current = writeback.read_run_tags(uri, run_id)
    to_set = {k: v for k, v in wanted.items() if current.get(k) != v}
    to_delete = [k for k in current if k not in wanted and (k in dropped or is_managed(k))]
    writeback.update_run_tags(uri, run_id, to_set, to_delete)
    return 1 if to_set or to_delete else 0


def write_decision_model_tags(
    sessions: SessionFactory, settings: Settings, *, project_id: int, run_id: str, items: Sequence[OutboxItem]
) -> Delivery:
    """Tag every registered model version of the run with the newest decision's ID and link."""
    with sessions() as session:
        uri = _writeback_uri(session, settings, project_id=project_id)
    latest = max(items, key=lambda i: cast(int, i.id))
    tags = {str(k): str(v) for k, v in latest.payload.get("tags", {}).items()}
    if DECISION_ID_KEY in tags:
        tags[DECISION_URL_KEY] = entry_url(settings.public_url, int(tags[DECISION_ID_KEY]))
    versions = writeback.run_model_versions(uri, run_id)
    written = 0
    for version in versions:
        held = dict(version.tags)
        changed = {k: v for k, v in tags.items() if held.get(k) != v}
        if changed:
            writeback.set_model_version_tags(uri, version, changed)
            written += 1
    if not versions:
        return 0, f"no registered model version of run {run_id}: nothing tagged"
    return written, "tagged " + ", ".join(f"{v.name} v{v.version}" for v in versions)


def _writeback_uri(session: Session, settings: Settings, *, project_id: int) -> str:
    project = project_store.get_project(session, project_id)
    if project is None:
        raise NotFound(f"project {project_id} no longer exists")
    if not project.writeback:
        raise InputInvalid(f"write-back is off for project '{project.slug}'", field="writeback")
    return tracking_uri_for(project, default=settings.mlflow_tracking_uri)


Writer = Callable[..., Delivery]


# --- composing a brain dump's entry later -------------------------------------------------------------------------
#
# `compose_entry`: a stored brain dump whose log entry is still to be composed. Queued with the dump, in the
# transaction that commits it, due only after `compose_retry_seconds`: the request composes the entry at once and
# settles the item in the entry's own transaction. If that fails (or the process dies first) the item stays, and the
# worker composes the entry later, with the same retries and backoff as a write-back. Its writer lives with the logs
# (`app.services.logs.compose_writer`) and reaches the worker through `extra_writers`, which keeps this module free of
# the services that compose.

COMPOSE_ENTRY = "compose_entry"


def compose_key(log_id: int) -> str:
    """The item's `run_id` column: the dump it composes (one group per dump)."""
    return f"log:{log_id}"


def queue_compose(session: Session, *, project_id: int, log_id: int, due_in: timedelta) -> OutboxItem:
    item = OutboxItem(project_id=project_id, kind=COMPOSE_ENTRY, run_id=compose_key(log_id))
    item.payload = {"log_id": log_id}
    item.next_attempt_at = utcnow() + due_in
    return outbox_store.add_item(session, item)


def settle_compose(session: Session, *, log_id: int) -> int:
    """The dump's entry exists now (composed by the request, or by a person): its pending `compose_entry` items
    are done, and leave the outbox, which lists write-backs people wait for. Returns how many."""
    items = outbox_store.pending_items(session, kind=COMPOSE_ENTRY, run_id=compose_key(log_id))
    for item in items:
        session.delete(item)
    session.flush()
    return len(items)


def retry_compose_soon(session: Session, *, log_id: int, error: str) -> None:
    """The request could not compose the entry: let the worker try at its next poll instead of after the grace."""
    now = utcnow()
    for item in outbox_store.pending_items(session, kind=COMPOSE_ENTRY, run_id=compose_key(log_id)):
        outbox_store.reschedule(session, cast(int, item.id), now=now, next_attempt_at=now, error=error)


def _writer(kind: str, extra: Mapping[str, Writer] | None = None) -> Writer:
    writers: dict[str, Writer] = {
        RUN_NOTE: lambda sessions, settings, *, project_id, run_id, items: (
            write_run_note(sessions, settings, project_id=project_id, run_id=run_id),
            None,
        ),
        RUN_TAGS: lambda sessions, settings, *, project_id, run_id, items: (
            write_labbook_tags(sessions, settings, project_id=project_id, run_id=run_id, items=items),
            None,
        ),
        MODEL_VERSION_TAGS: write_decision_model_tags,
        **(extra or {}),
    }
    if kind not in writers:
        raise InputInvalid(f"unknown outbox item kind {kind!r}", field="kind")
    return writers[kind]


def _with_outcome(item: OutboxItem, outcome: str | None) -> dict[str, Any] | None:
    return None if outcome is None else {**item.payload, OUTCOME: outcome}


# --- deliver ----------------------------------------------------------------------------------------------------------


@dataclass
class DeliveryCounts:
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    writes: int = 0  # tag writes sent to MLflow (a run whose tags were already right needs none)
    errors: list[str] = field(default_factory=list)

    @property
    def claimed(self) -> int:
        return self.delivered + self.retried + self.dead


def backoff(attempts: int, *, settings: Settings, rng: random.Random | None = None) -> timedelta:
    """The wait after the `attempts`-th failed attempt (1-based): base * 2**(attempts-1), capped, plus jitter."""
    base, cap = settings.outbox_backoff_base_seconds, settings.outbox_backoff_max_seconds
    seconds = min(cap, base * 2 ** min(max(attempts - 1, 0), 32))
    jitter = (rng or random).uniform(0, 0.1) * seconds
    return timedelta(seconds=min(cap, seconds + jitter))


def deliver_due(
    sessions: SessionFactory,
    settings: Settings,
    *,
    limit: int = BATCH,
    extra_writers: Mapping[str, Writer] | None = None,
) -> DeliveryCounts:
    """Claim the due items (a lease, committed at once), deliver them one run at a time, settle each item.
    `extra_writers` deliver kinds of other services (`compose_entry`)."""
    with sessions() as session:
        claimed = outbox_store.claim_due(session, now=utcnow(), lease=LEASE, limit=limit)
        session.commit()
    groups: dict[tuple[int, str, str], list[OutboxItem]] = defaultdict(list)
    for item in claimed:
        groups[(item.project_id, item.run_id, item.kind)].append(item)
    counts = DeliveryCounts()
    for (project_id, run_id, kind), items in groups.items():
        _deliver_group(
            sessions,
            settings,
            project_id=project_id,
            run_id=run_id,
            kind=kind,
            items=items,
            counts=counts,
            extra_writers=extra_writers,
        )
    return counts


def drain(
    sessions: SessionFactory,
    settings: Settings,
    *,
    max_rounds: int = 1000,
    extra_writers: Mapping[str, Writer] | None = None,
) -> DeliveryCounts:
    """Deliver pass after pass until a pass claims nothing (an item that failed waits for its backoff, which is
    normally longer than a pass, so an outage ends the call rather than spinning)."""
    total = DeliveryCounts()
    for _ in range(max_rounds):
        counts = deliver_due(sessions, settings, extra_writers=extra_writers)
        for name in ("delivered", "retried", "dead", "writes"):
            setattr(total, name, getattr(total, name) + getattr(counts, name))
        total.errors += counts.errors
        if counts.claimed == 0:
            break
    return total


def _deliver_group(
    sessions: SessionFactory,
    settings: Settings,
    *,
    project_id: int,
    run_id: str,
    kind: str,
    items: list[OutboxItem],
    counts: DeliveryCounts,
    extra_writers: Mapping[str, Writer] | None = None,
) -> None:
    try:
        writer = _writer(kind, extra_writers)
        writes, outcome = writer(sessions, settings, project_id=project_id, run_id=run_id, items=items)
        counts.writes += writes
    except Exception as exc:  # every failure settles the items: retried or dead, never lost in a crashed loop
        _failed(sessions, settings, items=items, exc=exc, counts=counts)
        return
    with sessions() as session:
        now = utcnow()
        counts.delivered += sum(
            outbox_store.mark_delivered(session, cast(int, i.id), now=now, payload=_with_outcome(i, outcome))
            for i in items
        )
        session.commit()
    logger.info("mlflow.outbox.delivered", extra={"run_id": run_id, "items": [i.id for i in items]})


def _failed(
    sessions: SessionFactory, settings: Settings, *, items: list[OutboxItem], exc: Exception, counts: DeliveryCounts
) -> None:
    message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
    # Permanent: the run is gone or MLflow refuses the request, the project is gone or stopped writing back.
    retry = isinstance(exc, _RETRYABLE) or not isinstance(exc, TrackingError | NotFound | InputInvalid)
    if not isinstance(exc, LabbookError):
        logger.exception("mlflow.outbox.unexpected", extra={"items": [i.id for i in items]})
    counts.errors.append(message)
    with sessions() as session:
        now = utcnow()
        for item in items:
            item_id = cast(int, item.id)
            if retry:
                due = now + backoff(item.attempts + 1, settings=settings)
                counts.retried += outbox_store.reschedule(session, item_id, now=now, next_attempt_at=due, error=message)
            else:
                counts.dead += outbox_store.mark_dead(session, item_id, now=now, error=message)
        session.commit()
    event = "mlflow.outbox.retry" if retry else "mlflow.outbox.dead"
    logger.warning(event, extra={"items": [i.id for i in items], "error": message})


def write_run_note(sessions: SessionFactory, settings: Settings, *, project_id: int, run_id: str) -> int:
    """Render the run's Labbook section from the entries that cite it now and write it with `labbook.entry_ids`,
    keeping the human's note. Returns 1 if tags were written, 0 if MLflow already held exactly these values.
    No database transaction stays open during the requests to MLflow."""
    with sessions() as session:
        project = project_store.get_project(session, project_id)
        if project is None:
            raise NotFound(f"project {project_id} no longer exists")
        if not project.writeback:
            raise InputInvalid(f"write-back is off for project '{project.slug}'", field="writeback")
        uri = tracking_uri_for(project, default=settings.mlflow_tracking_uri)
        entries = [
            _note_entry(e, day)
            for e, day in outbox_store.entries_citing_run(session, project_id=project_id, run_id=run_id)
        ]
        slug = project.slug
    current = writeback.read_run_tags(uri, run_id)
    wanted = run_tags(current.get(NOTE_KEY), entries, public_url=settings.public_url, project_slug=slug)
    changed = {k: v for k, v in wanted.items() if current.get(k) != v}
    writeback.write_run_tags(uri, run_id, changed)
    return 1 if changed else 0


def _note_entry(entry: Entry, day: date | None) -> NoteEntry:
    """The entry's line: the day of its session (of the entry itself when it has no brain dump) and its TL;DR."""
    session_day = day if day is not None else entry.created_at.date()
    return NoteEntry(id=cast(int, entry.id), day=session_day, tldr=str(entry.body.get("tldr", "")))


# --- the worker -------------------------------------------------------------------------------------------------------


class OutboxWorker:
    """Delivers the outbox every `outbox_poll_seconds` on its own thread (`start`/`stop`), or on the caller's
    (`run`, which the `labbook worker` command uses). An error is logged and the loop goes on."""

    def __init__(
        self, sessions: SessionFactory, settings: Settings, *, extra_writers: Mapping[str, Writer] | None = None
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._extra_writers = extra_writers
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="labbook-outbox", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the loop to end after the current delivery (safe from a signal handler)."""
        self._stop.set()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run(self) -> None:
        logger.info("mlflow.outbox.worker.started", extra={"poll_s": self._settings.outbox_poll_seconds})
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self._settings.outbox_poll_seconds)
        logger.info("mlflow.outbox.worker.stopped")

    def tick(self) -> None:
        """Deliver what is due, batch after batch, until nothing is due or the worker is asked to stop."""
        try:
            while (
                not self._stop.is_set()
                and deliver_due(self._sessions, self._settings, extra_writers=self._extra_writers).claimed
            ):
                pass
        except Exception:
            logger.exception("mlflow.outbox.worker.error")
