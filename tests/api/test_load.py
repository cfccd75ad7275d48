"""Load against a real `labbook serve` process (SQLite here, PostgreSQL under scripts/test): concurrent brain dumps
all get their entry, a burst far beyond capacity is shed with 503 and the service answers normally right after it,
and a client that gives up while its request waits is dropped before its work starts.

The bounds are generous (30 s to recover), so these are not timing tests; bench/load.py measures the figures."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.live import LiveServer, live_server

TOKEN = "load-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
RUNS = "run_id,model,learning_rate,seed,val_auc\n" + "".join(
    f"{i:032x},{'lightgbm' if i % 2 else 'xgboost'},0.{i % 9 + 1},{i % 3},0.{8000 + i}\n" for i in range(1, 201)
)


def dump(i: int) -> dict[str, object]:
    run = f"{i % 200 + 1:032x}"
    return {
        "text": f"Session {i}: tried lr 0.0{i % 9 + 1} on run {run[:8]}; AUC 0.{8000 + i % 200 + 1} on val. "
        "Didn't help much vs the baseline. Next: try deeper trees. Open question: is the split leaking?",
        "run_ids": [run],
    }


def make_project(server: LiveServer, slug: str = "churn") -> None:
    body = {"slug": slug, "name": "Churn", "primary_metric": "val_auc", "metric_direction": "max"}
    assert httpx.post(f"{server.url}/v1/projects", json=body, headers=AUTH).status_code == 201
    imported = httpx.post(
        f"{server.url}/v1/projects/{slug}/runs/import",
        content=RUNS,
        headers={**AUTH, "Content-Type": "text/csv"},
        timeout=60,
    )
    assert imported.status_code == 200, imported.text


def all_logs(server: LiveServer, slug: str) -> list[dict[str, object]]:
    logs: list[dict[str, object]] = []
    params: dict[str, str | int] = {"limit": 200}
    while True:
        page = httpx.get(f"{server.url}/v1/projects/{slug}/logs", params=params, headers=AUTH, timeout=30).json()
        logs += page["items"]
        if page["next_cursor"] is None:
            return logs
        params["cursor"] = page["next_cursor"]


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    """Waiting requests wait long enough never to be shed here, however slow a loaded machine is: this is about
    writers, not shedding."""
    env = {"LABBOOK_QUEUE_WAIT_SECONDS": "60"}
    with live_server(tmp_path, token=TOKEN, database_url=database_url, env=env) as running:
        yield running


@pytest.mark.parametrize("writers", [8, 32])
def test_concurrent_dumps_each_get_their_entry(server: LiveServer, writers: int) -> None:
    make_project(server)
    url = f"{server.url}/v1/projects/churn/logs"
    dumps = writers * 3

    def post(i: int) -> httpx.Response:
        return httpx.post(url, json=dump(i), headers=AUTH, timeout=120)

    with ThreadPoolExecutor(max_workers=writers) as pool:
        responses = list(pool.map(post, range(dumps)))
    # Every answer is a stored dump with its entry.
    assert [r.status_code for r in responses] == [201] * dumps, [r.text for r in responses if r.status_code != 201]
    assert all(r.json()["entry_id"] is not None for r in responses), [r.json() for r in responses]
    logs = all_logs(server, "churn")
    assert len(logs) == dumps
    assert all(log["entry_id"] is not None for log in logs)
    # Nothing was left for the worker to compose.
    pending = httpx.get(f"{server.url}/v1/outbox", params={"state": "pending"}, headers=AUTH).json()["items"]
    assert [item for item in pending if item["kind"] == "compose_entry"] == []


@pytest.fixture
def small_server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    """Room for 2 requests at once and 4 waiting, so a burst of a few hundred is far beyond capacity."""
    env = {"LABBOOK_MAX_CONCURRENCY": "2", "LABBOOK_MAX_QUEUE": "4", "LABBOOK_QUEUE_WAIT_SECONDS": "1"}
    with live_server(tmp_path, token=TOKEN, database_url=database_url, env=env) as running:
        yield running


async def burst(server: LiveServer, n: int) -> tuple[list[httpx.Response | Exception], list[httpx.Response]]:
    """`n` requests at once (findings, dumps and reads), with /healthz probed while they run."""
    # No keep-alive: a connection reused just as the server closes it for idling is a client-side race, not the
    # server's answer.
    limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.url, headers=AUTH, timeout=60, limits=limits) as client:

        async def one(i: int) -> httpx.Response:
            if i % 4 == 0:
                return await client.post("/v1/projects/churn/logs", json=dump(i))
            if i % 4 == 1:
                return await client.get("/v1/projects/churn/findings")
            return await client.get("/v1/projects/churn/runs", params={"limit": 200})

        tasks = [asyncio.ensure_future(one(i)) for i in range(n)]
        probes = []
        while not all(task.done() for task in tasks):  # probed every 0.1 s until the burst is over
            probes.append(await client.get("/healthz", timeout=5))
            await asyncio.sleep(0.1)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        # Shedding is quick, so the burst may be over before a probe saw it: one more, right after.
        probes.append(await client.get("/healthz", timeout=5))
    return [r if isinstance(r, httpx.Response | Exception) else Exception(r) for r in results], probes


def test_a_burst_beyond_capacity_is_shed_and_the_service_recovers(small_server: LiveServer) -> None:
    server = small_server
    make_project(server)
    results, probes = asyncio.run(burst(server, 300))
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    statuses = Counter(r.status_code for r in results if isinstance(r, httpx.Response))
    # Shed, not queued without bound; everything else succeeded; nothing failed.
    assert statuses[503] > 0, statuses
    assert set(statuses) <= {200, 201, 503}, statuses
    shed = next(r for r in results if isinstance(r, httpx.Response) and r.status_code == 503)
    assert shed.headers["retry-after"] == "1"
    assert shed.json()["error"]["code"] == "overloaded"
    # /healthz answered during the burst, and honestly.
    assert probes and [p.status_code for p in probes] == [200] * len(probes)
    assert any(p.json()["status"] == "busy" for p in probes), [p.json() for p in probes]
    # Back to normal right after: health, a read and a write.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        health = httpx.get(f"{server.url}/healthz", timeout=5)
        if health.status_code == 200 and health.json()["load"]["in_flight"] == 0:
            break
        time.sleep(0.2)
    assert health.json()["load"]["in_flight"] == 0, health.json()
    assert health.json()["load"]["shed"] == statuses[503]
    assert httpx.get(f"{server.url}/v1/projects/churn/runs", headers=AUTH, timeout=5).status_code == 200
    posted = httpx.post(f"{server.url}/v1/projects/churn/logs", json=dump(1), headers=AUTH, timeout=10)
    assert posted.status_code == 201 and posted.json()["entry_id"] is not None
    # Every dump that was answered 201 has its entry; a shed dump was never stored.
    stored = all_logs(server, "churn")
    answered = sum(1 for r in results if isinstance(r, httpx.Response) and r.status_code == 201) + 1
    assert len(stored) == answered
    assert all(log["entry_id"] is not None for log in stored)


def test_a_client_that_leaves_while_waiting_is_dropped(tmp_path: Path, database_url: str) -> None:
    env = {"LABBOOK_MAX_CONCURRENCY": "1", "LABBOOK_MAX_QUEUE": "8", "LABBOOK_QUEUE_WAIT_SECONDS": "30"}
    big = "run_id,model,val_auc\n" + "".join(f"big{i:05d},lightgbm,0.{8000 + i % 999}\n" for i in range(20000))
    with live_server(tmp_path, token=TOKEN, database_url=database_url, env=env) as server:
        make_project(server)
        with ThreadPoolExecutor(max_workers=1) as pool:
            # One slow import holds the only slot...
            slow = pool.submit(
                httpx.post,
                f"{server.url}/v1/projects/churn/runs/import",
                content=big,
                headers={**AUTH, "Content-Type": "text/csv"},
                timeout=120,
            )
            _wait_until(lambda: httpx.get(f"{server.url}/healthz").json()["load"]["in_flight"] == 1)
            # ... and a dump that waits behind it is given up by its client.
            with pytest.raises(httpx.ReadTimeout):
                httpx.post(f"{server.url}/v1/projects/churn/logs", json=dump(7), headers=AUTH, timeout=0.5)
            _wait_until(lambda: httpx.get(f"{server.url}/healthz").json()["load"]["dropped"] == 1)
            assert slow.result().status_code == 200
        # The abandoned dump was never started, let alone stored.
        assert all_logs(server, "churn") == []


def _wait_until(condition: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
