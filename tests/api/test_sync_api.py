"""`POST /v1/projects/{slug}/runs/sync` against real MLflow servers: the answer, the stored runs, MLflow's auth
variables (a basic-auth server), and every failure as a 4xx/5xx that names the field, never a 500."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from app.config import Settings
from app.main import create_app
from tests.conftest import ADMIN_TOKEN
from tests.factories import create_project, import_table
from tests.live import free_port
from tests.mlflow_server import ADMIN_PASSWORD, ADMIN_USER, MlflowServer

_MLFLOW_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


@pytest.fixture(autouse=True)
def clean_mlflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The service reads MLflow's variables; the caller's own must not leak in (autouse: before `settings`)."""
    for name in _MLFLOW_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = MlflowServer(root=tmp_path_factory.mktemp("mlflow-auth"), basic_auth=True).start()
    yield server
    server.stop()


def experiment_with_runs(url: str, count: int = 2) -> tuple[str, list[str]]:
    client = MlflowClient(url)
    name = f"api-sync-{uuid.uuid4().hex[:10]}"
    experiment_id = client.create_experiment(name)
    run_ids = []
    for i in range(count):
        run_id = client.create_run(experiment_id, run_name=f"trial-{i}").info.run_id
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric("val_auc", 0.8 + i / 100, now, 0)],
            params=[Param("seed", str(i)), Param("model", "lightgbm")],
            tags=[RunTag("mlflow.source.git.commit", "abc123"), RunTag("gpu", "T4")],
        )
        client.set_terminated(run_id)
        run_ids.append(run_id)
    return name, run_ids


