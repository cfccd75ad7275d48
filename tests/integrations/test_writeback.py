"""Write-back to real MLflow servers: the adapter (read tags, one log-batch, errors mapped to ours) and the
service that renders a run's Labbook section from the entries citing it. Never a mock."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.compose.writeback.note import BEGIN, END, ENTRY_IDS_KEY, NOTE_KEY
from app.config import Settings
from app.errors import TrackingAuthFailed, TrackingError, TrackingRunNotFound, TrackingUnavailable
from app.integrations.mlflow import writeback
from app.services import outbox as outbox_service
from app.storage.models import OutboxItem, Project, Run
from app.storage.outbox import session_factory
from tests.factories import create_project, post_log
from tests.live import free_port
from tests.mlflow_server import MlflowServer

PUBLIC_URL = "https://labbook.test"


# -- helpers shared with the outage and API tests --------------------------------------------------------------------


def make_mlflow_runs(url: str, n: int, *, note: str | None = None) -> list[str]:
    """`n` runs in a fresh experiment of the MLflow server at `url`; each gets `note` as its description."""
    client = MlflowClient(tracking_uri=url)
    experiment_id = client.create_experiment(f"wb-{uuid.uuid4().hex[:10]}")
    run_ids = []
    for i in range(n):
        run = client.create_run(experiment_id, run_name=f"run-{i}")
        client.log_metric(run.info.run_id, "val_auc", 0.85 + i / 100)
        if note is not None:
            client.set_tag(run.info.run_id, NOTE_KEY, note)
        client.set_terminated(run.info.run_id)
        run_ids.append(run.info.run_id)
    return run_ids


def register_runs(engine: Engine, slug: str, run_ids: list[str], *, source: str = "mlflow") -> None:
    """Make MLflow runs known to Labbook as synced runs (what the MLflow sync stores)."""
    with Session(engine) as session:
        project = session.exec(select(Project).where(Project.slug == slug)).one()
        for i, run_id in enumerate(run_ids):
            metrics = {"val_auc": 0.85 + i / 100}
            session.add(Run(project_id=project.id, key=run_id, run_id=run_id, source=source, metrics=metrics))
        session.commit()


def log_about(client: TestClient, slug: str, run_ids: list[str], text: str) -> dict[str, Any]:
    """Post a brain dump citing `run_ids`; the entry it composed."""
    body = f"{text}\nRuns: " + ", ".join(run_ids) + "\nNext: try class weights."
    entry: dict[str, Any] = post_log(client, slug, text=body, run_ids=run_ids)["log_entry"]
    assert set(run_ids) <= set(entry["run_ids"]), entry["run_ids"]
    return entry


def app_engine(client: TestClient) -> Engine:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return engine


def deliver(client: TestClient, settings: Settings) -> outbox_service.DeliveryCounts:
    return outbox_service.drain(session_factory(app_engine(client)), settings)


def outbox_items(engine: Engine) -> list[OutboxItem]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxItem).order_by(OutboxItem.id)))  # type: ignore[arg-type]


def run_tags(url: str, run_id: str) -> dict[str, str]:
    return dict(MlflowClient(tracking_uri=url).get_run(run_id).data.tags)


# -- the adapter -------------------------------------------------------------------------------------------------------


class TestAdapter:
    def test_reads_the_tags_and_writes_them_in_one_batch(self, mlflow_server: MlflowServer) -> None:
        (run_id,) = make_mlflow_runs(mlflow_server.url, 1, note="Written by hand.")
        assert writeback.read_run_tags(mlflow_server.url, run_id)[NOTE_KEY] == "Written by hand."
        tags = {NOTE_KEY: "Über 模型 ✓", ENTRY_IDS_KEY: "1,2"}
        writeback.write_run_tags(mlflow_server.url, run_id, tags)
        stored = run_tags(mlflow_server.url, run_id)
        assert stored[NOTE_KEY] == "Über 模型 ✓" and stored[ENTRY_IDS_KEY] == "1,2"
        assert writeback.read_run_tags(mlflow_server.url, run_id)[ENTRY_IDS_KEY] == "1,2"

    def test_a_5000_byte_value_is_stored_whole(self, mlflow_server: MlflowServer) -> None:
        (run_id,) = make_mlflow_runs(mlflow_server.url, 1)
        value = "é" * 2500
        writeback.write_run_tags(mlflow_server.url, run_id, {NOTE_KEY: value})
        assert run_tags(mlflow_server.url, run_id)[NOTE_KEY] == value

    def test_unknown_run_is_tracking_run_not_found(self, mlflow_server: MlflowServer) -> None:
        with pytest.raises(TrackingRunNotFound):
            writeback.read_run_tags(mlflow_server.url, uuid.uuid4().hex)
        with pytest.raises(TrackingRunNotFound):
            writeback.write_run_tags(mlflow_server.url, uuid.uuid4().hex, {ENTRY_IDS_KEY: "1"})

    def test_deleted_run_is_tracking_run_not_found(self, mlflow_server: MlflowServer) -> None:
        (run_id,) = make_mlflow_runs(mlflow_server.url, 1)
        MlflowClient(tracking_uri=mlflow_server.url).delete_run(run_id)
        with pytest.raises(TrackingRunNotFound):
            writeback.read_run_tags(mlflow_server.url, run_id)

    def test_a_server_that_does_not_answer_fails_fast(self) -> None:
        url = f"http://127.0.0.1:{free_port()}"
        started = time.monotonic()
        with pytest.raises(TrackingUnavailable):
            writeback.read_run_tags(url, uuid.uuid4().hex)
        with pytest.raises(TrackingUnavailable):
            writeback.write_run_tags(url, uuid.uuid4().hex, {ENTRY_IDS_KEY: "1"})
        assert time.monotonic() - started < 5  # MLflow's own client would retry for minutes

    @pytest.mark.parametrize(
        ("status", "code", "expected"),
        [
            (401, "", TrackingAuthFailed),  # basic auth's refusal is not JSON
            (403, "PERMISSION_DENIED", TrackingAuthFailed),
            (404, "RESOURCE_DOES_NOT_EXIST", TrackingRunNotFound),
            (500, "INTERNAL_ERROR", TrackingUnavailable),
            (503, "", TrackingUnavailable),
            (429, "REQUEST_LIMIT_EXCEEDED", TrackingUnavailable),
            (400, "INVALID_PARAMETER_VALUE", TrackingError),
        ],
    )
    def test_answers_map_to_our_errors(self, status: int, code: str, expected: type[TrackingError]) -> None:
        # The real 401 is covered by tests/integrations/test_mlflow_server_fixture.py's basic-auth server; starting
        # a second one here would add 40 s to the suite for the same status code.
        assert type(writeback._error("http://mlflow", "r1", status, code, "no")) is expected


# -- rendering a run's note from the entries that cite it --------------------------------------------------------------


@pytest.fixture
def wb_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"public_url": PUBLIC_URL})


@pytest.fixture
def wb_client(wb_settings: Settings) -> Any:
    from app.main import create_app
    from tests.conftest import ADMIN_TOKEN

    with TestClient(create_app(wb_settings), headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
        yield client


class TestRunNoteDelivery:
    def test_each_cited_run_gets_the_section_under_the_human_note(
        self, wb_client: TestClient, wb_settings: Settings, mlflow_server: MlflowServer
    ) -> None:
        runs = make_mlflow_runs(mlflow_server.url, 2, note="Baseline, by hand.")
        create_project(wb_client, "wb", tracking_uri=mlflow_server.url)
        register_runs(app_engine(wb_client), "wb", runs)
        first = log_about(wb_client, "wb", runs, "SMOTE on train only did not help.")
        second = log_about(wb_client, "wb", runs[:1], "Class weights beat SMOTE.")
        # The POST answer already shows what was queued for each cited run.
        assert [(w["run_id"], w["state"]) for w in second["writeback"]] == [(runs[0], "pending")]
        counts = deliver(wb_client, wb_settings)
        assert (counts.delivered, counts.retried, counts.dead) == (3, 0, 0)
        delivered = wb_client.get(f"/v1/entries/{second['id']}").json()["writeback"]
        assert [(w["run_id"], w["state"]) for w in delivered] == [(runs[0], "delivered")]
        note = run_tags(mlflow_server.url, runs[0])[NOTE_KEY]
        assert note.startswith("Baseline, by hand.\n\n" + BEGIN) and note.endswith(END)
        assert note.count(BEGIN) == 1
        assert note.index(f"[entry {second['id']}]") < note.index(f"[entry {first['id']}]")  # newest first
        assert f"({PUBLIC_URL}/v1/entries/{first['id']})" in note
        assert second["body"]["tldr"].split()[0] in note
        assert run_tags(mlflow_server.url, runs[0])[ENTRY_IDS_KEY] == f"{first['id']},{second['id']}"
        assert run_tags(mlflow_server.url, runs[1])[ENTRY_IDS_KEY] == str(first["id"])

    def test_redelivery_writes_nothing_and_changes_nothing(
        self, wb_client: TestClient, wb_settings: Settings, mlflow_server: MlflowServer
    ) -> None:
        (run_id,) = make_mlflow_runs(mlflow_server.url, 1, note="Mine.")
        create_project(wb_client, "wb", tracking_uri=mlflow_server.url)
        register_runs(app_engine(wb_client), "wb", [run_id])
        log_about(wb_client, "wb", [run_id], "One session.")
        assert deliver(wb_client, wb_settings).writes == 1
        before = run_tags(mlflow_server.url, run_id)
        project_id = outbox_items(app_engine(wb_client))[0].project_id
        sessions = session_factory(app_engine(wb_client))
        written = outbox_service.write_run_note(sessions, wb_settings, project_id=project_id, run_id=run_id)
        assert written == 0
        assert run_tags(mlflow_server.url, run_id) == before

    def test_table_runs_and_writeback_off_queue_nothing(
        self, wb_client: TestClient, wb_settings: Settings, mlflow_server: MlflowServer
    ) -> None:
        runs = make_mlflow_runs(mlflow_server.url, 2)
        create_project(wb_client, "off", tracking_uri=mlflow_server.url, writeback=False)
        register_runs(app_engine(wb_client), "off", runs)
        create_project(wb_client, "tbl", tracking_uri=mlflow_server.url)
        register_runs(app_engine(wb_client), "tbl", runs, source="table")
        off = log_about(wb_client, "off", runs, "Write-back is off here.")
        log_about(wb_client, "tbl", runs, "These runs came from a pasted table.")
        assert outbox_items(app_engine(wb_client)) == []
        assert wb_client.get(f"/v1/entries/{off['id']}").json()["writeback"] == []
        assert NOTE_KEY not in run_tags(mlflow_server.url, runs[0])

    def test_a_correction_rewrites_the_note_and_uncited_runs_drop_the_entry(
        self, wb_client: TestClient, wb_settings: Settings, mlflow_server: MlflowServer
    ) -> None:
        runs = make_mlflow_runs(mlflow_server.url, 2, note="Hand.")
        create_project(wb_client, "wb", tracking_uri=mlflow_server.url)
        register_runs(app_engine(wb_client), "wb", runs)
        entry = log_about(wb_client, "wb", runs, "Both runs.")
        deliver(wb_client, wb_settings)
        experiments = [e for e in entry["body"]["experiments"] if e["run_id"] == runs[0]]
        patch = {"tldr": "Corrected: only the first run counts.", "experiments": experiments, "reason": "typo"}
        for section in ("hypothesis", "observations", "conclusions", "did_not_work", "open_questions", "next_steps"):
            patch[section] = []
        response = wb_client.patch(f"/v1/entries/{entry['id']}", json=patch)
        assert response.status_code == 200, response.text
        assert response.json()["run_ids"] == [runs[0]]
        assert {w["run_id"] for w in response.json()["writeback"]} == set(runs)
        assert deliver(wb_client, wb_settings).delivered == 2
        first = run_tags(mlflow_server.url, runs[0])
        assert "Corrected: only the first run counts." in first[NOTE_KEY]
        second = run_tags(mlflow_server.url, runs[1])
        assert second[NOTE_KEY] == "Hand." and second[ENTRY_IDS_KEY] == ""

    def test_a_deleted_run_makes_the_item_dead(
        self, wb_client: TestClient, wb_settings: Settings, mlflow_server: MlflowServer
    ) -> None:
        (run_id,) = make_mlflow_runs(mlflow_server.url, 1)
        create_project(wb_client, "wb", tracking_uri=mlflow_server.url)
        register_runs(app_engine(wb_client), "wb", [run_id])
        entry = log_about(wb_client, "wb", [run_id], "A run deleted later.")
        MlflowClient(tracking_uri=mlflow_server.url).delete_run(run_id)
        assert deliver(wb_client, wb_settings).dead == 1
        (status,) = wb_client.get(f"/v1/entries/{entry['id']}").json()["writeback"]
        assert status["state"] == "dead" and status["attempts"] == 1 and "deleted" in status["last_error"]


class TestWorkers:
    def test_the_in_process_worker_delivers_in_the_background(
        self, settings: Settings, mlflow_server: MlflowServer
    ) -> None:
        from app.main import create_app
        from tests.conftest import ADMIN_TOKEN

        live = settings.model_copy(update={"outbox_worker": "inprocess", "outbox_poll_seconds": 0.1})
        with TestClient(create_app(live), headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
            (run_id,) = make_mlflow_runs(mlflow_server.url, 1)
            create_project(client, "bg", tracking_uri=mlflow_server.url)
            register_runs(app_engine(client), "bg", [run_id])
            entry = log_about(client, "bg", [run_id], "Delivered by the worker thread.")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                (status,) = client.get(f"/v1/entries/{entry['id']}").json()["writeback"]
                if status["state"] == "delivered":
                    break
                time.sleep(0.1)
            assert status["state"] == "delivered" and status["attempts"] == 1
        assert run_tags(mlflow_server.url, run_id)[ENTRY_IDS_KEY] == str(entry["id"])

    def test_labbook_worker_once_drains_the_outbox(
        self,
        wb_client: TestClient,
        wb_settings: Settings,
        mlflow_server: MlflowServer,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        from typer.testing import CliRunner

        from app.cli import cli
        from app.config import get_settings

        (run_id,) = make_mlflow_runs(mlflow_server.url, 1)
        create_project(wb_client, "cli", tracking_uri=mlflow_server.url)
        register_runs(app_engine(wb_client), "cli", [run_id])
        entry = log_about(wb_client, "cli", [run_id], "Delivered by `labbook worker --once`.")
        monkeypatch.setenv("LABBOOK_DATA_DIR", str(wb_settings.data_dir))
        monkeypatch.setenv("DATABASE_URL", str(wb_settings.database_url))
        monkeypatch.setenv("LABBOOK_PUBLIC_URL", PUBLIC_URL)
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(cli, ["worker", "--once"])
        finally:
            get_settings.cache_clear()
        assert result.exit_code == 0, result.output
        assert "outbox: 1 delivered, 0 to retry, 0 dead" in result.output
        note = run_tags(mlflow_server.url, run_id)[NOTE_KEY]
        assert f"({PUBLIC_URL}/v1/entries/{entry['id']})" in note
