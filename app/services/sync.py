"""MLflow sync: read the runs of a project's linked experiments and store them as runs (source `mlflow`).

The first sync of an experiment reads every run; later ones read the runs started since the newest start time seen
(`>=`, so runs that started in the same millisecond are not missed; the ones already stored are skipped) and the
runs that were still open (RUNNING, SCHEDULED). `full=True` reads everything again. A run imported earlier from a
table with the same run ID becomes that MLflow run: MLflow's values win, and what only the table had (its notes,
params MLflow does not know) stays.

Per-run work is kept to dict building and comparison; the database sees a light column query per 900 runs and one
executemany per kind of write, so a sync costs little more than MLflow's own search_runs pagination.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlmodel import Session

from app.errors import ConcurrentWrite, TrackingNotConfigured
from app.integrations.mlflow.mapping import TrackedRun, epoch_ms_to_datetime, merge_environment
from app.integrations.mlflow.runs import PAGE_SIZE, RunReader, TrackedExperiment, redact_uri
from app.services.schemas import SyncedExperiment, SyncResult
from app.services.tracking import tracking_uri_for
from app.storage import sync as sync_store
from app.storage.models import Project, TrackingSync
from app.storage.types import utcnow

logger = logging.getLogger(__name__)

# Runs per search_runs page; tests lower it to exercise pagination.
SYNC_PAGE_SIZE = PAGE_SIZE
_DICT_FIELDS = ("params", "metrics", "tags")


def sync_project(
    session: Session, *, project: Project, full: bool = False, default_tracking_uri: str | None = None
) -> SyncResult:
    """Sync every linked experiment of `project` from its MLflow tracking server, in one transaction."""
    if not project.mlflow_experiments:
        raise TrackingNotConfigured(
            f"project '{project.slug}' links no MLflow experiments; set mlflow_experiments to experiment IDs or names",
            field="mlflow_experiments",
        )
    uri = tracking_uri_for(project, default=default_tracking_uri)
    reader = RunReader(uri, page_size=SYNC_PAGE_SIZE)
    try:
        return _sync(session, project, reader, full)
    except ConcurrentWrite:
        # Another sync (or import) of this project inserted the same runs between our read and our write; this
        # transaction holds only this sync, so roll it back and run it again: the second pass updates those runs.
        logger.info("runs.sync.retry", extra={"project_id": project.id})
        session.rollback()
        return _sync(session, project, reader, full)


def _sync(session: Session, project: Project, reader: RunReader, full: bool) -> SyncResult:
    started = time.perf_counter()
    project_id = cast(int, project.id)
    experiments = list({e.experiment_id: e for e in map(reader.experiment, project.mlflow_experiments)}.values())
    shown_uri = redact_uri(reader.tracking_uri)
    results = [_sync_experiment(session, project_id, reader, experiment, full, shown_uri) for experiment in experiments]
    result = SyncResult(
        tracking_uri=shown_uri,
        full=full,
        experiments=results,
        created=sum(r.created for r in results),
        updated=sum(r.updated for r in results),
        unchanged=sum(r.unchanged for r in results),
        open_runs=sum(r.open_runs for r in results),
        seconds=round(time.perf_counter() - started, 3),
    )
    logger.info(
        "runs.sync",
        # Not `created`: LogRecord has an attribute of that name, and logging refuses to overwrite it.
        extra={
            "project_id": project_id,
            "full": full,
            "runs_created": result.created,
            "runs_updated": result.updated,
            "runs_unchanged": result.unchanged,
            "sync_seconds": result.seconds,
        },
    )
    return result


@dataclass
class _Plan:
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    touched: list[int] = field(default_factory=list)
    newly_seen: int = 0


def _sync_experiment(
    session: Session, project_id: int, reader: RunReader, experiment: TrackedExperiment, full: bool, shown_uri: str
) -> SyncedExperiment:
    state = sync_store.get_sync_state(session, project_id=project_id, experiment_id=experiment.experiment_id)
    incremental = (
        not full and state is not None and state.tracking_uri == shown_uri and state.max_start_time_ms is not None
    )
    if incremental:
        assert state is not None
        open_before = set(state.open_run_ids)
        runs = reader.runs(
            experiment.experiment_id, started_since_ms=state.max_start_time_ms, run_ids=state.open_run_ids
        )
    else:
        open_before = set()
        runs = reader.runs(experiment.experiment_id)
    stored = sync_store.load_runs_for_sync(session, project_id=project_id, keys=[r.run_id for r in runs])
    if incremental:
        # `start_time >= newest seen` returns the runs that started in that millisecond again: skip those already
        # stored by a sync, unless they were open.
        runs = [r for r in runs if r.run_id in open_before or (stored.get(r.run_id) or {}).get("synced_at") is None]
    now = utcnow()
    environments = _model_environments(session, reader, runs, now)
    plan = _plan(project_id, runs, stored, environments, now)
    sync_store.write_synced_runs(
        session,
        project_id=project_id,
        inserts=plan.inserts,
        updates=plan.updates,
        touched_ids=plan.touched,
        synced_at=now,
    )
    open_runs = [r.run_id for r in runs if r.is_open]
    _save_state(session, state, project_id, experiment, shown_uri, runs, open_runs, plan, incremental, now)
    return SyncedExperiment(
        experiment_id=experiment.experiment_id,
        name=experiment.name,
        mode="incremental" if incremental else "full",
        runs_read=len(runs),
        created=len(plan.inserts),
        updated=len(plan.updates),
        unchanged=len(plan.touched),
        open_runs=len(open_runs),
    )


def _model_environments(
    session: Session, reader: RunReader, runs: Sequence[TrackedRun], now: datetime
) -> dict[str, dict[str, Any]]:
    """The parsed environment of every model these runs logged: from the artifact cache, else read once from MLflow
    and cached. Runs without logged models cost nothing here."""
    refs = {ref.cache_uri: ref for run in runs for ref in run.models}
    if not refs:
        return {}
    cached = sync_store.cached_artifacts(session, refs)
    fetched: dict[str, dict[str, Any]] = {}
    for uri, ref in refs.items():
        if uri in cached:
            continue
        environment = reader.model_environment(ref)
        if environment is not None:  # None: the model is still uploading; read it when the run is re-read
            fetched[uri] = environment
    sync_store.cache_artifacts(session, fetched, fetched_at=now)
    return {**cached, **fetched}


def _plan(
    project_id: int,
    runs: Sequence[TrackedRun],
    stored: dict[str, dict[str, Any]],
    environments: dict[str, dict[str, Any]],
    now: datetime,
) -> _Plan:
    plan = _Plan()
    for run in runs:
        row = sync_store.fit_columns(_row(run, environments))
        existing = stored.get(run.run_id)
        if existing is None:
            plan.inserts.append({"project_id": project_id, "key": run.run_id, "synced_at": now, **row})
            plan.newly_seen += 1
            continue
        if existing["synced_at"] is None:
            plan.newly_seen += 1
        merged = _merge(existing, row)
        if merged == {name: existing[name] for name in merged}:
            plan.touched.append(existing["id"])
        else:
            plan.updates.append({"id": existing["id"], "updated_at": now, "synced_at": now, **merged})
    return plan


def _row(run: TrackedRun, environments: dict[str, dict[str, Any]]) -> dict[str, Any]:
    start = epoch_ms_to_datetime(run.start_time_ms)
    end = epoch_ms_to_datetime(run.end_time_ms)
    environment = run.environment
    if run.models:
        environment = merge_environment(run.environment, (environments.get(m.cache_uri, {}) for m in run.models))
    both = run.start_time_ms is not None and run.end_time_ms is not None
    return {
        "run_id": run.run_id,
        "run_name": run.run_name,
        "source": "mlflow",
        "params": run.params,
        "metrics": run.metrics,
        "tags": run.tags,
        "experiment_id": run.experiment_id,
        "status": run.status,
        "start_time": start,
        "end_time": end,
        "duration_s": (cast(int, run.end_time_ms) - cast(int, run.start_time_ms)) / 1000 if both else None,
        "parent_run_id": run.parent_run_id,
        "git_commit": run.git_commit,
        "source_name": run.source_name,
        "source_type": run.source_type,
        "owner": run.owner,
        "data_version": run.data_version,
        "datasets": run.datasets,
        "seed": run.seed,
        "environment": environment,
        "hardware": run.hardware,
        "split": run.split,
        "artifact_uri": run.artifact_uri,
    }


def _merge(existing: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """MLflow's values win; what only the stored run has (a table's params, a field MLflow does not record) stays.
    Notes are not a sync field, so a table's notes always stay."""
    merged = dict(row)
    for name in _DICT_FIELDS:
        if existing[name]:
            merged[name] = {**existing[name], **row[name]}
    for name, value in row.items():
        if name not in _DICT_FIELDS and (value is None or value == [] or value == {}) and existing[name]:
            merged[name] = existing[name]
    return merged


def _save_state(
    session: Session,
    state: TrackingSync | None,
    project_id: int,
    experiment: TrackedExperiment,
    shown_uri: str,
    runs: Sequence[TrackedRun],
    open_runs: list[str],
    plan: _Plan,
    incremental: bool,
    now: datetime,
) -> None:
    if state is None:
        state = TrackingSync(project_id=project_id, experiment_id=experiment.experiment_id)
    starts = [r.start_time_ms for r in runs if r.start_time_ms is not None]
    newest = max(starts, default=None)
    if incremental and state.max_start_time_ms is not None:
        newest = max(state.max_start_time_ms, newest or 0)
    state.experiment_name = experiment.name[:500]
    state.tracking_uri = shown_uri[:1000]
    state.max_start_time_ms = newest
    state.open_run_ids = open_runs
    state.runs_seen = (state.runs_seen + plan.newly_seen) if incremental else len(runs)
    state.last_sync_at = now
    if not incremental:
        state.last_full_sync_at = now
    sync_store.save_sync_state(session, state)
