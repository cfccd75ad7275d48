"""The processes of `bench/load.py`: a server subprocess on a free loopback port (Labbook, the ceiling app or the
bare responder), its RSS from /proc, and how to start the Labbook under test."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from load_generator import Pool, timed

HOST = "127.0.0.1"


@dataclass
class Server:
    """A server subprocess in its own process group, its output in a file (a pipe nobody reads would block it)."""

    command: list[str]
    env: dict[str, str]
    log_path: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    def start(self) -> None:
        self.port = self.port or free_port()  # a restart keeps the port, so clients need not know
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*self.command, "--host", HOST, "--port", str(self.port)],
                env=self.env,
                # Not the caller's folder: `python -c` puts the working directory first on sys.path, which would
                # serve the checkout the bench was started from instead of the one PYTHONPATH names.
                cwd=self.log_path.parent,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def wait_healthy(self, path: str, timeout: float = 60) -> None:
        pool = Pool(HOST, self.port)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    raise SystemExit(f"the server exited; its output:\n{self.log_tail()}")
                status, _ = await timed(pool.request("GET", path), 2)
                if status == 200:
                    return
                await asyncio.sleep(0.2)
        finally:
            pool.close()
        raise SystemExit(f"the server did not answer {path} within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM and a graceful shutdown, or SIGKILL (a wedged server): the whole process group either way."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.process.wait(timeout=20)

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def log_problems(self) -> dict[str, Any]:
        """Counts of the lines of the server's output that tell of trouble, and the first of them."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        lines = text.splitlines()
        bad = [i for i, line in enumerate(lines) if re.search(r"ERROR|CRITICAL|Traceback|QueuePool", line)]
        first = lines[bad[0]][:300] if bad else None
        # A traceback says what went wrong on its last line: the first unindented line after it.
        said = next((line for line in lines[bad[0] + 1 :] if line and not line[0].isspace()), None) if bad else None
        cause = said[:300] if said and first and first.startswith("Traceback") else None
        return {"lines": len(bad), "first": first, "cause": cause, "path": str(self.log_path)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def rss_bytes(pid: int) -> int:
    """VmRSS of a process and all its descendants (uvicorn workers), from /proc."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+) kB", status)[1]) * 1024  # type: ignore[index]
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, TypeError):
            continue  # the process ended, or is a zombie without VmRSS
    return total


@dataclass
class RssSampler:
    """Samples the server's RSS every half second; `peak` since the last `reset`, `overall` since the start."""

    server: Server
    peak: int = 0
    overall: int = 0
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._sample())

    def reset(self) -> None:
        self.peak = rss_bytes(self.server.pid)

    async def _sample(self) -> None:
        while True:
            rss = rss_bytes(self.server.pid)
            self.peak, self.overall = max(self.peak, rss), max(self.overall, rss)
            await asyncio.sleep(0.5)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


def labbook_command(args: argparse.Namespace) -> list[str]:
    if args.labbook:
        command = [args.labbook]
    elif args.python:
        command = [args.python, "-c", "from app.cli import main; main()"]
    else:
        found = shutil.which("labbook", path=str(Path(sys.executable).parent))
        if not found:
            raise SystemExit("no labbook console script next to this interpreter: pass --labbook or --python")
        command = [found]
    return [*command, "serve", *shlex.split(args.serve_args)]


def ceiling_python(args: argparse.Namespace) -> str:
    """The interpreter of the server under test, so the ceiling runs the same FastAPI, uvicorn and parsers."""
    if args.python:
        return str(args.python)
    beside = Path(args.labbook).parent / "python" if args.labbook else None
    return str(beside) if beside and beside.exists() else sys.executable


def workers_of(serve_args: str) -> int:
    words = shlex.split(serve_args)
    for i, word in enumerate(words):
        if word == "--workers" and i + 1 < len(words):
            return int(words[i + 1])
        if word.startswith("--workers="):
            return int(word.split("=", 1)[1])
    return 1


def server_env(args: argparse.Namespace, data_dir: Path, token: str) -> dict[str, str]:
    env = {**os.environ, "LABBOOK_DATA_DIR": str(data_dir), "LABBOOK_API_TOKENS": token}
    env.pop("DATABASE_URL", None)
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    for item in args.env:
        name, _, value = item.partition("=")
        env[name] = value
    return env
