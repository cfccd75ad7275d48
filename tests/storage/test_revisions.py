"""Project revisions at the storage layer: every write to what the analysis reads moves the revision at commit,
bulk writes included; a write of nothing the analysis reads (a sync's `synced_at`, an outbox item) does not, and a
rollback moves nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import pytest
from sqlmodel import Session

from app.storage import analysis as analysis_store
from app.storage import outbox as outbox_store
from app.storage import revisions
from app.storage import sync as sync_store
from app.storage.models import OutboxItem, Project, Run
from app.storage.runs import save_runs
from app.storage.types import utcnow


@pytest.fixture
def project(session: Session) -> Project:
    project = Project(slug="churn", name="Churn", primary_metric="val_auc", metric_direction="max")
    session.add(project)
    session.flush()
    save_runs(session, [{"project_id": project.id, "key": "a", "params": {}, "metrics": {"val_auc": 0.8}, "tags": {}}])
    session.commit()
    return project


def run_id(session: Session) -> int:
    run = session.get(Run, 1)
    assert run is not None
    return cast(int, run.id)


def committed(session: Session, project: Project, write: Callable[[], object]) -> bool:
    """Whether committing `write` moved the project's revision."""
    before = revisions.current(session, cast(int, project.id))
    write()
    session.commit()
    return revisions.current(session, cast(int, project.id)) != before


def test_bulk_writes_move_the_revision(session: Session, project: Project) -> None:
    pid = cast(int, project.id)
    new = {"project_id": pid, "key": "b", "params": {}, "metrics": {}, "tags": {}}
    assert committed(session, project, lambda: save_runs(session, [new]))
    assert committed(session, project, lambda: analysis_store.set_baseline(session, project_id=pid, key="a"))
    tags = lambda: outbox_store.save_labbook_tags(  # noqa: E731
        session, project_id=pid, tags_by_id=[(run_id(session), {"labbook.approach": "x"})]
    )
    assert committed(session, project, tags)
    updates = [{"id": run_id(session), "status": "FINISHED"}]
    sync = lambda: sync_store.write_synced_runs(  # noqa: E731
        session, project_id=pid, inserts=[], updates=updates, touched_ids=[], synced_at=utcnow()
    )
    assert committed(session, project, sync)


def test_writes_of_nothing_the_analysis_reads_keep_it(session: Session, project: Project) -> None:
    pid = cast(int, project.id)
    only_seen = lambda: sync_store.write_synced_runs(  # noqa: E731
        session, project_id=pid, inserts=[], updates=[], touched_ids=[run_id(session)], synced_at=utcnow()
    )
    assert not committed(session, project, only_seen)
    item = OutboxItem(project_id=pid, kind="run_note", run_id="a")
    assert not committed(session, project, lambda: outbox_store.add_item(session, item))


def test_a_rollback_moves_nothing_and_forgets_the_write(session: Session, project: Project) -> None:
    pid = cast(int, project.id)
    before = revisions.current(session, pid)
    analysis_store.set_approach_mark(session, project_id=pid, name="smote", status="abandoned", reason="r", by="me")
    assert revisions.written(session, pid)
    session.rollback()
    assert not revisions.written(session, pid)
    session.commit()
    assert revisions.current(session, pid) == before