def assert_error(response: Any, status: int, code: str, field: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    message: str = error["message"]
    return message


def test_sync_then_list_the_runs(client: TestClient, mlflow_server: MlflowServer) -> None:
    name, run_ids = experiment_with_runs(mlflow_server.url)
    create_project(client, mlflow_experiments=[name], tracking_uri=mlflow_server.url)
    response = client.post("/v1/projects/churn/runs/sync")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tracking_uri"] == mlflow_server.url and body["full"] is False
    assert (body["created"], body["updated"], body["unchanged"], body["open_runs"]) == (2, 0, 0, 0)
    [experiment] = body["experiments"]
    assert (experiment["name"], experiment["runs_read"], experiment["mode"]) == (name, 2, "full")
    assert body["seconds"] >= 0

    runs = {r["run_id"]: r for r in client.get("/v1/projects/churn/runs").json()["items"]}
    assert set(runs) == set(run_ids)
    first = runs[run_ids[0]]
    assert (first["source"], first["run_name"], first["status"]) == ("mlflow", "trial-0", "FINISHED")
    assert (first["seed"], first["git_commit"], first["hardware"]) == ("0", "abc123", "T4")
    assert first["metrics"] == {"val_auc": 0.8} and first["synced_at"] is not None
    assert client.get(f"/v1/projects/churn/runs/{run_ids[1]}").json()["seed"] == "1"

    again = client.post("/v1/projects/churn/runs/sync").json()
    assert (again["experiments"][0]["mode"], again["experiments"][0]["runs_read"]) == ("incremental", 0)
    full = client.post("/v1/projects/churn/runs/sync", params={"full": "true"}).json()
    assert (full["full"], full["experiments"][0]["mode"], full["unchanged"]) == (True, "full", 2)


def test_a_pasted_run_becomes_the_mlflow_run(client: TestClient, mlflow_server: MlflowServer) -> None:
    name, run_ids = experiment_with_runs(mlflow_server.url, count=1)
    create_project(client, mlflow_experiments=[name], tracking_uri=mlflow_server.url)
    import_table(client, "churn", f"| Run ID | Val AUC | Notes |\n|---|---|---|\n| {run_ids[0]} | 0.7 | first try |\n")
    body = client.post("/v1/projects/churn/runs/sync").json()
    assert (body["created"], body["updated"]) == (0, 1)
    [run] = client.get("/v1/projects/churn/runs").json()["items"]
    assert (run["source"], run["notes"], run["metrics"]["val_auc"]) == ("mlflow", "first try", 0.8)


def test_the_services_mlflow_tracking_uri_is_the_default(
    tmp_path: Path, database_url: str, mlflow_server: MlflowServer
) -> None:
    name, _ = experiment_with_runs(mlflow_server.url, count=1)
    settings = Settings(
        data_dir=tmp_path, api_tokens=ADMIN_TOKEN, database_url=database_url, mlflow_tracking_uri=mlflow_server.url
    )
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as api:
        create_project(api, mlflow_experiments=[name])
        body = api.post("/v1/projects/churn/runs/sync").json()
    assert (body["tracking_uri"], body["created"]) == (mlflow_server.url, 1)


def test_unknown_experiment_is_422_naming_it(client: TestClient, mlflow_server: MlflowServer) -> None:
    create_project(client, mlflow_experiments=["churn-v9-typo"], tracking_uri=mlflow_server.url)
    message = assert_error(
        client.post("/v1/projects/churn/runs/sync"), 422, "experiment_not_found", "mlflow_experiments"
    )
    assert "churn-v9-typo" in message


def test_no_linked_experiments_is_422(client: TestClient, mlflow_server: MlflowServer) -> None:
    create_project(client, tracking_uri=mlflow_server.url)
    assert_error(client.post("/v1/projects/churn/runs/sync"), 422, "tracking_not_configured", "mlflow_experiments")


def test_no_tracking_uri_is_422(client: TestClient) -> None:
    create_project(client, mlflow_experiments=["1"])
    message = assert_error(client.post("/v1/projects/churn/runs/sync"), 422, "tracking_not_configured", "tracking_uri")
    assert "MLFLOW_TRACKING_URI" in message


def test_mlflow_down_is_503(client: TestClient) -> None:
    create_project(client, mlflow_experiments=["1"], tracking_uri=f"http://127.0.0.1:{free_port()}")
    message = assert_error(client.post("/v1/projects/churn/runs/sync"), 503, "tracking_unavailable", "tracking_uri")
    assert "does not answer" in message


@pytest.mark.parametrize(
    "uri",
    [
        *("sqlite:////tmp/labbook-x.db", "file:///tmp/mlruns", "/tmp/mlruns", "databricks", "http://", "mlflow:5000"),
        *("http://127;.0.0.1:1", "http://a..b:5000", f"http://{'x' * 64}:1"),
    ],
)
def test_a_project_tracking_uri_must_be_an_http_server(client: TestClient, uri: str) -> None:
    """A request never makes the service open a file or database on its own disk."""
    response = client.post(
        "/v1/projects",
        json={"slug": "p1", "name": "P", "primary_metric": "auc", "metric_direction": "max", "tracking_uri": uri},
    )
    assert_error(response, 422, "validation_error", "tracking_uri")
    create_project(client, "p2")
    assert_error(client.patch("/v1/projects/p2", json={"tracking_uri": uri}), 422, "validation_error", "tracking_uri")
    assert client.get("/v1/projects/p2").json()["tracking_uri"] is None


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("file://{tmp}/mlruns", "connecting"),
        ("http://a..b:5000", "no valid host"),
        (f"http://{'x' * 64}:1", "no valid host"),
    ],
)
def test_an_operator_uri_mlflow_refuses_is_a_tracking_error_not_a_500(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, uri: str, says: str
) -> None:
    """MLFLOW_TRACKING_URI is the operator's and may be anything: a file store MLflow 3 refuses, or a host name that
    cannot be encoded, is a clear 502."""
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    operator = settings.model_copy(update={"mlflow_tracking_uri": uri.format(tmp=tmp_path)})
    with TestClient(create_app(operator), headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
        create_project(client, mlflow_experiments=["1"])
        message = assert_error(client.post("/v1/projects/churn/runs/sync"), 502, "tracking_error", "tracking_uri")
    assert says in message


def test_bad_full_flag_is_422(client: TestClient, mlflow_server: MlflowServer) -> None:
    create_project(client, mlflow_experiments=["1"], tracking_uri=mlflow_server.url)
    response = client.post("/v1/projects/churn/runs/sync", params={"full": "maybe"})
    assert response.status_code == 422 and response.json()["error"]["field"].endswith("full")


def test_unknown_project_is_404(client: TestClient) -> None:
    assert client.post("/v1/projects/nope/runs/sync").status_code == 404


class TestBasicAuth:
    """MLflow's basic-auth app: the service authenticates with MLFLOW_TRACKING_USERNAME/PASSWORD from its
    environment, as every MLflow client does."""

    def test_the_auth_variables_are_honoured(
        self, client: TestClient, auth_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN_USER)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
        name, run_ids = experiment_with_runs(auth_server.url, count=1)  # the auth app hashes a password per request
        create_project(client, mlflow_experiments=[name], tracking_uri=auth_server.url)
        response = client.post("/v1/projects/churn/runs/sync")
        assert response.status_code == 200, response.text
        assert response.json()["created"] == 1
        assert client.get(f"/v1/projects/churn/runs/{run_ids[0]}").json()["source"] == "mlflow"

    @pytest.mark.parametrize("password", [f"{ADMIN_PASSWORD}-wrong", None])
    def test_refused_credentials_are_502_never_500(
        self, client: TestClient, auth_server: MlflowServer, monkeypatch: pytest.MonkeyPatch, password: str | None
    ) -> None:
        if password is not None:
            monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN_USER)
            monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
        create_project(client, mlflow_experiments=["Default"], tracking_uri=auth_server.url)
        response = client.post("/v1/projects/churn/runs/sync")
        message = assert_error(response, 502, "tracking_auth_failed", "tracking_uri")
        assert "MLFLOW_TRACKING_USERNAME" in message and "401" in message
        assert password is None or password not in message
