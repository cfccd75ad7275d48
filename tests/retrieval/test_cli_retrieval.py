"""`labbook search` against a real `labbook serve` (whose in-process worker indexes the dumps), then `labbook reindex`
on the same data once the server has stopped: real processes, the packaged model, Chroma embedded (or the server
scripts/test starts)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.live import LiveServer, live_server
from tests.retrieval.conftest import CHROMA_URL

TOKEN = "cli-retrieval-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ENV = {
    "LABBOOK_RETRIEVAL": "on",
    "LABBOOK_OUTBOX_POLL_SECONDS": "0.2",
    **({"LABBOOK_CHROMA_URL": CHROMA_URL} if CHROMA_URL else {}),
}


def labbook(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "labbook"), *args]
    return subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env}, timeout=120, check=False)


def _indexed(server: LiveServer) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = httpx.get(f"{server.url}/v1/projects/churn/search", params={"q": "x"}, headers=AUTH)
        # 503 with Retry-After: Chroma did not answer in time (a shared server under load); ask again, as a client does.
        assert response.status_code in (200, 503), response.text
        if response.status_code == 200 and response.json()["not_indexed"] == 0:
            return
        time.sleep(0.2)
    raise AssertionError(f"the in-process worker did not index the dumps: {response.status_code} {response.text}")


def test_search_prints_the_answer_and_reindex_rebuilds_from_the_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with live_server(data, token=TOKEN, env=ENV) as server:
        body = {"slug": "churn", "name": "Churn", "primary_metric": "Val AUC", "metric_direction": "max"}
        assert httpx.post(f"{server.url}/v1/projects", json=body, headers=AUTH).status_code == 201
        for day, text in [
            ("2026-10-01", "Random forest overfit the holdout badly; dropping the forests."),
            ("2026-10-02", "Target encoding of merchant_id leaked the label."),
        ]:
            response = httpx.post(
                f"{server.url}/v1/projects/churn/logs", json={"text": text, "session_date": day}, headers=AUTH
            )
            assert response.status_code == 201, response.text
        _indexed(server)
        found = labbook(
            "search", "churn", "why did we drop RF", env={"LABBOOK_URL": server.url, "LABBOOK_TOKEN": TOKEN}
        )
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith("# Search: why did we drop RF")
    assert "1. [entry 1, 2026-10-01]" in found.stdout

    local = {"LABBOOK_DATA_DIR": str(data), **ENV}
    rebuilt = labbook("reindex", "churn", env=local)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "churn: 4 sources" in rebuilt.stdout and "(0 embedded, 0 removed)" in rebuilt.stdout  # all indexed already
