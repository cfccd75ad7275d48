"""A real `labbook serve` process on a free loopback port, for tests that need a server rather than TestClient."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[str]
    data_dir: Path

    def stop(self) -> str:
        """SIGTERM, wait for the graceful shutdown, and return everything the server printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        output, _ = self.process.communicate(timeout=20)
        return output


@contextmanager
def live_server(
    data_dir: Path, *, token: str, database_url: str | None = None, env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """`env`: more settings for the server (e.g. LABBOOK_MAX_CONCURRENCY)."""
    labbook = shutil.which("labbook", path=str(Path(sys.executable).parent))
    assert labbook, "the labbook console script is installed next to the interpreter"
    port = free_port()
    environ = {**os.environ, "LABBOOK_DATA_DIR": str(data_dir), "LABBOOK_API_TOKENS": token, **(env or {})}
    environ.pop("DATABASE_URL", None)
    if database_url:
        environ["DATABASE_URL"] = database_url
    command = [labbook, "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    server = LiveServer(url=f"http://127.0.0.1:{port}", process=process, data_dir=data_dir)
    try:
        _wait_healthy(server)
        yield server
    finally:
        if process.poll() is None:
            server.stop()


def _wait_healthy(server: LiveServer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"server exited: {server.process.communicate()[0]}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("server did not become healthy")
