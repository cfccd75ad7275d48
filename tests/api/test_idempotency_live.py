"""`Idempotency-Key` against a real `labbook serve` process (SQLite here, PostgreSQL under scripts/test): retries and
concurrent copies of one request store one dump, and a retry after a crash that left a committed dump answers with
that dump."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast

import httpx
import pytest
from sqlmodel import Session, select

from app.services import idempotency
from app.storage.models import IdempotencyKey, Project, SessionLog
from app.storage.types import utcnow
from tests.live import LiveServer, live_server

TOKEN = "idempotency-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DUMP = {"text": "Tried focal loss (gamma=2): val auc 0.864, best so far. Next: tune gamma."}


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    with live_server(tmp_path, token=TOKEN, database_url=database_url) as running:
        body = {"slug": "churn", "name": "Churn", "primary_metric": "val_auc", "metric_direction": "max"}
        assert httpx.post(f"{running.url}/v1/projects", json=body, headers=AUTH).status_code == 201
        yield running


def post_dump(server: LiveServer, key: str, body: dict[str, str] = DUMP, auth: dict[str, str] = AUTH) -> httpx.Response:
    headers = {**auth, "Idempotency-Key": key, "Content-Type": "application/json", "Accept": "*/*"}
    return httpx.post(f"{server.url}/v1/projects/churn/logs", content=json.dumps(body), headers=headers, timeout=60)


def dump_ids(server: LiveServer) -> list[int]:
    return [log["id"] for log in httpx.get(f"{server.url}/v1/projects/churn/logs", headers=AUTH).json()["items"]]


def test_a_retry_is_the_first_answer_and_another_body_is_422(server: LiveServer) -> None:
    first, again = post_dump(server, "k1"), post_dump(server, "k1")
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    changed = post_dump(server, "k1", {"text": "another dump"})
    assert changed.status_code == 422 and changed.json()["error"]["field"] == "Idempotency-Key"
    assert dump_ids(server) == [first.json()["id"]]


def test_concurrent_copies_of_one_request_store_one_dump(server: LiveServer) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: post_dump(server, "burst"), range(8)))
    statuses = [r.status_code for r in responses]
    # The first runs; the others replay it, follow its dump, or (while it still runs) are told to retry.
    assert set(statuses) <= {201, 409} and 201 in statuses, [r.text for r in responses]
    assert all(r.headers["retry-after"] == "1" for r in responses if r.status_code == 409)
    [log_id] = dump_ids(server)
    assert {r.json()["id"] for r in responses if r.status_code == 201} == {log_id}
    assert post_dump(server, "burst").json()["id"] == log_id


def test_after_a_crash_that_left_the_dump_the_retry_answers_with_it(server: LiveServer, session: Session) -> None:
    """The state a kill -9 leaves right after the dump's commit: the dump, and its key pending and linked to it
    (written through the storage layer into the server's database)."""
    project = session.exec(select(Project)).one()
    log = SessionLog(
        project_id=cast(int, project.id),
        text=DUMP["text"],
        author="admin",
        session_date=utcnow().date(),
        received_sha256="0" * 64,
    )
    session.add(log)
    session.flush()
    request = ("POST", "/v1/projects/churn/logs", b"", json.dumps(DUMP), "application/json", "*/*")
    session.add(
        IdempotencyKey(
            scope=idempotency.caller_scope(AUTH["Authorization"]),
            key="crashed",
            fingerprint=idempotency.fingerprint(*request),
            replay_path=f"/v1/logs/{log.id}",
            response_status=201,
        )
    )
    session.commit()
    retried = post_dump(server, "crashed")
    assert retried.status_code == 201, retried.text
    assert retried.headers["idempotent-replayed"] == "true"
    assert retried.json()["id"] == log.id
    assert dump_ids(server) == [log.id]


def test_two_callers_with_one_key_are_independent(server: LiveServer) -> None:
    created = httpx.post(f"{server.url}/v1/tokens", json={"name": "ana"}, headers=AUTH)
    other = {"Authorization": f"Bearer {created.json()['token']}"}
    mine, theirs = post_dump(server, "same"), post_dump(server, "same", auth=other)
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert sorted(dump_ids(server)) == sorted([mine.json()["id"], theirs.json()["id"]])
