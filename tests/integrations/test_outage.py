"""An MLflow outage loses nothing: entries posted while the tracking server is down are stored at once, their
write-backs wait in the outbox with backoff, and after the server comes back (same store, same port) every item
is delivered exactly once and every run's note is right. A dedicated server, since this test stops it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.compose.writeback.note import BEGIN, END, ENTRY_IDS_KEY, NOTE_KEY
from app.config import Settings
from app.main import create_app
from app.services import outbox as outbox_service
from app.storage import outbox as outbox_store
from app.storage.outbox import session_factory
from tests.conftest import ADMIN_TOKEN
from tests.factories import create_project
from tests.integrations.test_writeback import (
    app_engine,
    deliver,
    log_about,
    make_mlflow_runs,
    outbox_items,
    register_runs,
    run_tags,
)
from tests.mlflow_server import MlflowServer

PUBLIC_URL = "https://labbook.outage.test"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[MlflowServer]:
    server = MlflowServer(root=tmp_path / "mlflow-outage").start()
    yield server
    server.stop()


@pytest.fixture
def outage_settings(settings: Settings) -> Settings:
    # Tiny backoff, so the retried items are due again within the test.
    update = {"public_url": PUBLIC_URL, "outbox_backoff_base_seconds": 0.05, "outbox_backoff_max_seconds": 0.2}
    return settings.model_copy(update=update)


@pytest.fixture
def app_client(outage_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(outage_settings), headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
        yield client


def test_an_outage_loses_nothing(app_client: TestClient, outage_settings: Settings, server: MlflowServer) -> None:
    runs = make_mlflow_runs(server.url, 3, note="Hand-written: the Q4 baseline sweep.")
    create_project(app_client, "outage", tracking_uri=server.url)
    register_runs(app_engine(app_client), "outage", runs)
    server.stop()

    # While MLflow is down, the API stores entries and answers at once.
    cited: dict[str, list[int]] = {run_id: [] for run_id in runs}
    plan = [runs, runs[:1], runs[1:], runs[:2]]
    for i, about in enumerate(plan):
        started = time.monotonic()
        entry = log_about(app_client, "outage", about, f"Session {i} while MLflow was down.")
        assert time.monotonic() - started < 5
        for run_id in about:
            cited[run_id].append(entry["id"])
    items = outbox_items(app_engine(app_client))
    assert len(items) == sum(len(about) for about in plan) == 8

    # Delivery fails, twice: every item stays pending, with its error, attempts counted and a backoff.
    sessions = session_factory(app_engine(app_client))
    for _ in range(2):
        counts = outbox_service.deliver_due(sessions, outage_settings)  # one pass: retried items are not due yet
        assert (counts.delivered, counts.dead) == (0, 0) and counts.retried == 8
        time.sleep(0.25)
    for item in outbox_items(app_engine(app_client)):
        assert item.state == "pending" and item.attempts == 2 and item.delivered_at is None
        assert item.last_error and "did not answer" in item.last_error
    listed = app_client.get("/v1/outbox", params={"project": "outage"}).json()
    assert listed["counts"] == {"pending": 8, "delivered": 0, "dead": 0}

    server.start()  # same store, same port
    counts = deliver(app_client, outage_settings)
    assert (counts.delivered, counts.retried, counts.dead) == (8, 0, 0)
    assert counts.writes == 3  # one write per run, however many entries queued it
    delivered = outbox_items(app_engine(app_client))
    assert all(i.state == "delivered" and i.attempts == 3 and i.last_error is None for i in delivered)
    delivered_at = {i.id: i.delivered_at for i in delivered}

    for run_id in runs:
        tags = run_tags(server.url, run_id)
        note = tags[NOTE_KEY]
        assert note.startswith("Hand-written: the Q4 baseline sweep.\n\n" + BEGIN)
        assert note.count(BEGIN) == 1 and note.count(END) == 1 and note.endswith(END)
        shown = [int(part.split("]")[0]) for part in note.split("[entry ")[1:]]
        assert shown == sorted(cited[run_id], reverse=True)
        assert tags[ENTRY_IDS_KEY] == ",".join(map(str, sorted(cited[run_id])))

    # Delivered once: a second drain finds nothing, and a forced redelivery leaves every note byte-identical.
    assert deliver(app_client, outage_settings).claimed == 0
    before = {run_id: run_tags(server.url, run_id) for run_id in runs}
    project_id = delivered[0].project_id
    for run_id in runs:
        assert outbox_service.write_run_note(sessions, outage_settings, project_id=project_id, run_id=run_id) == 0
    assert {run_id: run_tags(server.url, run_id) for run_id in runs} == before
    with Session(app_engine(app_client)) as session:
        for item_id, when in delivered_at.items():
            assert outbox_store.mark_delivered(session, item_id, now=when) is False  # type: ignore[arg-type]
    assert {i.id: i.delivered_at for i in outbox_items(app_engine(app_client))} == delivered_at

    # Per entry, the write-back states are visible.
    entry_id = cited[runs[0]][0]
    statuses = app_client.get(f"/v1/entries/{entry_id}").json()["writeback"]
    assert {s["run_id"] for s in statuses} == set(runs)
    assert all(s["state"] == "delivered" and s["attempts"] == 3 for s in statuses)
