"""A project's rows, table by table, as JSON values, and the same rows written back into another database.

`BACKUP_TABLES` lists every table whose rows belong to a project, parents first; `NOT_BACKED_UP` every other table,
with the reason. A new table must be put in one of the two (tests/api/test_export.py fails otherwise). Values are
exactly as stored: text as written (formula-looking cells, markup and control characters included), JSON columns as
they are, datetimes as ISO 8601 with their UTC offset, dates as ISO days. Escaping belongs to where text is rendered.

On the way back, each table keeps its ids when none of them is taken in the target database (a restore into a new
database is then the same database, down to the "entry 12" a document cites), and gets new ids otherwise; either
way every link (`project_id`, `log_id`, `entry_id`, ...) is mapped to the row it pointed at.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, Date, Table, func, insert, select, text
from sqlmodel import Session, SQLModel

from app.errors import InputInvalid
from app.storage import models  # noqa: F401  (registers every table in SQLModel.metadata)
from app.storage.types import UTCDateTime

# Parents before children, so that every link points at a row already written.
BACKUP_TABLES: tuple[str, ...] = (
    "project",
    "run",
    "session_log",
    "redaction",
    "entry",
    "entry_version",
    "tracking_sync",
    "approach_assignment",
    "approach_mark",
    "approach_mark_proposal",
    "answered_question",
)
NOT_BACKED_UP: Mapping[str, str] = {
    "outbox": "write-backs still to deliver to the tracking server: the service that holds them delivers them",
    "api_token": "credentials of the service, not of a project (a token names projects by slug; it has no link)",
    "artifact_cache": "what was read from logged models' artifacts, shared by every project; read again on a sync",
    "idempotency_key": "answers kept for retried requests, for a day; they belong to callers, not to projects",
    "llm_response": "a model's answers by prompt hash, shared by every project; asked again when missing",
}
# Columns a backup leaves out: `project.revision` is a cache key, and a restore is a write that gets a fresh one.
SKIPPED_COLUMNS: Mapping[str, frozenset[str]] = {"project": frozenset({"revision"})}
# Tables without `project_id`, reached through their parent: (the link column, the parent table).
_THROUGH_PARENT: Mapping[str, tuple[str, str]] = {
    "redaction": ("log_id", "session_log"),
    "entry_version": ("entry_id", "entry"),
}
_IN_CHUNK = 900  # bound parameters per IN (...), as in storage.runs
INSERT_CHUNK = 500  # rows per INSERT statement (and per step of a restore's progress)


def table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


def backed_up_columns(name: str) -> list[Column[Any]]:
    skipped = SKIPPED_COLUMNS.get(name, frozenset())
    return [c for c in table(name).columns if c.name not in skipped]


def links(name: str) -> dict[str, str]:
    """The table's link columns: {column: the table it points at}."""
    return {c.name: next(iter(c.foreign_keys)).column.table.name for c in table(name).columns if c.foreign_keys}


# -- reading -----------------------------------------------------------------------------------------------------------


def read_rows(session: Session, name: str, *, project_id: int) -> list[dict[str, Any]]:
    """The project's rows of table `name`, in id order, as JSON values."""
    t = table(name)
    columns = backed_up_columns(name)
    statement = select(*columns).where(_belongs(name, project_id)).order_by(t.c.id)
    return [
        {c.name: to_json(value) for c, value in zip(columns, values, strict=True)}
        for values in session.execute(statement)
    ]


