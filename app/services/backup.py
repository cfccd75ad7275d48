"""A project's backup (every row that belongs to it, as stored) and its restore into a database that lacks it.

The backup is what `GET /v1/projects/{slug}/export` answers and `labbook export` saves: the project's settings, runs,
brain dumps verbatim with their redaction audit, entries with every version, approach regroupings, marks and proposed
marks, answered questions, and where each MLflow sync stopped. Not the tokens, not the outbox (see
`app.storage.backup.NOT_BACKED_UP`). `labbook restore` writes it back in one transaction: all of it or nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from pydantic import ValidationError
from sqlmodel import Session

from app.errors import InputInvalid, ProjectExists, field_name
from app.services.schemas import BACKUP_VERSION, ProjectBackup
from app.storage import backup as backup_store
from app.storage import projects as project_store
from app.storage.models import Project
from app.storage.types import new_revision, utcnow

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (rows written, rows in the backup)


@dataclass(frozen=True)
class RestoredTable:
    name: str
    rows: int
    kept_ids: bool  # False: the ids were taken in this database, so the rows got new ones (links still mapped)


@dataclass(frozen=True)
class RestoreResult:
    slug: str
    tables: list[RestoredTable]

    @property
    def renumbered(self) -> list[str]:
        return [t.name for t in self.tables if t.rows and not t.kept_ids]


def export_project(session: Session, *, project: Project) -> ProjectBackup:
    """Every row of the project, read at one moment."""
    project_id = cast(int, project.id)
    backup_store.hold_snapshot(session, project_id=project_id)
    tables = {name: backup_store.read_rows(session, name, project_id=project_id) for name in backup_store.BACKUP_TABLES}
    return ProjectBackup(
        project=project.slug,
        exported_at=utcnow(),
        schema_revision=backup_store.schema_revision(session),
        counts={name: len(rows) for name, rows in tables.items()},
        tables=tables,
    )


def read_backup(data: Any) -> ProjectBackup:
    """A parsed backup file, checked: its format and version, its tables, and that it holds the rows it counts."""
    try:
        backup = ProjectBackup.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = field_name(first["loc"], brackets=True, empty="backup")
        raise InputInvalid(f"not a Labbook project backup: {where}: {first['msg']}", field=where) from exc
    if backup.version > BACKUP_VERSION:
        raise InputInvalid(
            f"the backup is version {backup.version}; this Labbook reads up to version {BACKUP_VERSION}",
            field="version",
        )
    for name, rows in backup.tables.items():
        if name not in backup_store.BACKUP_TABLES:
            raise InputInvalid(f"no table '{name}' is part of a project backup", field=f"tables.{name}")
        if backup.counts.get(name, len(rows)) != len(rows):
            raise InputInvalid(
                f"tables.{name} holds {len(rows)} rows, the backup counts {backup.counts[name]}: it is incomplete",
                field=f"tables.{name}",
            )
    projects = backup.tables.get("project", [])
    if len(projects) != 1 or projects[0].get("slug") != backup.project:
        raise InputInvalid(f"tables.project must hold the one project '{backup.project}'", field="tables.project")
    return backup


def restore_project(session: Session, *, backup: ProjectBackup, progress: Progress | None = None) -> RestoreResult:
    """Write the backup's rows, parents first, mapping every link to the row it pointed at. Refused when the project
    exists here (a restore never merges)."""
    backup_store.lock_tables(session, backup_store.BACKUP_TABLES)
    if project_store.get_project_by_slug(session, backup.project) is not None:
        raise ProjectExists(
            f"a project '{backup.project}' exists in this database; restore reads a backup into one that lacks it",
            field="project",
        )
    total = sum(len(rows) for rows in backup.tables.values())
    written = 0
    ids: dict[str, dict[int, int]] = {}
    restored: list[RestoredTable] = []
    for name in backup_store.BACKUP_TABLES:
        rows = [_row(name, i, row, ids) for i, row in enumerate(backup.tables.get(name, []))]
        old_ids = [row["id"] for row in rows]
        if len(set(old_ids)) != len(old_ids):
            raise InputInvalid(f"tables.{name} holds one id twice", field=f"tables.{name}")
        keep = not backup_store.ids_taken(session, name, old_ids)
        new_ids: list[int] = []
        for start in range(0, len(rows), backup_store.INSERT_CHUNK):
            chunk = rows[start : start + backup_store.INSERT_CHUNK]
            new_ids += backup_store.insert_rows(session, name, chunk, keep_ids=keep)
            written += len(chunk)
            if progress:
                progress(written, total)
        if keep and rows:
            backup_store.sync_id_sequence(session, name)
        ids[name] = dict(zip(old_ids, new_ids, strict=True))
        restored.append(RestoredTable(name=name, rows=len(rows), kept_ids=keep))
    result = RestoreResult(slug=backup.project, tables=restored)
    logger.info("project.restored", extra={"project": backup.project, "rows": total, "renumbered": result.renumbered})
    return result


def _row(name: str, index: int, row: dict[str, Any], ids: dict[str, dict[int, int]]) -> dict[str, Any]:
    """One backed-up row as values to insert, its links pointed at the rows written before it."""
    where = f"tables.{name}[{index}]"
    values = backup_store.from_json(name, row, where=where)
    if not isinstance(values.get("id"), int):
        raise InputInvalid(f"{where}: no id", field=f"{where}.id")
    for column, parent in backup_store.links(name).items():
        old = values.get(column)
        if old is None:
            continue
        if old not in ids.get(parent, {}):
            raise InputInvalid(
                f"{where}.{column}: links to {parent} {old}, which the backup does not hold", field=f"{where}.{column}"
            )
        values[column] = ids[parent][old]
    if name == "project":
        values["revision"] = new_revision()  # a restore is a write: caches keyed by the old revision never answer
    return values
