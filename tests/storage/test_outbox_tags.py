"""Queueing labbook.* run tags and a decision's model-version tags on a real database (no MLflow: nothing is
delivered here; tests/integrations/test_tags_writeback.py delivers to a real server)."""

from __future__ import annotations

from dataclasses import replace
from typing import cast

from sqlalchemy import Engine, insert
from sqlmodel import Session, select

from app.analysis.model import Approach, Duplicate, Findings, Noise
from app.config import Settings
from app.services import outbox as outbox_service
from app.storage import outbox as outbox_store
from app.storage.models import Entry, OutboxItem, Project, Run
from app.storage.outbox import session_factory
from app.storage.types import utcnow


def project(session: Session, *, writeback: bool = True) -> Project:
    found = Project(slug="tags", name="Tags", primary_metric="val_auc", metric_direction="max", writeback=writeback)
    session.add(found)
    session.flush()
    return found


def add_runs(session: Session, project_id: int, n: int, *, source: str = "mlflow") -> list[str]:
    """`n` runs as one executemany INSERT (building 10k ORM objects would take longer than the code under test)."""
    keys = [f"{i:032x}" for i in range(n)]
    now = utcnow()
    empty = {"params": {}, "metrics": {}, "tags": {}, "datasets": [], "environment": {}, "labbook_tags": {}}
    rows = [
        {"project_id": project_id, "key": k, "run_id": k, "source": source, "baseline": False, **empty}
        | {"created_at": now, "updated_at": now}
        for k in keys
    ]
    session.execute(insert(Run.__table__), rows)  # type: ignore[attr-defined]
    return keys


