"""Queries the analysis reads and the people's declarations it honours: runs as plain `RunView`s (only the columns
the analysis uses, one query), baseline marks, approach regrouping and marks, and entries by kind.

Every write here is dialect-neutral (select, then update or insert): the same code runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from datetime import date, datetime
from sys import intern
from typing import Any, cast

from sqlalchemy import Text, bindparam, func, text, update
from sqlalchemy import cast as sql_cast
from sqlalchemy import select as sql_select  # sqlmodel's select types at most four columns
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.analysis.model import RunView
from app.errors import ConcurrentWrite
from app.storage import revisions
from app.storage.models import ApproachAssignment, ApproachMarkRow, Entry, Run, SessionLog
from app.storage.types import utcnow

LOG_ENTRY = "log_entry"

# The columns a RunView needs; notes, artifact URIs and sync bookkeeping are never read. JSON columns are read as
# their text and decoded by `_RunReader`.
_TEXT_COLUMNS = (
    Run.key,
    Run.run_id,
    Run.run_name,
    Run.status,
    Run.source,
    Run.git_commit,
    Run.data_version,
    Run.seed,
    Run.hardware,
    Run.source_name,
    Run.split,
    Run.owner,
    Run.parent_run_id,
)
_JSON_COLUMNS = (Run.params, Run.metrics, Run.tags, Run.datasets, Run.environment, Run.labbook_tags)
_OTHER_COLUMNS = (Run.duration_s,)
_MISSING = object()


def analysis_runs(session: Session, *, project_id: int, dump_days: Mapping[str, date] | None = None) -> list[RunView]:
    """Every run of the project as a `RunView`, in history order (start time, else the time it was stored).

    `dump_days` (run key -> the day of the brain dump that brought it) gives a run without a start time its session;
    without either, the day it was stored. One query of plain columns: no ORM objects for 100,000 runs."""
    columns = [
        *(col(c) for c in _TEXT_COLUMNS),
        *(sql_cast(col(c), Text) for c in _JSON_COLUMNS),
        *(col(c) for c in _OTHER_COLUMNS),
        # One time to read a run by: its start, else when it was stored (SQLite parses each datetime in Python).
        func.coalesce(col(Run.start_time), col(Run.created_at)),
        col(Run.start_time).is_not(None),
    ]
    statement = sql_select(*columns).where(col(Run.project_id) == project_id).order_by(col(Run.id))
    reader = _RunReader(dump_days or {})
    # Core, not ORM, execution: rows stream from the cursor one at a time instead of being fetched all at once.
    views = [reader.view(row) for row in session.connection().execute(statement)]
    return sorted(views, key=lambda v: cast(datetime, v.when))  # stable: insertion order breaks ties


class _RunReader:
    """Rows to `RunView`s, for a whole project at once, which is what keeps 100,000 runs cheap in time and memory:

    - JSON is decoded from the column's text by one decoder (`raw_decode`, without the wrappers of `json.loads`),
      and the columns whose texts recur from run to run (environment, datasets, the tags Labbook wrote) are decoded
      once per distinct text, the runs sharing the result (nothing writes to a `RunView`);
    - equal strings and days are kept once (`sys.intern` for parameter and metric names and parameter values, and
      `seen` for the other fields and the tag values): statuses, commits, seeds and the other repeated fields would
      otherwise be a fresh object in every run, and a run's name, and its `mlflow.runName` tag, would be two;
    - a run ID equal to the key (an MLflow run's) shares the key's string, and the view is built by position.

    The views equal those of decoding each row on its own, field for field and in the same key order."""

    def __init__(self, dump_days: Mapping[str, date]) -> None:
        self.dump_days = dump_days
        self.seen: dict[Any, Any] = {}
        self.decoded: dict[str | None, Any] = {}
        self.raw_decode = json.JSONDecoder().raw_decode

    def _json(self, text: str | None) -> Any:
        if text is None:
            return None
        try:
            return self.raw_decode(text)[0]
        except json.JSONDecodeError:  # leading whitespace, which raw_decode refuses
            return json.loads(text)

    def _shared(self, text: str | None, convert: Callable[[Any], Any]) -> Any:
        if (found := self.decoded.get(text, _MISSING)) is _MISSING:
            found = self.decoded[text] = convert(self._json(text))
        return found

    def view(self, row: Any) -> RunView:
        same, loads = self.seen.setdefault, self._json
        key, run_id, name, status, source, git_commit, data_version, seed, hardware, source_name, split = row[:11]
        owner, parent, params, metrics, tags, datasets, environment, ours, duration, when, started = row[11:]
        day = when.date() if started else self.dump_days.get(key, when.date())
        return RunView(  # by position, in the order of RunView's fields
            key,
            key if run_id == key else run_id,
            same(name, name),
            _params(loads(params) or {}),
            {intern(str(k)): float(v) for k, v in (loads(metrics) or {}).items() if isinstance(v, int | float)},
            _own_tags(loads(tags) or {}, self._shared(ours, _mapping), same),
            when,
            same(day, day),
            same(status, status),
            duration,
            same(parent, parent),
            same(source, source),
            same(git_commit, git_commit),
            same(data_version, data_version),
            self._shared(datasets, _tuple),
            same(seed, seed),
            self._shared(environment, _mapping),
            same(hardware, hardware),
            same(source_name, source_name),
            same(split, split),
            same(owner, owner),
        )


def _params(params: Mapping[Any, Any]) -> dict[str, str]:
    """Parameters as strings, names and values interned (`map` over the keys and the values: no Python-level loop)."""
    try:
        return dict(zip(map(intern, params), map(intern, params.values()), strict=True))
    except TypeError:  # a value stored as a number or null
        return {intern(str(k)): intern(str(v)) for k, v in params.items()}


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value or {})


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value or ())


def _own_tags(tags: Mapping[str, str], ours: Mapping[str, str], same: Callable[[Any, Any], Any]) -> dict[str, str]:
    """The run's tags without the ones Labbook wrote back to MLflow and a sync read in again: a `labbook.approach`
    Labbook queued (a person's regrouping would otherwise stick as an explicit tag after it is undone), findings,
    statuses and entry links. A `labbook.approach` a person set by hand in MLflow stays. `same` keeps equal values
    once (the reader's `seen`)."""
    return {
        intern(k): same(v, v) if isinstance(v, str) else v
        for k, v in tags.items()
        if k not in ours
        and not (k.startswith("labbook.finding.") or k in ("labbook.approach_status", "labbook.entry_ids"))
    }


def dump_days(session: Session, *, project_id: int) -> dict[str, date]:
    """Run key -> the earliest session day of a brain dump whose log entry cites the run."""
    statement = (
        sql_select(col(Entry.run_ids), col(SessionLog.session_date))
        .join(SessionLog, col(Entry.log_id) == col(SessionLog.id))
        .where(col(Entry.project_id) == project_id, col(Entry.kind) == LOG_ENTRY)
    )
    days: dict[str, date] = {}
    for run_ids, day in session.execute(statement):
        for key in run_ids or ():
            if key not in days or day < days[key]:
                days[key] = day
    return days


def metric_names(session: Session, *, project_id: int) -> list[str]:
    """Every metric name some run of the project records, sorted. The database lists the keys (SQLite's `json_each`,
    PostgreSQL's `json_object_keys`): every brain dump asks, and decoding every run's metrics in Python costs more
    than the rest of reading the dump."""
    if session.get_bind().dialect.name == "sqlite":
        query = (
            "SELECT DISTINCT j.key FROM run, json_each(run.metrics) AS j"
            " WHERE run.project_id = :p AND j.key IS NOT NULL"
        )
    elif session.get_bind().dialect.name == "postgresql":
        query = (
            "SELECT DISTINCT json_object_keys(metrics::json) FROM run"
            " WHERE project_id = :p AND json_typeof(metrics::json) = 'object'"
        )
    else:
        statement = sql_select(col(Run.metrics)).where(col(Run.project_id) == project_id)
        return sorted({name for (metrics,) in session.execute(statement) for name in metrics or {}})
    return sorted(str(name) for (name,) in session.execute(text(query), {"p": project_id}))


# -- baselines ---------------------------------------------------------------------------------------------------------


def baseline_keys(session: Session, *, project_id: int) -> list[str]:
    query = select(Run.key).where(Run.project_id == project_id, col(Run.baseline).is_(True)).order_by(col(Run.id))
    return list(session.exec(query))


def set_baseline(session: Session, *, project_id: int, key: str | None) -> None:
    """Mark the run `key` as the project's one baseline (None: no run is marked)."""
    revisions.touch(session, project_id)
    clear = update(Run).where(col(Run.project_id) == project_id, col(Run.key) != (key or ""), col(Run.baseline))
    session.execute(clear.values(baseline=False, updated_at=utcnow()))
    if key is not None:
        mark = update(Run).where(col(Run.project_id) == project_id, col(Run.key) == key)
        session.execute(mark.values(baseline=True, updated_at=utcnow()))
    session.flush()  # ORM-enabled updates also set the flag on Run objects this session has loaded


# -- approaches --------------------------------------------------------------------------------------------------------


def approach_overrides(session: Session, *, project_id: int) -> dict[str, str]:
    """Run key -> the approach a person put it in."""
    query = select(ApproachAssignment.run_key, ApproachAssignment.approach).where(
        ApproachAssignment.project_id == project_id
    )
    return dict(session.exec(query).all())


def assign_approach(session: Session, *, project_id: int, run_keys: Collection[str], approach: str, by: str) -> None:
    """Put each run in `approach`, replacing an earlier regrouping; a concurrent one raises ConcurrentWrite."""
    keys = list(dict.fromkeys(run_keys))
    existing = {
        a.run_key: a
        for a in session.exec(
            select(ApproachAssignment).where(
                ApproachAssignment.project_id == project_id, col(ApproachAssignment.run_key).in_(keys)
            )
        )
    }
    now = utcnow()
    for key in keys:
        row = existing.get(key) or ApproachAssignment(
            project_id=project_id, run_key=key, approach=approach, assigned_by=by
        )
        row.approach, row.assigned_by, row.assigned_at = approach, by, now
        session.add(row)
    _flush(session)


def unassign_approach(session: Session, *, project_id: int, run_key: str) -> bool:
    """Drop a person's regrouping of the run; whether there was one."""
    row = session.exec(
        select(ApproachAssignment).where(
            ApproachAssignment.project_id == project_id, ApproachAssignment.run_key == run_key
        )
    ).first()
    if row is not None:
        session.delete(row)
        session.flush()
    return row is not None


def approach_marks(session: Session, *, project_id: int) -> list[ApproachMarkRow]:
    query = select(ApproachMarkRow).where(ApproachMarkRow.project_id == project_id).order_by(col(ApproachMarkRow.id))
    return list(session.exec(query))


def set_approach_mark(
    session: Session, *, project_id: int, name: str, status: str, reason: str, by: str
) -> ApproachMarkRow:
    row = _mark_row(session, project_id=project_id, name=name) or ApproachMarkRow(
        project_id=project_id, name=name, status=status, marked_by=by
    )
    row.status, row.reason, row.marked_by, row.marked_at = status, reason, by, utcnow()
    session.add(row)
    _flush(session)
    return row


def delete_approach_mark(session: Session, *, project_id: int, name: str) -> bool:
    row = _mark_row(session, project_id=project_id, name=name)
    if row is not None:
        session.delete(row)
        session.flush()
    return row is not None


def _mark_row(session: Session, *, project_id: int, name: str) -> ApproachMarkRow | None:
    query = select(ApproachMarkRow).where(ApproachMarkRow.project_id == project_id, ApproachMarkRow.name == name)
    return session.exec(query).first()


def _flush(session: Session) -> None:
    try:
        session.flush()
    except IntegrityError as exc:
        raise ConcurrentWrite("another request changed the same approach at the same moment; send it again") from exc


# -- entries -----------------------------------------------------------------------------------------------------------


def entries_of_kind(session: Session, *, project_id: int, kinds: Collection[str] | None = None) -> list[Entry]:
    """The project's entries (of `kinds`), oldest first."""
    query = select(Entry).where(Entry.project_id == project_id)
    if kinds is not None:
        query = query.where(col(Entry.kind).in_(list(kinds)))
    return list(session.exec(query.order_by(col(Entry.id))))


# (database, entry id, version, created, updated) -> the texts of its open questions: an entry's body changes only
# with one of those (a new version, a related-work cross-reference, a redaction), so each body is read once per
# process.
_QUESTIONS: dict[tuple[Any, ...], tuple[str, ...]] = {}
_QUESTIONS_MAX = 200_000


def open_questions_before(session: Session, *, project_id: int, kind: str, log_id: int) -> list[tuple[int, list[str]]]:
    """(entry id, the texts of its body's `open_questions`) of the project's entries of `kind` composed from a brain
    dump older than `log_id` and asking something, oldest first. Every brain dump asks, so a body is read once (see
    `_QUESTIONS`), by the database (SQLite's `json_each`, PostgreSQL's `jsonb_array_elements`): reading every
    entry's body for every dump would make a dump cost more the longer a project runs."""
    listed = text(
        "SELECT id, version, created_at, updated_at FROM entry"
        " WHERE project_id = :p AND kind = :k AND log_id < :l ORDER BY id"
    )
    where = str(session.get_bind().engine.url)  # one process may read several databases
    keys = [(where, *row) for row in session.execute(listed, {"p": project_id, "k": kind, "l": log_id})]
    missing = [key for key in keys if key not in _QUESTIONS]
    if len(_QUESTIONS) + len(missing) > _QUESTIONS_MAX:
        _QUESTIONS.clear()
        missing = keys
    read: dict[int, list[str]] = {}
    for start in range(0, len(missing), 500):
        read.update(_question_texts(session, [int(key[1]) for key in missing[start : start + 500]]))
    for key in missing:
        _QUESTIONS[key] = tuple(read.get(int(key[1]), ()))
    return [(int(key[1]), list(_QUESTIONS[key])) for key in keys if _QUESTIONS.get(key)]


def _question_texts(session: Session, entry_ids: list[int]) -> dict[int, list[str]]:
    """Entry id -> the texts of its body's open questions, in order, for the entries that ask something."""
    if not entry_ids:
        return {}
    if session.get_bind().dialect.name == "sqlite":
        query = text(
            "SELECT entry.id, json_extract(q.value, '$.text')"
            " FROM entry, json_each(entry.body, '$.open_questions') AS q"
            " WHERE entry.id IN :ids AND json_type(entry.body, '$.open_questions') = 'array' AND q.type = 'object'"
            " ORDER BY entry.id, q.key"
        ).bindparams(bindparam("ids", expanding=True))
    elif session.get_bind().dialect.name == "postgresql":
        query = text(
            "SELECT entry.id, q.value ->> 'text' FROM entry,"
            " jsonb_array_elements(CASE WHEN jsonb_typeof(entry.body -> 'open_questions') = 'array'"
            " THEN entry.body -> 'open_questions' ELSE '[]'::jsonb END) WITH ORDINALITY AS q(value, n)"
            " WHERE entry.id IN :ids AND jsonb_typeof(q.value) = 'object'"
            " ORDER BY entry.id, q.n"
        ).bindparams(bindparam("ids", expanding=True))
    else:
        statement = (
            sql_select(col(Entry.id), col(Entry.body)["open_questions"])
            .where(col(Entry.id).in_(entry_ids))
            .order_by(col(Entry.id))
        )
        rows = [
            (entry_id, item.get("text"))
            for entry_id, items in session.execute(statement)
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict)
        ]
        return dict(_grouped(rows))
    return dict(_grouped(list(session.execute(query, {"ids": entry_ids}))))


def _grouped(rows: list[Any]) -> list[tuple[int, list[str]]]:
    out: dict[int, list[str]] = {}
    for entry_id, question in rows:
        if question:  # a question without text asks nothing
            out.setdefault(int(entry_id), []).append(str(question))
    return list(out.items())


def log_days(session: Session, *, log_ids: Collection[int]) -> dict[int, date]:
    """Log id -> the session day of that brain dump."""
    if not log_ids:
        return {}
    query = sql_select(col(SessionLog.id), col(SessionLog.session_date)).where(col(SessionLog.id).in_(list(log_ids)))
    return {log_id: day for log_id, day in session.execute(query)}
