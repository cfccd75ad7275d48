"""Real MLflow tracking servers for tests: `mlflow server` on a free loopback port, a SQLite store, one worker.

Never a mock. `MlflowServer` can be stopped and started again on the same store and port (the outage test), and
`basic_auth=True` starts MLflow's basic-auth app (`--app-name basic-auth`) with its default admin account.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.live import free_port

# The admin MLflow's basic-auth app creates on first start (our basic_auth.ini; MLflow refuses its old default).
ADMIN_USER = "admin"
ADMIN_PASSWORD = "labbook-test-admin-pw-7"


@dataclass
class MlflowServer:
    root: Path
    basic_auth: bool = False
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> MlflowServer:
        mlflow = shutil.which("mlflow", path=str(Path(sys.executable).parent))
        assert mlflow, "full mlflow is installed next to the interpreter (the `demo` extra)"
        self.root.mkdir(parents=True, exist_ok=True)
        command = [
            mlflow,
            "server",
            "--backend-store-uri",
            f"sqlite:///{self.root / 'mlflow.db'}",
            "--artifacts-destination",
            str(self.root / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
        ]
        # MLflow 3 otherwise starts a job runner and its extra processes, which tracking never uses.
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            env.pop(name, None)
        if self.basic_auth:
            command += ["--app-name", "basic-auth"]
            env["MLFLOW_AUTH_CONFIG_PATH"] = str(self._auth_config())
            env["MLFLOW_FLASK_SERVER_SECRET_KEY"] = "labbook-test-only-secret"  # CSRF key the auth app requires
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 - the process writes to it until stopped
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self._wait_healthy(timeout)
        return self

    def stop(self) -> None:
        """Stop the whole process group (uvicorn and its worker) and wait until the port is free."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/health", timeout=0.5)
            except httpx.TransportError:
                return
            time.sleep(0.2)

    def log_tail(self, lines: int = 40) -> str:
        path = self.root / "server.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def _auth_config(self) -> Path:
        path = self.root / "basic_auth.ini"
        path.write_text(
            "[mlflow]\n"
            "default_permission = READ\n"
            f"database_uri = sqlite:///{self.root / 'basic_auth.db'}\n"
            f"admin_username = {ADMIN_USER}\n"
            f"admin_password = {ADMIN_PASSWORD}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        )
        return path

    def _wait_healthy(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"mlflow server exited:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        self.stop()
        raise AssertionError(f"mlflow server not healthy after {timeout} s:\n{self.log_tail()}")
