"""Metric switches and the other declarations a brain dump can make.

A switch of the primary metric is recorded as an entry of kind `metric_switch` (when, why, from what, and whether a
dump or the API said so) and updates the project's metric; the analysis then judges the whole history on the metric
in force. A dump may also declare its baseline run, which is marked when the project has none marked yet."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Literal, cast

from sqlmodel import Session

from app.analysis.model import Direction, MetricSwitch
from app.compose.documents import compose_metric_switch
from app.compose.log_entry.declarations import announced_metric_switch, declared_baselines
from app.compose.log_entry.metric_switch import default_direction, split_variant
from app.compose.log_entry.schema import LogEntry
from app.errors import InputInvalid
from app.services import analysis as analysis_service
from app.services import documents as documents_service
from app.services import entries as entries_service
from app.services import outbox as outbox_service
from app.services.schemas import EntryPublic, MetricSwitchCreate
from app.storage import analysis as analysis_store
from app.storage.models import Entry, Project, SessionLog
from app.storage.types import utcnow

logger = logging.getLogger(__name__)

METRIC_SWITCH = "metric_switch"


def record_metric_switch(
    session: Session,
    *,
    project: Project,
    switch: MetricSwitch,
    source: Literal["dump", "api"],
    log_id: int | None,
    public_url: str,
    target_value: float | None = None,
) -> Entry:
    """Store the switch as an entry, make its metric the project's, and queue the tags the new findings imply. The
    project's target was a value of the old metric: it becomes `target_value` (None unless the switch names one)."""
    analysed = documents_service.analysed(session, project=project, public_url=public_url)
    composed = compose_metric_switch(analysed.ctx, switch, source=source, log_id=log_id)
    entry = documents_service.store_composed(
        session, project=project, composed=composed, analysed=analysed, log_id=log_id, queue_tags=False
    )
    project.primary_metric, project.metric_direction = switch.metric, switch.direction
    project.target_value = target_value
    project.updated_at = utcnow()
    session.add(project)
    session.flush()
    findings = analysis_service.project_findings(session, project=project)
    outbox_service.queue_labbook_tags(session, project=project, findings=findings)
    logger.info("metric.switched", extra={"project": project.slug, "metric": switch.metric, "source": source})
    return entry


def recorded_metric(metric: str, known: list[str]) -> str:
    """The stored metric a dump means: "recall" is `val_recall` when the runs record that and no other `*_recall`
    of a validation split. Kept as written when no run records anything like it, or when it stays ambiguous."""
    return split_variant(metric, known) or metric


def create_metric_switch(
    session: Session, *, project: Project, body: MetricSwitchCreate, public_url: str
) -> EntryPublic:
    metric = project.metric_aliases.get(body.metric, body.metric)
    direction = body.direction or default_direction(metric)
    if (metric, direction) == (project.primary_metric, project.metric_direction):
        raise InputInvalid(f"'{metric}' ({direction}) is already the primary metric", field="metric")
    today = datetime.now(UTC).date()
    effective = body.effective_date or today
    if effective > today + timedelta(days=1):  # one day of slack, as for a session date
        raise InputInvalid(f"effective_date {effective} is in the future", field="effective_date")
    switch = _switch(project, metric=metric, direction=direction, effective=effective, reason=body.reason)
    entry = record_metric_switch(
        session,
        project=project,
        switch=switch,
        source="api",
        log_id=None,
        public_url=public_url,
        target_value=body.target_value,
    )
    return entries_service.to_public_with_writeback(session, entry, project=project)


def list_metric_switches(session: Session, *, project: Project) -> list[EntryPublic]:
    entries = analysis_store.entries_of_kind(session, project_id=cast(int, project.id), kinds=[METRIC_SWITCH])
    return [entries_service.to_public(e, project=project) for e in entries]


def _switch(project: Project, *, metric: str, direction: Direction, effective: date, reason: str) -> MetricSwitch:
    return MetricSwitch(
        metric=metric,
        direction=direction,
        effective=effective,
        reason=reason,
        previous_metric=project.primary_metric,
        previous_direction=cast(Direction, project.metric_direction),
    )


def apply_dump_declarations(
    session: Session, *, project: Project, log: SessionLog, entry: EntryPublic | None, public_url: str
) -> None:
    """What the dump declares beyond its log entry: a switch of the primary metric, and its baseline run."""
    known = [project.primary_metric, *analysis_store.metric_names(session, project_id=cast(int, project.id))]
    announced = announced_metric_switch(log.text, known_metrics=known, aliases=project.metric_aliases)
    if announced is not None:  # the composer warned of it (`metric_switch_announced`) on the same reading
        metric = announced.metric
        direction = announced.direction or default_direction(metric)
        if (metric, direction) != (project.primary_metric, project.metric_direction):
            switch = _switch(
                project, metric=metric, direction=direction, effective=log.session_date, reason=announced.reason
            )
            record_metric_switch(
                session, project=project, switch=switch, source="dump", log_id=log.id, public_url=public_url
            )
    if entry is not None:
        _declare_baseline(session, project=project, entry=LogEntry.model_validate(entry.body))


def _declare_baseline(session: Session, *, project: Project, entry: LogEntry) -> None:
    """The baseline the dump names, unless one is marked already (a person's mark is not overridden by a dump)."""
    project_id = cast(int, project.id)
    keys = declared_baselines(entry)
    if keys and not analysis_store.baseline_keys(session, project_id=project_id):
        analysis_store.set_baseline(session, project_id=project_id, key=keys[0])
        logger.info("baseline.declared", extra={"project": project.slug, "run": keys[0]})
