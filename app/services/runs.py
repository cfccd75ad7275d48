"""Runs: import pasted tables (idempotently, by run ID) and list them with filters."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any, cast

from sqlmodel import Session

from app.analysis.tried import settings_in_words
from app.errors import ConcurrentWrite, FilterInvalid, RunNotFound
from app.parsing.tables import ParsedRow, ParsedTable, normalize_metric_name, parse_run_table
from app.services.pagination import decode_cursor, next_cursor
from app.services.schemas import (
    ImportedColumn,
    ImportedRow,
    ImportWarning,
    Page,
    RunImportResult,
    RunPublic,
    TableFormat,
)
from app.storage import runs as run_store
from app.storage.models import Project, Run
from app.storage.runs import MetricFilter, Op, TextFilter
from app.storage.types import utcnow

logger = logging.getLogger(__name__)
_METRIC_FILTER = re.compile(r"^\s*(?P<name>[^<>=!]+?)\s*(?:(?P<op>>=|<=|!=|>|<|==|=)\s*(?P<value>\S.*?))?\s*$")


def import_table(
    session: Session, *, project: Project, text: str, format: TableFormat | None, source: str = "table"
) -> RunImportResult:
    """Create or update one run per row; a run ID seen before updates that run, never duplicates it."""
    return import_parsed(session, project=project, parsed=parse_table(project, text=text, format=format), source=source)


def parse_table(project: Project, *, text: str, format: TableFormat | None) -> ParsedTable:
    """The pasted table read with the project's metric names; `RunTableInvalid` names the line at fault."""
    return parse_run_table(
        text,
        format=format,
        metric_aliases=project.metric_aliases,
        known_metrics=[project.primary_metric],
        read_words=settings_in_words,  # an agent log's changes in words, read as "has this been tried?" reads
    )


def import_parsed(session: Session, *, project: Project, parsed: ParsedTable, source: str = "table") -> RunImportResult:
    """Store the rows of a table read once by `parse_table`."""
    try:
        return _apply(session, cast(int, project.id), parsed, source)
    except ConcurrentWrite:
        # A concurrent import inserted some of these run IDs between our read and our insert. This transaction
        # holds only this import, so roll it back and apply the table again: the second pass finds those runs
        # and updates them. A second collision surfaces as 409, never as a 500 or a duplicate.
        logger.info("runs.import.retry", extra={"project_id": project.id})
        session.rollback()
        return _apply(session, cast(int, project.id), parsed, source)


def _apply(session: Session, project_id: int, parsed: ParsedTable, source: str) -> RunImportResult:
    existing = run_store.get_runs_by_keys(session, project_id=project_id, keys=_candidate_keys(parsed.rows))
    new_runs: list[dict[str, Any]] = []
    rows = [_upsert(project_id, row, existing, source, new_runs) for row in parsed.rows]
    _same_columns(new_runs, {name for row in parsed.rows for name in row.fields})
    run_store.save_runs(session, new_runs)
    return _result(parsed, rows)


def _candidate_keys(rows: Sequence[ParsedRow]) -> list[str]:
    keys = [row.key for row in rows]
    return keys + [f"name:{row.run_name}" for row in rows if row.run_id and row.run_name]


def _upsert(
    project_id: int, row: ParsedRow, existing: dict[str, Run], source: str, new_runs: list[dict[str, Any]]
) -> ImportedRow:
    """Update the stored run in place (the session tracks it) or queue a new one."""
    key = row.key
    # A run first pasted by name only is re-keyed to its ID when a later table gives both.
    run = existing.get(key) or (existing.get(f"name:{row.run_name}") if row.run_id else None)
    warnings = [ImportWarning(line=w.line, column=w.column, message=w.message) for w in row.warnings]
    if run is None:
        new_runs.append(_new_run(project_id, key, row, source))
        return ImportedRow(line=row.line, key=key, action="created", warnings=warnings)
    changed = _merge(run, key, row)
    if changed:
        run.updated_at = utcnow()
    return ImportedRow(line=row.line, key=key, action="updated" if changed else "unchanged", warnings=warnings)


def _new_run(project_id: int, key: str, row: ParsedRow, source: str) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "key": key,
        "run_id": row.run_id,
        "run_name": row.run_name,
        "source": source,
        "params": dict(row.params),
        "metrics": dict(row.metrics),
        "tags": dict(row.tags),
        "notes": row.notes,
        **row.fields,
    }


