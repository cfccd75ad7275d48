"""Concurrent writers against a real server process (SQLite here, PostgreSQL under scripts/test): the same runs
imported at once are stored once, a slug claimed at once exists once, and nobody gets a 500."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.live import LiveServer, live_server

TOKEN = "concurrency-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TABLE = "run_id,model,val_auc\n" + "".join(f"run{i:04d},lightgbm,0.{8000 + i}\n" for i in range(1500))


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    with live_server(tmp_path, token=TOKEN, database_url=database_url) as running:
        yield running


def post(url: str, **kwargs: object) -> httpx.Response:
    return httpx.post(url, headers={**AUTH, **kwargs.pop("headers", {})}, timeout=60, **kwargs)  # type: ignore[arg-type]


def test_same_table_imported_at_once_is_stored_once(server: LiveServer) -> None:
    body = {"slug": "churn", "name": "Churn", "primary_metric": "val_auc", "metric_direction": "max"}
    assert post(f"{server.url}/v1/projects", json=body).status_code == 201
    url = f"{server.url}/v1/projects/churn/runs/import"
    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda _: post(url, content=TABLE, headers={"Content-Type": "text/csv"}), range(6)))
    # The losers of the race retry once inside the request and find the winner's runs: all succeed.
    assert [r.status_code for r in responses] == [200] * 6, [r.text for r in responses]
    assert sum(r.json()["created"] for r in responses) == 1500
    assert sum(r.json()["unchanged"] for r in responses) == 1500 * 5
    assert sorted(all_run_ids(server, "churn")) == [f"run{i:04d}" for i in range(1500)]


def all_run_ids(server: LiveServer, slug: str) -> list[str]:
    ids: list[str] = []
    params: dict[str, str | int] = {"limit": 500}
    while True:
        page = httpx.get(f"{server.url}/v1/projects/{slug}/runs", params=params, headers=AUTH).json()
        ids += [r["run_id"] for r in page["items"]]
        if page["next_cursor"] is None:
            return ids
        params["cursor"] = page["next_cursor"]


def test_same_slug_claimed_at_once_exists_once(server: LiveServer) -> None:
    body = {"slug": "race", "name": "Race", "primary_metric": "auc", "metric_direction": "max"}
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(lambda _: post(f"{server.url}/v1/projects", json=body).status_code, range(6)))
    assert statuses == [201, 409, 409, 409, 409, 409]
    listed = httpx.get(f"{server.url}/v1/projects", headers=AUTH).json()["items"]
    assert [p["slug"] for p in listed] == ["race"]
