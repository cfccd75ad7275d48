"""GET /v1/outbox, POST /v1/outbox/{id}/retry and the `writeback` of an entry, on a real app and database.

Items are queued for runs synced from MLflow; run IDs that the real MLflow server does not know make dead items."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from tests.factories import bearer, create_project, make_token
from tests.integrations.test_writeback import app_engine, deliver, log_about, register_runs
from tests.mlflow_server import MlflowServer


def unknown_runs(n: int) -> list[str]:
    return [uuid.uuid4().hex for _ in range(n)]


def setup_project(client: TestClient, slug: str, *, runs: int = 2, tracking_uri: str | None = None) -> list[str]:
    run_ids = unknown_runs(runs)
    create_project(client, slug, tracking_uri=tracking_uri)
    register_runs(app_engine(client), slug, run_ids)
    return run_ids


def listing(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/outbox", params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


class TestListOutbox:
    def test_empty(self, client: TestClient) -> None:
        empty = {"pending": 0, "delivered": 0, "dead": 0}
        assert listing(client) == {"items": [], "next_cursor": None, "counts": empty}

    def test_an_entry_queues_one_pending_item_per_cited_mlflow_run(self, client: TestClient) -> None:
        runs = setup_project(client, "churn")
        entry = log_about(client, "churn", runs, "Two runs.")
        data = listing(client)
        assert [(i["run_id"], i["entry_id"], i["project"]) for i in data["items"]] == [
            (r, entry["id"], "churn") for r in sorted(runs)
        ]
        item = data["items"][0]
        assert item["state"] == "pending" and item["attempts"] == 0 and item["kind"] == "run_note"
        assert item["last_error"] is None and item["delivered_at"] is None
        assert set(item) >= {"id", "next_attempt_at", "created_at"}
        assert data["counts"] == {"pending": 2, "delivered": 0, "dead": 0}

    def test_filters_by_project_entry_and_state(self, client: TestClient) -> None:
        first = log_about(client, "a-proj", setup_project(client, "a-proj"), "A.")
        log_about(client, "b-proj", setup_project(client, "b-proj", runs=1), "B.")
        assert len(listing(client)["items"]) == 3
        assert {i["project"] for i in listing(client, project="b-proj")["items"]} == {"b-proj"}
        assert {i["entry_id"] for i in listing(client, entry_id=first["id"])["items"]} == {first["id"]}
        assert listing(client, state="dead")["items"] == []
        assert listing(client, state="dead")["counts"]["pending"] == 3

    def test_pages_with_a_cursor(self, client: TestClient) -> None:
        log_about(client, "churn", setup_project(client, "churn", runs=5), "Five runs.")
        first = listing(client, limit=2)
        second = listing(client, limit=2, cursor=first["next_cursor"])
        third = listing(client, limit=2, cursor=second["next_cursor"])
        ids = [i["id"] for page in (first, second, third) for i in page["items"]]
        assert len(ids) == 5 == len(set(ids)) and ids == sorted(ids)
        assert third["next_cursor"] is None

    @pytest.mark.parametrize("params", [{"state": "lost"}, {"limit": 0}, {"cursor": "nope"}, {"entry_id": 0}])
    def test_bad_parameters_are_422(self, client: TestClient, params: dict[str, Any]) -> None:
        assert client.get("/v1/outbox", params=params).status_code == 422

    def test_unknown_project_is_404(self, client: TestClient) -> None:
        assert client.get("/v1/outbox", params={"project": "nope"}).status_code == 404

    def test_needs_a_token(self, anon: TestClient) -> None:
        assert anon.get("/v1/outbox").status_code == 401

    def test_a_scoped_token_sees_only_its_projects(self, client: TestClient) -> None:
        log_about(client, "mine", setup_project(client, "mine", runs=1), "Mine.")
        log_about(client, "theirs", setup_project(client, "theirs", runs=1), "Theirs.")
        headers = bearer(make_token(client, "scoped", projects=["mine"]))
        data = client.get("/v1/outbox", headers=headers).json()
        assert [i["project"] for i in data["items"]] == ["mine"]
        assert data["counts"]["pending"] == 1
        assert client.get("/v1/outbox", params={"project": "theirs"}, headers=headers).status_code == 404


class TestEntryWriteback:
    def test_get_entry_shows_each_run_state(self, client: TestClient) -> None:
        runs = setup_project(client, "churn")
        entry = log_about(client, "churn", runs, "Two runs.")
        writeback = client.get(f"/v1/entries/{entry['id']}").json()["writeback"]
        assert [w["run_id"] for w in writeback] == sorted(runs)
        assert all(w["state"] == "pending" and w["attempts"] == 0 for w in writeback)
        listed = client.get("/v1/projects/churn/entries").json()["items"]
        assert listed[0]["writeback"] == writeback

    def test_an_entry_citing_no_mlflow_run_has_none(self, client: TestClient) -> None:
        create_project(client, "churn")
        entry = client.post("/v1/projects/churn/logs", json={"text": "Thinking only, no runs."}).json()
        assert client.get(f"/v1/entries/{entry['entry_id']}").json()["writeback"] == []


class TestRetry:
    def test_a_dead_item_becomes_pending_and_due(
        self, client: TestClient, settings: Settings, mlflow_server: MlflowServer
    ) -> None:
        runs = setup_project(client, "churn", runs=1, tracking_uri=mlflow_server.url)
        entry = log_about(client, "churn", runs, "A run MLflow never had.")
        assert deliver(client, settings).dead == 1
        (item,) = listing(client, state="dead")["items"]
        assert item["attempts"] == 1 and "does not exist" in item["last_error"]
        assert client.get(f"/v1/entries/{entry['id']}").json()["writeback"][0]["state"] == "dead"
        response = client.post(f"/v1/outbox/{item['id']}/retry")
        assert response.status_code == 200, response.text
        assert response.json()["state"] == "pending" and response.json()["attempts"] == 1
        assert deliver(client, settings).dead == 1  # due at once, and still dead: the run does not exist

    def test_unknown_item_is_404(self, client: TestClient) -> None:
        assert client.post("/v1/outbox/999/retry").status_code == 404

    def test_an_item_outside_the_token_scope_is_404(self, client: TestClient) -> None:
        log_about(client, "theirs", setup_project(client, "theirs", runs=1), "Theirs.")
        create_project(client, "mine")
        (item,) = listing(client)["items"]
        headers = bearer(make_token(client, "scoped", projects=["mine"]))
        assert client.post(f"/v1/outbox/{item['id']}/retry", headers=headers).status_code == 404
