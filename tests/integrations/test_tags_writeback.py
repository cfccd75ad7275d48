"""labbook.* run tags and a decision's model-version tags, written back to a real MLflow server through the outbox:
runs created with MlflowClient and synced as the app syncs them, findings built by hand (the analysis has its own
tests), tags read back with MlflowClient. Never a mock."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.analysis.model import Approach, Duplicate, Findings, Noise, ReproGap
from app.compose.writeback.note import ENTRY_IDS_KEY
from app.config import Settings
from app.errors import TrackingRunNotFound
from app.integrations.mlflow import writeback
from app.services import outbox as outbox_service
from app.services import outbox_status
from app.services import sync as sync_service
from app.services.auth import Principal
from app.storage.models import Entry, OutboxItem, Project, Run
from app.storage.outbox import session_factory
from tests.factories import create_project
from tests.integrations.test_mlflow_sync import log_run, make_project, new_experiment
from tests.integrations.test_writeback import app_engine, register_runs
from tests.mlflow_server import MlflowServer

PUBLIC_URL = "https://labbook.tags.test"


@pytest.fixture
def tag_settings(settings: Settings) -> Settings:
    update = {"public_url": PUBLIC_URL, "outbox_backoff_base_seconds": 0.05, "outbox_backoff_max_seconds": 0.2}
    return settings.model_copy(update=update)


def synced(session: Session, server: MlflowServer, n: int, **project_fields: object) -> tuple[Project, list[str]]:
    """A project linked to a fresh experiment holding `n` finished runs, synced; the run IDs in start order."""
    client, experiment_id, _ = new_experiment(server)
    start = int(time.time() * 1000) - 3_600_000
    run_ids = [
        log_run(client, experiment_id, params={"C": str(i)}, metrics={"val_auc": 0.8 + i / 100}, start_time=start + i)
        for i in range(n)
    ]
    project = make_project(session, experiment_id, tracking_uri=server.url)
    for name, value in project_fields.items():
        setattr(project, name, value)
    sync_service.sync_project(session, project=project)
    session.commit()
    return project, run_ids


def findings_for(run_ids: list[str], **overrides: object) -> Findings:
    base = Findings(
        metric="val_auc",
        direction="max",
        metric_switches=(),
        baseline=run_ids[0],
        baseline_value=0.8,
        best=run_ids[-1],
        best_value=0.8 + (len(run_ids) - 1) / 100,
        noise=Noise(source="min_effect", std=None, min_gain=0.005),
        changes={},
        approaches=(Approach("logreg", "tag", tuple(run_ids), "converging", "converging", "rising"),),
        duplicates=(),
        repro_gaps=(ReproGap(run_ids[1], ("git_commit", "seed")),),
        stalled=False,
        findings=(),
        run_order=tuple(run_ids),
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def mlflow_tags(server: MlflowServer, run_id: str) -> dict[str, str]:
    tags = MlflowClient(tracking_uri=server.url).get_run(run_id).data.tags
    return {k: v for k, v in tags.items() if k.startswith("labbook.")}


def items(engine: Engine, kind: str | None = None) -> list[OutboxItem]:
    with Session(engine) as session:
        found = session.exec(select(OutboxItem).order_by(OutboxItem.id))  # type: ignore[arg-type]
        return [i for i in found if kind is None or i.kind == kind]


def stored_tags(engine: Engine, project: Project) -> dict[str, dict[str, str]]:
    with Session(engine) as session:
        return {r.key: r.labbook_tags for r in session.exec(select(Run).where(Run.project_id == project.id))}


class TestRunTags:
    def test_queued_tags_are_delivered_and_unchanged_findings_queue_nothing(
        self, session: Session, engine: Engine, tag_settings: Settings, mlflow_server: MlflowServer
    ) -> None:
        project, runs = synced(session, mlflow_server, 3)
        found = findings_for(runs)
        assert outbox_service.queue_labbook_tags(session, project=project, findings=found) == 3
        session.commit()
        assert stored_tags(engine, project)[runs[1]]["labbook.finding.repro_gap"] == "missing git_commit, seed"
        counts = outbox_service.drain(session_factory(engine), tag_settings)
        assert (counts.delivered, counts.retried, counts.dead, counts.writes) == (3, 0, 0, 3)
        assert mlflow_tags(mlflow_server, runs[0]) == {
            "labbook.approach": "logreg",
            "labbook.approach_status": "converging",
            "labbook.finding.baseline": "true",
        }
        assert mlflow_tags(mlflow_server, runs[1])["labbook.finding.repro_gap"] == "missing git_commit, seed"
        assert mlflow_tags(mlflow_server, runs[2])["labbook.finding.current_best"] == "val_auc=0.82"
        # The same findings again: nothing changed, nothing queued.
        assert outbox_service.queue_labbook_tags(session, project=project, findings=found) == 0
        sessions = session_factory(engine)
        for run_id in runs:  # and a forced redelivery writes nothing
            assert outbox_service.write_labbook_tags(sessions, tag_settings, project_id=project.id, run_id=run_id) == 0

    def test_a_finding_that_no_longer_holds_is_deleted_and_human_tags_stay(
        self, session: Session, engine: Engine, tag_settings: Settings, mlflow_server: MlflowServer
    ) -> None:
        project, runs = synced(session, mlflow_server, 3)
        MlflowClient(tracking_uri=mlflow_server.url).set_tag(runs[2], "labbook.reviewed_by", "maya")  # not ours
        outbox_service.queue_labbook_tags(session, project=project, findings=findings_for(runs))
        session.commit()
        outbox_service.drain(session_factory(engine), tag_settings)
        # A later analysis: run 2 is a duplicate of run 0 now, run 1's gap is closed, a new best.
        later = findings_for(
            runs, best=runs[0], best_value=0.8, repro_gaps=(), duplicates=(Duplicate(runs[2], runs[0], 3.0),)
        )
        assert outbox_service.queue_labbook_tags(session, project=project, findings=later) == 3
        session.commit()
        (second_item,) = [i for i in items(engine, "run_tags")[3:] if i.run_id == runs[1]]
        assert second_item.payload == {"set": {}, "delete": ["labbook.finding.repro_gap"]}
        assert outbox_service.drain(session_factory(engine), tag_settings).delivered == 3
        assert "labbook.finding.repro_gap" not in mlflow_tags(mlflow_server, runs[1])
        assert mlflow_tags(mlflow_server, runs[2]) == {
            "labbook.approach": "logreg",
            "labbook.approach_status": "converging",
            "labbook.finding.duplicate": f"of {runs[0]}",
            "labbook.reviewed_by": "maya",
        }
        assert mlflow_tags(mlflow_server, runs[0])["labbook.finding.current_best"] == "val_auc=0.8"
        for run_id, wanted in stored_tags(engine, project).items():
            human = {"labbook.reviewed_by": "maya"} if run_id == runs[2] else {}
            assert mlflow_tags(mlflow_server, run_id) == wanted | human

    def test_several_pending_items_of_a_run_end_in_the_latest_state(
        self, session: Session, engine: Engine, tag_settings: Settings, mlflow_server: MlflowServer
    ) -> None:
        project, runs = synced(session, mlflow_server, 2)
        states = [
            findings_for(runs),
            findings_for(runs, approaches=(), baseline=None),  # everything but the best and the gap goes
            findings_for(runs, approaches=(Approach("trees", "override", tuple(runs), "active", "active", ""),)),
        ]
        for state in states:
            outbox_service.queue_labbook_tags(session, project=project, findings=state)
        session.commit()
        assert len(items(engine, "run_tags")) == 6
        counts = outbox_service.drain(session_factory(engine), tag_settings)
        assert (counts.delivered, counts.writes) == (6, 2)  # one write per run, whatever the number of items
        for run_id, wanted in stored_tags(engine, project).items():
            assert mlflow_tags(mlflow_server, run_id) == wanted
        assert mlflow_tags(mlflow_server, runs[0]) == {
            "labbook.approach": "trees",
            "labbook.approach_status": "active",
            "labbook.finding.baseline": "true",
        }

    def test_writeback_off_and_table_runs_queue_nothing(
        self, session: Session, engine: Engine, mlflow_server: MlflowServer
    ) -> None:
        off, runs = synced(session, mlflow_server, 2, writeback=False)
        assert outbox_service.queue_labbook_tags(session, project=off, findings=findings_for(runs)) == 0
        table = make_project(session, tracking_uri=mlflow_server.url)
        session.add(Run(project_id=table.id, key="name:a", run_name="a", source="table"))
        session.commit()
        assert outbox_service.queue_labbook_tags(session, project=table, findings=findings_for(["name:a", "b"])) == 0
        session.commit()
        assert items(engine) == []
        assert stored_tags(engine, table) == {"name:a": {}}

    def test_a_deleted_run_makes_the_item_dead(
        self, session: Session, engine: Engine, tag_settings: Settings, mlflow_server: MlflowServer
    ) -> None:
        project, runs = synced(session, mlflow_server, 2)
        outbox_service.queue_labbook_tags(session, project=project, findings=findings_for(runs))
        session.commit()
        MlflowClient(tracking_uri=mlflow_server.url).delete_run(runs[0])
        counts = outbox_service.drain(session_factory(engine), tag_settings)
        assert (counts.delivered, counts.dead) == (1, 1)
        (dead,) = [i for i in items(engine) if i.state == "dead"]
        assert dead.run_id == runs[0] and dead.last_error and "deleted" in dead.last_error


class TestAdapter:
    def test_update_sets_deletes_and_tolerates_a_tag_already_gone(self, mlflow_server: MlflowServer) -> None:
        client, experiment_id, _ = new_experiment(mlflow_server)
        run_id = log_run(client, experiment_id, tags={"labbook.finding.stall": "x", "keep": "me"})
        writeback.update_run_tags(mlflow_server.url, run_id, {"labbook.approach": "a"}, ["labbook.finding.stall"])
        assert mlflow_tags(mlflow_server, run_id) == {"labbook.approach": "a"}
        writeback.update_run_tags(mlflow_server.url, run_id, {}, ["labbook.finding.stall", "never.there"])
        assert client.get_run(run_id).data.tags["keep"] == "me"
        with pytest.raises(TrackingRunNotFound):
            writeback.update_run_tags(mlflow_server.url, uuid.uuid4().hex, {}, ["labbook.finding.stall"])

    def test_finds_and_tags_the_model_versions_of_a_run(self, mlflow_server: MlflowServer) -> None:
        client, experiment_id, _ = new_experiment(mlflow_server)
        run_id, other = log_run(client, experiment_id), log_run(client, experiment_id)
        name = f"model-{uuid.uuid4().hex[:8]}"
        client.create_registered_model(name)
        for source_run in (run_id, other, run_id):
            client.create_model_version(name, source=f"runs:/{source_run}/model", run_id=source_run)
        versions = writeback.run_model_versions(mlflow_server.url, run_id)
        assert versions == [writeback.ModelVersionRef(name, "1"), writeback.ModelVersionRef(name, "3")]
        writeback.set_model_version_tags(mlflow_server.url, versions[1], {"labbook.decision_id": "7"})
        assert client.get_model_version(name, "3").tags == {"labbook.decision_id": "7"}
        assert writeback.run_model_versions(mlflow_server.url, uuid.uuid4().hex) == []


def decision_entry(session: Session, project: Project, run_id: str) -> Entry:
    entry = Entry(
        project_id=cast(int, project.id),
        kind="selection_decision",
        markdown="# Decision",
        run_ids=[run_id],
        provider="offline",
        template="selection_decision",
        template_version="1",
        schema_version="1",
    )
    session.add(entry)
    session.flush()
    return entry


class TestDecisionModelTags:
    def test_every_version_of_the_selected_run_links_to_the_decision(
        self, session: Session, engine: Engine, tag_settings: Settings, mlflow_server: MlflowServer
    ) -> None:
        project, runs = synced(session, mlflow_server, 2)
        client = MlflowClient(tracking_uri=mlflow_server.url)
        name = f"classifier-{uuid.uuid4().hex[:8]}"
        client.create_registered_model(name)
        client.create_model_version(name, source=f"runs:/{runs[1]}/model", run_id=runs[1])
        entry = decision_entry(session, project, runs[1])
        assert outbox_service.queue_decision_model_tags(session, project=project, entry=entry, run_key=runs[1]) == 1
        assert outbox_service.queue_decision_model_tags(session, project=project, entry=entry, run_key="nope") == 0
        session.commit()
        counts = outbox_service.drain(session_factory(engine), tag_settings)
        assert (counts.delivered, counts.dead) == (1, 0)
        assert client.get_model_version(name, "1").tags == {
            "labbook.decision_id": str(entry.id),
            "labbook.decision_url": f"{PUBLIC_URL}/v1/entries/{entry.id}",
        }
        page = outbox_status.list_outbox(
            session,
            principal=Principal("admin"),
            state=None,
            project_slug=None,
            entry_id=entry.id,
            limit=10,
            cursor=None,
        )
        (listed,) = page.items
        assert listed.kind == "model_version_tags" and listed.state == "delivered"
        assert listed.outcome == f"tagged {name} v1"

    def test_a_run_without_a_registered_version_is_delivered_with_that_outcome(
        self, session: Session, engine: Engine, tag_settings: Settings, mlflow_server: MlflowServer
    ) -> None:
        project, runs = synced(session, mlflow_server, 1)
        entry = decision_entry(session, project, runs[0])
        outbox_service.queue_decision_model_tags(session, project=project, entry=entry, run_key=runs[0])
        session.commit()
        assert outbox_service.drain(session_factory(engine), tag_settings).delivered == 1
        (item,) = items(engine)
        assert item.state == "delivered" and item.payload["outcome"].startswith("no registered model version")
        # The entry's own write-back status lists run notes only: this item is not one.
        assert outbox_status.entry_writeback(session, [cast(int, entry.id)]) == {}


# -- an outage ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[MlflowServer]:
    server = MlflowServer(root=tmp_path / "mlflow-tags-outage").start()
    yield server
    server.stop()


def test_an_outage_keeps_tag_items_pending_then_delivers_them(
    session: Session, engine: Engine, tag_settings: Settings, own_server: MlflowServer
) -> None:
    project, runs = synced(session, own_server, 2)
    client = MlflowClient(tracking_uri=own_server.url)
    name = f"classifier-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    client.create_model_version(name, source=f"runs:/{runs[0]}/model", run_id=runs[0])
    outbox_service.queue_labbook_tags(session, project=project, findings=findings_for(runs))
    entry = decision_entry(session, project, runs[0])
    outbox_service.queue_decision_model_tags(session, project=project, entry=entry, run_key=runs[0])
    session.commit()
    own_server.stop()

    sessions = session_factory(engine)
    for _ in range(2):
        counts = outbox_service.deliver_due(sessions, tag_settings)
        assert (counts.retried, counts.delivered, counts.dead) == (3, 0, 0)
        time.sleep(0.25)
    assert all(
        i.state == "pending" and i.attempts == 2 and "did not answer" in (i.last_error or "") for i in items(engine)
    )

    own_server.start()
    counts = outbox_service.drain(sessions, tag_settings)
    assert (counts.delivered, counts.retried, counts.dead) == (3, 0, 0)
    for run_id, wanted in stored_tags(engine, project).items():
        assert mlflow_tags(own_server, run_id) == wanted
    assert MlflowClient(tracking_uri=own_server.url).get_model_version(name, "1").tags["labbook.decision_id"] == str(
        entry.id
    )
    assert ENTRY_IDS_KEY not in MlflowClient(tracking_uri=own_server.url).get_run(runs[0]).data.tags


class TestOutboxApi:
    def test_lists_the_new_kinds_with_their_outcome(self, client: TestClient, mlflow_server: MlflowServer) -> None:
        create_project(client, "api-tags", tracking_uri=mlflow_server.url)
        runs = [uuid.uuid4().hex for _ in range(2)]
        register_runs(app_engine(client), "api-tags", runs)
        with Session(app_engine(client)) as session:
            project = session.exec(select(Project).where(Project.slug == "api-tags")).one()
            assert outbox_service.queue_labbook_tags(session, project=project, findings=findings_for(runs)) == 2
            session.commit()
        listed = client.get("/v1/outbox", params={"project": "api-tags"}).json()
        assert [(i["kind"], i["run_id"], i["state"], i["outcome"]) for i in listed["items"]] == [
            ("run_tags", run_id, "pending", None) for run_id in runs
        ]
        assert listed["counts"] == {"pending": 2, "delivered": 0, "dead": 0}
