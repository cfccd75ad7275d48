"""`labbook summary | next | tried | repro | brief`: the installed console script against a real server process,
printing the document's Markdown."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import HISTORY_CSV, hist_id
from tests.live import LiveServer, live_server

TOKEN = "cli-docs-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("server"), token=TOKEN) as running:
        body = {"slug": "churn", "name": "Churn", "primary_metric": "Val AUC", "metric_direction": "max"}
        assert httpx.post(f"{running.url}/v1/projects", json=body, headers=AUTH).status_code == 201
        table = {"table": HISTORY_CSV, "format": "csv"}
        assert httpx.post(f"{running.url}/v1/projects/churn/runs/import", json=table, headers=AUTH).is_success
        yield running


def labbook(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LABBOOK_URL": server.url, "LABBOOK_TOKEN": TOKEN}
    command = [str(Path(sys.executable).parent / "labbook"), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)


def entries(server: LiveServer, kind: str) -> list[dict[str, object]]:
    response = httpx.get(f"{server.url}/v1/projects/churn/entries", params={"kind": kind}, headers=AUTH)
    items: list[dict[str, object]] = response.json()["items"]
    return items


@pytest.mark.parametrize(
    ("args", "kind"),
    [
        (["summary", "churn", "--since", "2026-11-01", "--until", "2026-11-30"], "phase_summary"),
        (["next", "churn", "--budget-runs", "4", "--deadline", "2026-12-31"], "next_experiments"),
        (["tried", "churn", "lightgbm with num_leaves=63"], "tried_answer"),
        (["repro", "churn", "smote-c"], "reproduction_report"),
        (["brief", "churn", "--audience", "Sam"], "handover_brief"),
    ],
)
def test_each_command_prints_the_stored_document(server: LiveServer, args: list[str], kind: str) -> None:
    done = labbook(server, *args)
    assert done.returncode == 0, done.stderr
    [stored] = entries(server, kind)[-1:]
    assert done.stdout == f"{stored['markdown']}\n"
    assert done.stdout.startswith("# ")


def test_repro_prints_the_run_it_resolved(server: LiveServer) -> None:
    done = labbook(server, "repro", "churn", "444444")
    assert done.returncode == 0, done.stderr
    assert f"Run smote-c ({hist_id('4')[:8]})" in done.stdout  # the run it resolved, by its label


def test_unknown_run_exits_1_naming_the_field(server: LiveServer) -> None:
    done = labbook(server, "repro", "churn", "no-such-run")
    assert done.returncode == 1
    assert "'no-such-run' is not a stored run" in done.stderr and "input_invalid, HTTP 422" in done.stderr
    assert "Traceback" not in done.stderr
