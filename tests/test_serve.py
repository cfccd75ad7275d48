"""`labbook serve` as a real process: uvicorn on a free loopback port, the console script installed by pip."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from tests.live import live_server

TOKEN = "serve-test-token-abcdef"


def test_serves_the_api_and_stops_cleanly(tmp_path: Path) -> None:
    with live_server(tmp_path, token=TOKEN) as server:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        body = {"slug": "churn", "name": "Churn", "primary_metric": "auc", "metric_direction": "max"}
        assert httpx.post(f"{server.url}/v1/projects", json=body, headers=auth).status_code == 201
        assert httpx.get(f"{server.url}/v1/projects/churn", headers=auth).json()["slug"] == "churn"
        assert httpx.get(f"{server.url}/v1/projects").status_code == 401
        assert (tmp_path / "labbook.db").exists()
        output = server.stop()
        # uvicorn shuts down gracefully, then re-raises the signal so the exit status says what ended it
        assert server.process.returncode in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in output
        assert TOKEN not in output
