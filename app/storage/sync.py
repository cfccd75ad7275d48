"""MLflow sync storage: where each experiment's last sync stopped, the runs a sync compares against (plain column
values, no ORM objects), bulk writes, and the cache of what was read from logged models' artifacts."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert as sql_insert
from sqlalchemy import select as sql_select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.errors import ConcurrentWrite
from app.storage import revisions
from app.storage import runs as run_store
from app.storage.models import ArtifactCache, Run, TrackingSync

# The run columns a sync writes; everything else (notes, key, project_id) it leaves alone.
SYNC_FIELDS = (
    "run_id",
    "run_name",
    "source",
    "params",
    "metrics",
    "tags",
    "experiment_id",
    "status",
    "start_time",
    "end_time",
    "duration_s",
    "parent_run_id",
    "git_commit",
    "source_name",
    "source_type",
    "owner",
    "data_version",
    "datasets",
    "seed",
    "environment",
    "hardware",
    "split",
    "artifact_uri",
)
# VARCHAR widths of those columns: PostgreSQL refuses longer values, so they are cut to fit before comparing.
_WIDTHS = {
    name: length
    for name in SYNC_FIELDS
    if (length := getattr(Run.__table__.columns[name].type, "length", None))  # type: ignore[attr-defined]
}
_IN_CHUNK = 900  # bound parameters per IN (...), as in storage.runs


def get_sync_state(session: Session, *, project_id: int, experiment_id: str) -> TrackingSync | None:
    query = select(TrackingSync).where(
        TrackingSync.project_id == project_id, TrackingSync.experiment_id == experiment_id
    )
    return session.exec(query).first()


def save_sync_state(session: Session, state: TrackingSync) -> TrackingSync:
    session.add(state)
    try:
        session.flush()
    except IntegrityError as exc:
        raise ConcurrentWrite("another sync of this project ran at the same moment; send it again") from exc
    return state


def fit_columns(row: dict[str, Any]) -> dict[str, Any]:
    """Cut string values to their column's width, in place (a 600-character `hardware` tag still stores)."""
    for name, width in _WIDTHS.items():
        value = row.get(name)
        if isinstance(value, str) and len(value) > width:
            row[name] = value[: width - 1] + "…"
    return row


def load_runs_for_sync(session: Session, *, project_id: int, keys: Collection[str]) -> dict[str, dict[str, Any]]:
    """The stored runs with these keys as {key: {"id", "synced_at", <SYNC_FIELDS>...}}: one light column query per
    900 keys, no ORM objects."""
    columns = [col(Run.id), col(Run.key), col(Run.synced_at), *(getattr(Run, name) for name in SYNC_FIELDS)]
    names = ["id", "key", "synced_at", *SYNC_FIELDS]
    unique = list(dict.fromkeys(keys))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(unique), _IN_CHUNK):
        chunk = unique[start : start + _IN_CHUNK]
        statement = sql_select(*columns).where(col(Run.project_id) == project_id, col(Run.key).in_(chunk))
        for values in session.execute(statement):
            row = dict(zip(names, values, strict=True))
            found[row["key"]] = row
    return found


def write_synced_runs(
    session: Session,
    *,
    project_id: int,
    inserts: Sequence[dict[str, Any]],
    updates: Sequence[dict[str, Any]],
    touched_ids: Sequence[int],
    synced_at: datetime,
) -> None:
    """New runs as one executemany insert, changed runs as one executemany update by primary key (every row carries
    the same columns), and unchanged runs get only their `synced_at`, a few set-based UPDATEs."""
    run_store.save_runs(session, inserts)
    if updates:  # `synced_at` alone is no input of the analysis
        revisions.touch(session, project_id)
    try:
        if updates:
            session.execute(update(Run), list(updates))
        for start in range(0, len(touched_ids), _IN_CHUNK):
            chunk = touched_ids[start : start + _IN_CHUNK]
            session.execute(update(Run).where(col(Run.id).in_(chunk)).values(synced_at=synced_at))
    except IntegrityError as exc:
        raise ConcurrentWrite("another request wrote the same runs at the same moment; send it again") from exc


def cached_artifacts(session: Session, uris: Iterable[str]) -> dict[str, dict[str, Any]]:
    unique = list(dict.fromkeys(uris))
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(unique), _IN_CHUNK):
        chunk = unique[start : start + _IN_CHUNK]
        statement = sql_select(col(ArtifactCache.uri), col(ArtifactCache.content)).where(
            col(ArtifactCache.uri).in_(chunk)
        )
        found.update((uri, content or {}) for uri, content in session.execute(statement))
    return found


def cache_artifacts(session: Session, contents: Mapping[str, dict[str, Any]], *, fetched_at: datetime) -> None:
    if not contents:
        return
    rows = [{"uri": uri, "content": content, "fetched_at": fetched_at} for uri, content in contents.items()]
    try:
        session.execute(sql_insert(ArtifactCache), rows)
    except IntegrityError as exc:
        raise ConcurrentWrite("another sync cached the same artifacts at the same moment; send it again") from exc