def _same_columns(new_runs: list[dict[str, Any]], used: set[str]) -> None:
    """Every row of one executemany must name the same columns: a run attribute (`used`: those the table's rows
    record) that a row does not record is None there, the model's default."""
    if not used:
        return
    for run in new_runs:
        for name in used:
            run.setdefault(name, None)


def _merge(run: Run, key: str, row: ParsedRow) -> bool:
    """New values win; values the table does not mention are kept. Returns whether anything changed.

    Only changed attributes are assigned: an assignment marks the row dirty, and an unchanged re-import of a
    large table would otherwise rewrite every row.
    """
    merged: dict[str, Any] = {
        "key": key,
        "run_id": row.run_id or run.run_id,
        "run_name": row.run_name or run.run_name,
        "params": {**run.params, **row.params},
        "metrics": {**run.metrics, **row.metrics},
        "tags": {**run.tags, **row.tags},
        "notes": row.notes or run.notes,
        # Run attributes: the table's value wins; one it does not record (absent from `fields`) is kept.
        **row.fields,
    }
    changes = {name: value for name, value in merged.items() if getattr(run, name) != value}
    for name, value in changes.items():
        setattr(run, name, value)
    return bool(changes)


def _result(parsed: ParsedTable, rows: list[ImportedRow]) -> RunImportResult:
    actions = [r.action for r in rows]
    return RunImportResult(
        format=parsed.format,
        created=actions.count("created"),
        updated=actions.count("updated"),
        unchanged=actions.count("unchanged"),
        columns=[ImportedColumn(header=c.header, role=c.role, name=c.name) for c in parsed.columns],
        rows=rows,
        warnings=[w for r in rows for w in r.warnings],
    )


def get_run(session: Session, *, project: Project, key: str) -> RunPublic:
    run = run_store.get_run_by_key(session, project_id=cast(int, project.id), key=key)
    if run is None:
        raise RunNotFound(f"no run '{key}' in project '{project.slug}'", field="run_id")
    return RunPublic.model_validate(run)


def list_runs(
    session: Session,
    *,
    project: Project,
    limit: int,
    cursor: str | None,
    metric: Sequence[str] = (),
    param: Sequence[str] = (),
    tag: Sequence[str] = (),
) -> Page[RunPublic]:
    runs = run_store.list_runs(
        session,
        project_id=cast(int, project.id),
        after_id=decode_cursor(cursor),
        limit=limit,
        metrics=[parse_metric_filter(f, aliases=project.metric_aliases) for f in metric],
        params=[parse_text_filter(f, field="param") for f in param],
        tags=[parse_text_filter(f, field="tag") for f in tag],
    )
    return Page[RunPublic](
        items=[RunPublic.model_validate(r) for r in runs],
        next_cursor=next_cursor([r.id or 0 for r in runs], limit),
    )


def parse_metric_filter(text: str, *, aliases: dict[str, str]) -> MetricFilter:
    """`val_auc>=0.85`, `Val AUC < .9`, or a bare name (the run has that metric)."""
    match = _METRIC_FILTER.match(text)
    if match is None or not normalize_metric_name(match["name"]):
        raise FilterInvalid(f"cannot read metric filter '{text}'; write it as name>=0.85", field="metric")
    name = normalize_metric_name(match["name"])
    name = aliases.get(name, name)
    if match["op"] is None:
        return MetricFilter(name=name, op=None)
    try:
        value = float(match["value"])
    except ValueError as exc:
        raise FilterInvalid(f"metric filter '{text}': '{match['value']}' is not a number", field="metric") from exc
    op = cast(Op, "=" if match["op"] == "==" else match["op"])
    return MetricFilter(name=name, op=op, value=value)


def parse_text_filter(text: str, *, field: str) -> TextFilter:
    """`model=lightgbm` matches the value exactly; a bare `model` matches runs that have the key."""
    name, sep, value = text.partition("=")
    if not name.strip():
        raise FilterInvalid(f"cannot read {field} filter '{text}'; write it as key=value", field=field)
    return TextFilter(name=name.strip(), value=value.strip() if sep else None)
