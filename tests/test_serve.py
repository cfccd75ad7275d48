"""`labbook serve` and `labbook demo` as real processes: uvicorn on a free loopback port, the console script installed
by pip (the demo also starts and stops a real MLflow server)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from app.demo.seed import DEMO_SLUG
from tests.live import free_port, live_server

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


def test_several_workers_with_embedded_chroma_refuse_to_start(tmp_path: Path) -> None:
    """Embedded Chroma belongs to one process: `--workers 2` needs a Chroma server, or retrieval off."""
    labbook = shutil.which("labbook", path=str(Path(sys.executable).parent))
    assert labbook
    env = {**os.environ, "LABBOOK_DATA_DIR": str(tmp_path), "LABBOOK_API_TOKENS": TOKEN, "LABBOOK_RETRIEVAL": "on"}
    env.pop("LABBOOK_CHROMA_URL", None)
    command = [labbook, "serve", "--port", str(free_port()), "--workers", "2"]
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1
    assert "LABBOOK_CHROMA_URL" in refused.stderr and "--workers 2" in refused.stderr
    assert not (tmp_path / "labbook.db").exists()  # refused before touching anything


def test_demo_serves_writes_back_to_mlflow_and_stops_it(tmp_path: Path) -> None:
    """`labbook demo` for real: both servers answer, the brain dumps' entries reach the cited MLflow runs through
    the in-process outbox worker, and SIGTERM stops Labbook and the MLflow server it started."""
    labbook = shutil.which("labbook", path=str(Path(sys.executable).parent))
    assert labbook
    port = free_port()
    env = {**os.environ, "LABBOOK_DATA_DIR": str(tmp_path), "LABBOOK_OUTBOX_POLL_SECONDS": "0.5"}
    for name in ("DATABASE_URL", "LABBOOK_CONFIG", "LABBOOK_PUBLIC_URL", "MLFLOW_TRACKING_URI"):
        env.pop(name, None)
    command = [labbook, "demo", "--port", str(port)]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as process:
        try:
            printed = _read_until(process, "ready in ", timeout=600)
            token = re.search(r"Token: +(\S+)", printed)
            mlflow_url = re.search(r"MLflow UI: (\S+)", printed)
            assert token and mlflow_url, printed
            url, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token.group(1)}"}
            _wait_for(lambda: httpx.get(f"{url}/healthz", timeout=1).status_code == 200)
            runs = httpx.get(f"{url}/v1/projects/{DEMO_SLUG}/runs?limit=100", headers=auth).json()["items"]
            cited = next(r["run_id"] for r in runs if r["run_name"] == "logreg-scaled-C1")
            _wait_for(lambda: url in _mlflow_tags(mlflow_url.group(1), cited).get("mlflow.note.content", ""))
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
            assert process.returncode == 128 + signal.SIGTERM  # unwound, so the MLflow server was stopped too
            with pytest.raises(httpx.TransportError):
                httpx.get(f"{mlflow_url.group(1)}/health", timeout=1)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def _read_until(process: subprocess.Popen[str], marker: str, *, timeout: float) -> str:
    assert process.stdout is not None
    deadline, lines = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"labbook demo exited ({process.wait()}):\n{''.join(lines)}")
        lines.append(line)
        if line.startswith(marker):
            return "".join(lines)
    raise AssertionError(f"no {marker!r} after {timeout} s:\n{''.join(lines)}")


def _wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError("condition not met in time")


def _mlflow_tags(mlflow_url: str, run_id: str) -> dict[str, str]:
    run = httpx.get(f"{mlflow_url}/api/2.0/mlflow/runs/get", params={"run_id": run_id}).json()["run"]
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}
