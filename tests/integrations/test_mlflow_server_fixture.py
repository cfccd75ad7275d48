"""The MLflow server fixture itself: a real server that answers the REST API, and basic auth that refuses strangers."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.mlflow_server import ADMIN_PASSWORD, ADMIN_USER, MlflowServer


def test_session_server_answers_the_rest_api(mlflow_server: MlflowServer) -> None:
    response = httpx.get(
        f"{mlflow_server.url}/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": "Default"}
    )
    assert response.status_code == 200
    assert response.json()["experiment"]["experiment_id"] == "0"


def test_basic_auth_server_refuses_requests_without_credentials(tmp_path: Path) -> None:
    server = MlflowServer(root=tmp_path / "auth", basic_auth=True).start()
    try:
        url = f"{server.url}/api/2.0/mlflow/experiments/get-by-name"
        assert httpx.get(url, params={"experiment_name": "Default"}).status_code == 401
        ok = httpx.get(url, params={"experiment_name": "Default"}, auth=(ADMIN_USER, ADMIN_PASSWORD))
        assert ok.status_code == 200
    finally:
        server.stop()
