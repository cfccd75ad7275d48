"""Entry and entry-version queries. An entry row holds the current version; every version is also kept in full."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, cast

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.errors import ConcurrentWrite
from app.storage.models import Entry, EntryVersion
from app.storage.types import utcnow


def add_entry(session: Session, entry: Entry) -> Entry:
    session.add(entry)
    session.flush()
    return entry


def add_version(session: Session, version: EntryVersion) -> EntryVersion:
    """Insert one version. A version number a concurrent edit took first raises ConcurrentWrite (409)."""
    session.add(version)
    try:
        session.flush()
    except IntegrityError as exc:
        raise ConcurrentWrite("someone else edited this entry at the same moment; read it and send again") from exc
    return version


def get_entry(session: Session, entry_id: int) -> Entry | None:
    return session.get(Entry, entry_id)


def get_entry_for_update(session: Session, entry_id: int) -> Entry | None:
    """The entry, locked until the transaction ends (PostgreSQL), so two edits cannot both become version n+1."""
    return session.exec(select(Entry).where(Entry.id == entry_id).with_for_update()).first()


def list_entries(session: Session, *, project_id: int, kind: str | None, after_id: int, limit: int) -> list[Entry]:
    query = select(Entry).where(Entry.project_id == project_id, col(Entry.id) > after_id)
    if kind is not None:
        query = query.where(Entry.kind == kind)
    return list(session.exec(query.order_by(col(Entry.id)).limit(limit)))


def entry_ids_by_log(session: Session, log_ids: Collection[int], *, kind: str = "log_entry") -> dict[int, int]:
    """The newest entry of `kind` composed from each log, for the logs that have one."""
    if not log_ids:
        return {}
    query = (
        select(Entry.log_id, func.max(Entry.id))
        .where(col(Entry.log_id).in_(list(log_ids)), Entry.kind == kind)
        .group_by(col(Entry.log_id))
    )
    return {log_id: entry_id for log_id, entry_id in session.exec(query) if log_id is not None and entry_id}


def get_version(session: Session, *, entry_id: int, version: int) -> EntryVersion | None:
    query = select(EntryVersion).where(EntryVersion.entry_id == entry_id, EntryVersion.version == version)
    return session.exec(query).first()


def list_versions(session: Session, *, entry_id: int) -> list[EntryVersion]:
    query = select(EntryVersion).where(EntryVersion.entry_id == entry_id).order_by(col(EntryVersion.version))
    return list(session.exec(query))


def entry_ids(session: Session, *, project_id: int) -> list[int]:
    query = select(Entry.id).where(Entry.project_id == project_id).order_by(col(Entry.id))
    return [i for i in session.exec(query) if i is not None]


def versions_of(session: Session, *, entry_ids: Collection[int]) -> list[EntryVersion]:
    """Every version of these entries, by entry and version."""
    found: list[EntryVersion] = []
    ids = sorted(set(entry_ids))
    for start in range(0, len(ids), 900):
        query = select(EntryVersion).where(col(EntryVersion.entry_id).in_(ids[start : start + 900]))
        found += session.exec(query.order_by(col(EntryVersion.entry_id), col(EntryVersion.version)))
    return found


def redact_entries(session: Session, *, project_id: int, secret: str, replacement: str) -> tuple[list[Entry], int]:
    """Replace `secret` in every entry of the project and in every version of each, in the Markdown and in every
    text of the body: what was composed from a redacted dump, and documents quoting it, lose it too. Returns the
    entries changed and the number of occurrences replaced."""
    entries = list(session.exec(select(Entry).where(Entry.project_id == project_id)))
    if not entries:
        return [], 0
    by_id = {cast(int, e.id): e for e in entries}
    changed: dict[int, Entry] = {}
    total = 0
    for entry in entries:
        count = _redact_row(entry, secret, replacement)
        if count:
            entry.updated_at = utcnow()  # what reads an entry's body by its version and update time reads it again
            changed[cast(int, entry.id)] = entry
            total += count
            session.add(entry)
    for version in versions_of(session, entry_ids=list(by_id)):
        count = _redact_row(version, secret, replacement)
        if count:
            changed.setdefault(version.entry_id, by_id[version.entry_id])
            total += count
            session.add(version)
    session.flush()
    return list(changed.values()), total


def _redact_row(row: Entry | EntryVersion, secret: str, replacement: str) -> int:
    body, in_body = _replaced(row.body, secret, replacement)
    in_markdown = row.markdown.count(secret)
    if in_body:
        row.body = body
    if in_markdown:
        row.markdown = row.markdown.replace(secret, replacement)
    return int(in_body) + in_markdown


def _replaced(value: Any, secret: str, replacement: str) -> tuple[Any, int]:
    """`value` (a JSON body) with `secret` replaced in every string, and how many times it occurred."""
    if isinstance(value, str):
        return value.replace(secret, replacement), value.count(secret)
    if isinstance(value, list):
        pairs = [_replaced(v, secret, replacement) for v in value]
        return [v for v, _ in pairs], sum(n for _, n in pairs)
    if isinstance(value, dict):
        items = {k: _replaced(v, secret, replacement) for k, v in value.items()}
        return {k: v for k, (v, _) in items.items()}, sum(n for _, n in items.values())
    return value, 0
