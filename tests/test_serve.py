"""`labbook serve` as a real process: uvicorn on a free loopback port, the console script installed by pip."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

TOKEN = "serve-test-token-abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_healthy(url: str, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.communicate()[0]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("server did not become healthy")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str], Path]]:
    labbook = shutil.which("labbook", path=str(Path(sys.executable).parent))
    assert labbook, "the labbook console script is installed next to the interpreter"
    port = free_port()
    env = {**os.environ, "LABBOOK_DATA_DIR": str(tmp_path), "LABBOOK_API_TOKENS": TOKEN}
    env.pop("DATABASE_URL", None)
    proc = subprocess.Popen(
        [labbook, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url, proc, tmp_path
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)


def test_serves_the_api_and_stops_cleanly(server: tuple[str, subprocess.Popen[str], Path]) -> None:
    url, proc, data_dir = server
    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = {"slug": "churn", "name": "Churn", "primary_metric": "auc", "metric_direction": "max"}
    assert httpx.post(f"{url}/v1/projects", json=body, headers=auth).status_code == 201
    assert httpx.get(f"{url}/v1/projects/churn", headers=auth).json()["slug"] == "churn"
    assert httpx.get(f"{url}/v1/projects").status_code == 401
    assert (data_dir / "labbook.db").exists()
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=15)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status says what ended it
    assert proc.returncode in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in output
    assert TOKEN not in output
