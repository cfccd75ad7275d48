"""Run queries. Filters on params, metrics and tags run in SQL through JSON paths that SQLite and PostgreSQL share."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from app.storage.models import Run

Op = Literal["=", "!=", ">", ">=", "<", "<="]


@dataclass(frozen=True)
class MetricFilter:
    name: str
    op: Op | None  # None: the run has this metric
    value: float | None = None


@dataclass(frozen=True)
class TextFilter:
    name: str
    value: str | None  # None: the run has this key


def get_runs_by_keys(session: Session, *, project_id: int, keys: Collection[str]) -> dict[str, Run]:
    if not keys:
        return {}
    query = select(Run).where(Run.project_id == project_id, col(Run.key).in_(list(keys)))
    return {run.key: run for run in session.exec(query)}


def get_run_by_key(session: Session, *, project_id: int, key: str) -> Run | None:
    return session.exec(select(Run).where(Run.project_id == project_id, Run.key == key)).first()


def list_runs(
    session: Session,
    *,
    project_id: int,
    after_id: int,
    limit: int,
    metrics: Sequence[MetricFilter] = (),
    params: Sequence[TextFilter] = (),
    tags: Sequence[TextFilter] = (),
) -> list[Run]:
    query = select(Run).where(Run.project_id == project_id, col(Run.id) > after_id)
    for condition in _conditions(metrics, params, tags):
        query = query.where(condition)
    return list(session.exec(query.order_by(col(Run.id)).limit(limit)))


def add_run(session: Session, run: Run) -> Run:
    session.add(run)
    session.flush()
    return run


def _conditions(
    metrics: Sequence[MetricFilter], params: Sequence[TextFilter], tags: Sequence[TextFilter]
) -> list[ColumnElement[bool]]:
    conditions = [_metric_condition(f) for f in metrics]
    conditions += [_text_condition(col(Run.params), f) for f in params]
    conditions += [_text_condition(col(Run.tags), f) for f in tags]
    return conditions


def _metric_condition(f: MetricFilter) -> ColumnElement[bool]:
    value: Any = col(Run.metrics)[f.name].as_float()
    if f.op is None:
        return value.is_not(None)  # type: ignore[no-any-return]
    comparisons = {
        "=": value == f.value,
        "!=": value != f.value,
        ">": value > f.value,
        ">=": value >= f.value,
        "<": value < f.value,
        "<=": value <= f.value,
    }
    return comparisons[f.op]  # type: ignore[no-any-return]


def _text_condition(column: Any, f: TextFilter) -> ColumnElement[bool]:
    value = column[f.name].as_string()
    if f.value is None:
        return value.is_not(None)  # type: ignore[no-any-return]
    return value == f.value  # type: ignore[no-any-return]
