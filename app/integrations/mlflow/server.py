"""A local MLflow tracking server: `mlflow server` as a child process, for the demo, the tests and bench/.

SQLite store, artifacts and the server's log under one folder, one worker by default (the default four crowd a
2-core laptop), on a free loopback port or a given one. Extra arguments and environment start other MLflow apps
(the tests' `--app-name basic-auth`). It can be stopped and started again on the same store and port. It runs the
`mlflow` executable installed next to the interpreter, which only full mlflow provides (the `demo` extra), so this
module needs no `import mlflow`.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from app.errors import LabbookError

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'labbook[demo]'"
# MLflow's client variables would point the child (and its health check) elsewhere or at credentials it does not use.
_SCRUBBED_ENV_PREFIX = "MLFLOW_TRACKING_"


class MlflowServerError(LabbookError):
    """The local MLflow server could not be started: not installed, port taken, exited, or never became healthy."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        # As the server binds: a port left in TIME_WAIT by a stopped server (a restart) is free, a listener is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def find_mlflow() -> str:
    """The `mlflow` executable of this interpreter's environment; MlflowServerError if full mlflow is missing."""
    executable = shutil.which("mlflow", path=str(Path(sys.executable).parent))
    # Only full mlflow brings Flask; mlflow-skinny installs the same executable, whose `server` crashes without it.
    if executable is None or importlib.util.find_spec("flask") is None:
        raise MlflowServerError(f"a local MLflow server needs full mlflow: {INSTALL_HINT}")
    return executable


@dataclass
class LocalMlflowServer:
    """`with LocalMlflowServer(root) as server:` starts it and waits for /health; leaving stops the process group.

    `start()` again after `stop()` restarts it on the same store and port.
    """

    root: Path
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port, chosen at the first start
    workers: int = 1
    extra_args: tuple[str, ...] = ()
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def store_uri(self) -> str:
        return f"sqlite:///{self.root / 'mlflow.db'}"

    @property
    def artifacts_path(self) -> Path:
        return self.root / "artifacts"

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    def start(self, *, timeout: float = 120) -> LocalMlflowServer:
        command = self._command(find_mlflow())
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_ENV_PREFIX)}
        # MLflow 3's job execution (GenAI scorers, trace roll-ups) starts a job runner and several huey consumers,
        # each a full mlflow import: seconds of start-up and hundreds of MB that tracking runs never use.
        env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
        env |= self.extra_env
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            # A new session: stop() signals the whole group (the server and its uvicorn worker).
            self.process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        logger.info("mlflow.server.starting", extra={"url": self.url, "pid": self.process.pid})
        self._wait_healthy(timeout)
        return self

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it if it lingers, then wait until the port no longer answers."""
        if self.process is None or self.process.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self._answers(timeout=0.5):  # a worker may outlive its parent briefly
            time.sleep(0.2)
        logger.info("mlflow.server.stopped", extra={"url": self.url})

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> LocalMlflowServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _command(self, executable: str) -> list[str]:
        if self.port == 0:
            self.port = free_port(self.host)
        elif not _port_free(self.host, self.port):
            # Checked first: the health check would otherwise be answered by whatever holds the port.
            raise MlflowServerError(f"port {self.port} is in use: pick another --mlflow-port, or 0 for a free one")
        return [
            *(executable, "server"),
            *("--backend-store-uri", self.store_uri),
            *("--artifacts-destination", str(self.artifacts_path)),
            *("--host", self.host, "--port", str(self.port), "--workers", str(self.workers)),
            *self.extra_args,
        ]

    def _signal(self, signum: int) -> None:
        assert self.process is not None
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass

    def _wait_healthy(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise MlflowServerError(f"the MLflow server exited ({self.process.returncode}):\n{self.log_tail()}")
            if self._healthy():
                return
            time.sleep(0.25)
        self.stop()
        raise MlflowServerError(
            f"the MLflow server at {self.url} was not healthy after {timeout:.0f} s:\n{self.log_tail()}"
        )

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def _answers(self, *, timeout: float) -> bool:
        try:
            httpx.get(f"{self.url}/health", timeout=timeout)
        except httpx.TransportError:
            return False
        return True