def findings(keys: list[str], **overrides: object) -> Findings:
    base = Findings(
        metric="val_auc",
        direction="max",
        metric_switches=(),
        baseline=keys[0],
        baseline_value=None,
        best=None,
        best_value=None,
        noise=Noise(source="min_effect", std=None, min_gain=0.005),
        changes={},
        approaches=(Approach("rf", "inferred", tuple(keys), "active", "active", ""),),
        duplicates=(),
        repro_gaps=(),
        stalled=False,
        findings=(),
        run_order=tuple(keys),
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def queued(session: Session) -> list[OutboxItem]:
    return list(session.exec(select(OutboxItem).order_by(OutboxItem.id)))  # type: ignore[arg-type]


class TestQueueLabbookTags:
    def test_one_item_per_changed_run_with_what_to_set_and_delete(self, session: Session) -> None:
        p = project(session)
        keys = add_runs(session, cast(int, p.id), 3)
        assert outbox_service.queue_labbook_tags(session, project=p, findings=findings(keys)) == 3
        first = queued(session)
        assert [(i.kind, i.run_id, i.state, i.entry_id) for i in first] == [
            ("run_tags", k, "pending", None) for k in keys
        ]
        assert first[0].payload == {
            "set": {"labbook.approach": "rf", "labbook.approach_status": "active", "labbook.finding.baseline": "true"},
            "delete": [],
        }
        # Only run 2 changes: it becomes a duplicate, run 0 stops being the baseline.
        later = findings(keys, baseline=None, duplicates=(Duplicate(keys[2], keys[1], None),))
        assert outbox_service.queue_labbook_tags(session, project=p, findings=later) == 2
        new = queued(session)[3:]
        assert [(i.run_id, i.payload) for i in new] == [
            (keys[0], {"set": {}, "delete": ["labbook.finding.baseline"]}),
            (keys[2], {"set": {"labbook.finding.duplicate": f"of {keys[1]}"}, "delete": []}),
        ]
        assert outbox_service.queue_labbook_tags(session, project=p, findings=later) == 0

    def test_the_wanted_tags_are_stored_on_the_runs_even_loaded_ones(self, session: Session, engine: Engine) -> None:
        p = project(session)
        keys = add_runs(session, cast(int, p.id), 2)
        loaded = session.exec(select(Run).where(Run.key == keys[0])).one()
        outbox_service.queue_labbook_tags(session, project=p, findings=findings(keys))
        assert loaded.labbook_tags["labbook.finding.baseline"] == "true"  # the session's copy agrees
        session.commit()
        with Session(engine) as other:
            run = other.exec(select(Run).where(Run.key == keys[1])).one()
            assert run.labbook_tags == {"labbook.approach": "rf", "labbook.approach_status": "active"}

    def test_the_callers_transaction_decides(self, session: Session, engine: Engine) -> None:
        p = project(session)
        keys = add_runs(session, cast(int, p.id), 2)
        session.commit()
        outbox_service.queue_labbook_tags(session, project=p, findings=findings(keys))
        session.rollback()
        with Session(engine) as other:
            assert list(other.exec(select(OutboxItem))) == []
            assert {r.key: r.labbook_tags for r in other.exec(select(Run))} == dict.fromkeys(keys, {})

    def test_writeback_off_and_table_runs_queue_nothing(self, session: Session) -> None:
        off = project(session, writeback=False)
        keys = add_runs(session, cast(int, off.id), 2)
        assert outbox_service.queue_labbook_tags(session, project=off, findings=findings(keys)) == 0
        session.add(Project(slug="tbl", name="T", primary_metric="m", metric_direction="max"))
        session.flush()
        table = session.exec(select(Project).where(Project.slug == "tbl")).one()
        table_keys = [f"name:run-{i}" for i in range(2)]
        session.add_all(Run(project_id=table.id, key=k, source="table") for k in table_keys)
        session.flush()
        assert outbox_service.queue_labbook_tags(session, project=table, findings=findings(table_keys)) == 0
        assert queued(session) == []

    def test_10k_runs_queue_in_bulk(self, session: Session) -> None:
        p = project(session)
        keys = add_runs(session, cast(int, p.id), 10_000)
        session.commit()
        assert outbox_service.queue_labbook_tags(session, project=p, findings=findings(keys)) == 10_000
        session.commit()
        # Only changes are queued: the same findings again queue nothing.
        assert outbox_service.queue_labbook_tags(session, project=p, findings=findings(keys)) == 0


class TestQueueDecisionModelTags:
    def test_one_item_for_the_selected_mlflow_run_only(self, session: Session) -> None:
        p = project(session)
        (key,) = add_runs(session, cast(int, p.id), 1)
        session.add(Run(project_id=p.id, key="name:pasted", source="table"))
        entry = Entry(
            project_id=cast(int, p.id),
            kind="selection_decision",
            markdown="",
            provider="offline",
            template="selection_decision",
            template_version="1",
            schema_version="1",
        )
        session.add(entry)
        session.flush()
        assert outbox_service.queue_decision_model_tags(session, project=p, entry=entry, run_key=key) == 1
        assert outbox_service.queue_decision_model_tags(session, project=p, entry=entry, run_key="name:pasted") == 0
        assert outbox_service.queue_decision_model_tags(session, project=p, entry=entry, run_key="missing") == 0
        (item,) = queued(session)
        assert (item.kind, item.run_id, item.entry_id) == ("model_version_tags", key, entry.id)
        assert item.payload == {"run_id": key, "tags": {"labbook.decision_id": str(entry.id)}}
        p.writeback = False
        assert outbox_service.queue_decision_model_tags(session, project=p, entry=entry, run_key=key) == 0


def test_an_unknown_kind_is_dead_not_retried(session: Session, engine: Engine, settings: Settings) -> None:
    p = project(session)
    outbox_store.add_item(session, OutboxItem(project_id=cast(int, p.id), kind="carrier_pigeon", run_id="r1"))
    session.commit()
    counts = outbox_service.deliver_due(session_factory(engine), settings)
    assert (counts.dead, counts.retried) == (1, 0)
    (item,) = queued(session)
    assert item.state == "dead" and "carrier_pigeon" in (item.last_error or "")
