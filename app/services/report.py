"""The project report (`GET /v1/projects/{slug}/report`): the whole narrative as one Markdown document, for an audit.
The rows are read here; `app.compose.report` writes them."""

from __future__ import annotations

from collections import defaultdict
from typing import cast

from sqlmodel import Session

from app.compose.report import (
    ReportEntry,
    ReportLog,
    ReportMark,
    ReportProject,
    ReportRedaction,
    ReportVersion,
    render_report,
)
from app.services import analysis as analysis_service
from app.storage import analysis as analysis_store
from app.storage import backup as backup_store
from app.storage import declarations as declaration_store
from app.storage import entries as entry_store
from app.storage import logs as log_store
from app.storage import runs as run_store
from app.storage.models import Entry, Project, SessionLog
from app.storage.types import utcnow


def project_report(session: Session, *, project: Project) -> str:
    project_id = cast(int, project.id)
    backup_store.hold_snapshot(session, project_id=project_id)
    findings = analysis_service.project_findings(session, project=project)
    by_log: dict[int, list[ReportEntry]] = defaultdict(list)
    documents: list[ReportEntry] = []
    for row, versions in _entries_with_versions(session, project_id):  # a dump's entries go with its session
        (by_log[row.log_id] if row.log_id is not None else documents).append(_entry(row, versions))
    return render_report(
        _project(session, project),
        findings_markdown=analysis_service.findings_markdown(session, project=project, findings=findings),
        marks=_marks(session, project_id),
        logs=[_log(log, redactions, by_log[cast(int, log.id)]) for log, redactions in _logs(session, project_id)],
        documents=documents,
        now=utcnow(),
    )


def _project(session: Session, project: Project) -> ReportProject:
    return ReportProject(
        slug=project.slug,
        name=project.name,
        goal=project.goal,
        primary_metric=project.primary_metric,
        direction=project.metric_direction,
        target_value=project.target_value,
        deadline=project.deadline,
        experiments=list(project.mlflow_experiments),
        created_at=project.created_at,
        runs=len(run_store.label_rows(session, project_id=cast(int, project.id))),
    )


def _marks(session: Session, project_id: int) -> list[ReportMark]:
    marks = [
        ReportMark(approach=m.name, status=m.status, reason=m.reason, by=m.marked_by, at=m.marked_at)
        for m in analysis_store.approach_marks(session, project_id=project_id)
    ]
    proposed = [
        ReportMark(approach=p.name, status=p.status, reason=p.reason, by=f"log {p.log_id} (proposed)", at=p.proposed_at)
        for p in declaration_store.mark_proposals(session, project_id=project_id)
    ]
    return sorted([*marks, *proposed], key=lambda m: m.at)


def _entries_with_versions(session: Session, project_id: int) -> list[tuple[Entry, list[ReportVersion]]]:
    rows = analysis_store.entries_of_kind(session, project_id=project_id)
    versions: dict[int, list[ReportVersion]] = defaultdict(list)
    for v in entry_store.versions_of(session, entry_ids=[cast(int, e.id) for e in rows]):
        versions[v.entry_id].append(
            ReportVersion(version=v.version, by=v.edited_by, provider=v.provider, reason=v.reason, at=v.created_at)
        )
    return [(e, versions[cast(int, e.id)]) for e in rows]


def _entry(e: Entry, versions: list[ReportVersion]) -> ReportEntry:
    return ReportEntry(
        id=cast(int, e.id),
        kind=e.kind,
        version=e.version,
        created_at=e.created_at,
        markdown=e.markdown,
        versions=versions,
    )


def _logs(session: Session, project_id: int) -> list[tuple[SessionLog, list[ReportRedaction]]]:
    redactions: dict[int, list[ReportRedaction]] = defaultdict(list)
    for r in log_store.redactions_of(session, project_id=project_id):
        redactions[r.log_id].append(
            ReportRedaction(
                field=r.field,
                occurrences=r.occurrences,
                removed_sha256=r.removed_sha256,
                reason=r.reason,
                by=r.redacted_by,
                at=r.redacted_at,
            )
        )
    logs = log_store.list_logs(session, project_id=project_id, after_id=0, limit=2**31 - 1)
    logs.sort(key=lambda log: (log.session_date, cast(int, log.id)))
    return [(log, redactions[cast(int, log.id)]) for log in logs]


def _log(log: SessionLog, redactions: list[ReportRedaction], entries: list[ReportEntry]) -> ReportLog:
    return ReportLog(
        id=cast(int, log.id),
        session_date=log.session_date,
        author=log.author,
        channel=log.channel,
        received_at=log.received_at,
        received_sha256=log.received_sha256,
        text=log.text,
        run_table=log.run_table,
        run_table_format=log.run_table_format,
        redactions=redactions,
        entries=entries,
    )