def hold_snapshot(session: Session, *, project_id: int) -> None:
    """Make the reads that follow, to the end of the transaction, see one moment of the project. PostgreSQL: a share
    lock on the project's row, whose revision every write to its runs, dumps, entries and marks updates at commit
    (app.storage.revisions), so none of those commits meanwhile. SQLite: a read transaction, which in WAL mode reads
    one snapshot (the sqlite3 module starts none for reads on its own). Writers are never blocked on SQLite, and on
    PostgreSQL only until the reads end."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        project = table("project")
        connection.execute(select(project.c.id).where(project.c.id == project_id).with_for_update(read=True))
    elif connection.dialect.name == "sqlite" and not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        connection.exec_driver_sql("BEGIN")


def _belongs(name: str, project_id: int) -> Any:
    t = table(name)
    if name == "project":
        return t.c.id == project_id
    if name in _THROUGH_PARENT:
        column, parent = _THROUGH_PARENT[name]
        return t.c[column].in_(select(table(parent).c.id).where(table(parent).c.project_id == project_id))
    return t.c.project_id == project_id


def to_json(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool | dict | list):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"no JSON form for a stored {type(value).__name__}")


def schema_revision(session: Session) -> str | None:
    """The migration the database is at."""
    return session.execute(text("SELECT version_num FROM alembic_version")).scalar()


# -- writing -----------------------------------------------------------------------------------------------------------


def from_json(name: str, row: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    """A backed-up row as column values; `where` names the row in errors ("tables.run[3]")."""
    columns = {c.name: c for c in backed_up_columns(name)}
    unknown = sorted(set(row) - set(columns))
    if unknown:
        raise InputInvalid(f"{where}: no column '{unknown[0]}' in table {name}", field=f"{where}.{unknown[0]}")
    values: dict[str, Any] = {}
    for key, column in columns.items():
        if key not in row:  # a backup made before the column existed: its default, as for a new row
            values[key] = _default(name, key, where=where)
            continue
        try:
            values[key] = _column_value(column, row[key])
        except (TypeError, ValueError) as exc:
            raise InputInvalid(f"{where}.{key}: {exc}", field=f"{where}.{key}") from exc
    return values


def _default(name: str, key: str, *, where: str) -> Any:
    model = next(m for m in SQLModel.__subclasses__() if getattr(m, "__table__", None) is table(name))
    field = model.model_fields[key]
    if field.is_required():
        raise InputInvalid(f"{where}: no value for '{key}'", field=f"{where}.{key}")
    return field.get_default(call_default_factory=True)


def _column_value(column: Column[Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, UTCDateTime):
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError(f"'{value}' has no UTC offset")
        return parsed
    if isinstance(column.type, Date):
        return date.fromisoformat(value)
    return value


def lock_tables(session: Session, names: Iterable[str]) -> None:
    """Hold off other writers of these tables until the transaction ends (PostgreSQL; a SQLite writer holds the
    database's write lock already), so the ids a restore keeps cannot be taken meanwhile. Readers go on."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"LOCK TABLE {', '.join(names)} IN EXCLUSIVE MODE"))


def ids_taken(session: Session, name: str, ids: Sequence[int]) -> bool:
    """Whether any of these ids is in use in table `name`."""
    t = table(name)
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = list(ids[start : start + _IN_CHUNK])
        if session.execute(select(func.count()).select_from(t).where(t.c.id.in_(chunk))).scalar():
            return True
    return False


def insert_rows(session: Session, name: str, rows: Sequence[dict[str, Any]], *, keep_ids: bool) -> list[int]:
    """Insert the rows (every row with the same columns) and return their ids, in order: the rows' own with
    `keep_ids`, else new ones, assigned in the rows' order."""
    if not rows:
        return []
    t = table(name)
    if keep_ids:
        session.execute(insert(t), list(rows))
        return [row["id"] for row in rows]
    fresh = [{k: v for k, v in row.items() if k != "id"} for row in rows]
    result = session.execute(insert(t).returning(t.c.id, sort_by_parameter_order=True), fresh)
    return [row_id for (row_id,) in result]


def sync_id_sequence(session: Session, name: str) -> None:
    """After rows were inserted with their own ids: PostgreSQL's id sequence moves past them (SQLite takes the
    largest id plus one by itself)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT MAX(id) FROM {name}))"))
