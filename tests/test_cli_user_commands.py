"""`labbook import` and `labbook log`: the installed console script against a real server process."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient

from tests.factories import EXAMPLE_TABLE
from tests.live import LiveServer, live_server
from tests.mlflow_server import MlflowServer

TOKEN = "cli-user-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(tmp_path / "server", token=TOKEN) as running:
        body = {"slug": "churn", "name": "Churn", "primary_metric": "Val AUC", "metric_direction": "max"}
        assert httpx.post(f"{running.url}/v1/projects", json=body, headers=AUTH).status_code == 201
        yield running


def labbook(server: LiveServer, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LABBOOK_URL": server.url, "LABBOOK_TOKEN": TOKEN}
    command = [str(Path(sys.executable).parent / "labbook"), *args]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, env=env, timeout=60, check=False)


def test_import_a_table_file(server: LiveServer, tmp_path: Path) -> None:
    table = tmp_path / "runs.md"
    table.write_text(EXAMPLE_TABLE.replace("0.861", ".861ish"))
    done = labbook(server, "import", "churn", str(table))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "runs: 3 created, 0 updated, 0 unchanged"
    assert lines[1].startswith("  line 4, Val AUC: ")
    runs = httpx.get(f"{server.url}/v1/projects/churn/runs", headers=AUTH).json()["items"]
    assert {r["run_id"]: r["metrics"]["val_auc"] for r in runs} == {
        "5c6d70a1": 0.858,
        "9b22c4f0": 0.861,
        "0d81ee3b": 0.857,
    }


def test_log_from_stdin_with_a_table(server: LiveServer, tmp_path: Path) -> None:
    table = tmp_path / "runs.csv"
    table.write_text("run_id,val_auc\nr1,0.8\n")
    notes = "smote didnt help\n  tomorrow: group split\n"
    done = labbook(server, "log", "churn", "-", "--table", str(table), "--date", "2026-11-20", stdin=notes)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:4] == [
        "log 1 stored for 2026-11-20 by admin",
        "runs: 1 created, 0 updated, 0 unchanged",
        "",
        "entry 1:",
    ]
    # the entry, as Markdown: the failure and the plan are sorted into their sections
    markdown = "\n".join(lines[4:])
    assert "## What didn't work\n\n- smote didnt help" in markdown
    assert "## Next steps\n\n- group split" in markdown
    stored = httpx.get(f"{server.url}/v1/logs/1", headers=AUTH).json()
    assert stored["text"] == notes


def test_server_errors_exit_1_with_the_message(server: LiveServer, tmp_path: Path) -> None:
    table = tmp_path / "bad.md"
    table.write_text("| Run ID | Val AUC |\n|---|---|\n| a | 0.8 |\n| b | great |\n")
    done = labbook(server, "import", "churn", str(table))
    assert done.returncode == 1
    assert done.stderr.startswith('error: line 4, column "Val AUC": "great" is not a number')
    assert done.stderr.rstrip().endswith("(run_table_invalid, HTTP 422, line 4)")
    assert "Traceback" not in done.stderr


def test_unknown_project_and_bad_token(server: LiveServer, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert "project_not_found, HTTP 404" in labbook(server, "log", "nope", str(notes)).stderr
    denied = labbook(server, "log", "churn", str(notes), "--token", "wrong")
    assert denied.returncode == 1
    assert "unauthorized, HTTP 401" in denied.stderr
    assert "wrong" not in denied.stderr.replace("unauthorized", "")


def test_unreachable_server_is_a_clear_error(server: LiveServer, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    done = labbook(server, "log", "churn", str(notes), "--url", "http://127.0.0.1:9")
    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot reach Labbook at http://127.0.0.1:9")


def test_sync_prints_what_each_experiment_brought(server: LiveServer, mlflow_server: MlflowServer) -> None:
    mlflow = MlflowClient(mlflow_server.url)
    name = f"cli-sync-{uuid.uuid4().hex[:8]}"
    experiment_id = mlflow.create_experiment(name)
    run_id = mlflow.create_run(experiment_id).info.run_id
    mlflow.set_terminated(run_id)
    body = {"slug": "synced", "name": "Synced", "primary_metric": "auc", "metric_direction": "max"}
    body |= {"mlflow_experiments": [name], "tracking_uri": mlflow_server.url}
    assert httpx.post(f"{server.url}/v1/projects", json=body, headers=AUTH).status_code == 201

    done = labbook(server, "sync", "synced")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (
        f"experiment {experiment_id} '{name}' (full): 1 read, 1 created, 0 updated, 0 unchanged, 0 still running"
    )
    assert lines[1].startswith(f"runs: 1 created, 0 updated, 0 unchanged from {mlflow_server.url} in ")
    again = labbook(server, "sync", "synced", "--full").stdout.splitlines()
    assert again[0].endswith("(full): 1 read, 0 created, 0 updated, 1 unchanged, 0 still running")

    missing = labbook(server, "sync", "churn")
    assert missing.returncode == 1
    assert "tracking_not_configured, HTTP 422" in missing.stderr and "Traceback" not in missing.stderr
