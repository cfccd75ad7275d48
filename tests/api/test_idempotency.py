"""`Idempotency-Key` on POST, against the real app: a retry with the same key and request answers with the first
answer and creates nothing; another request under the same key is a 422; a first attempt still running is a 409; a
first attempt that died after committing its dump is answered with that dump."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.services import idempotency
from app.storage.models import IdempotencyKey, Project, SessionLog
from app.storage.types import utcnow
from tests.conftest import ADMIN_TOKEN
from tests.factories import bearer, create_project, make_token, project_body

LOGS = "/v1/projects/churn/logs"
DUMP = {"text": "Tried class weights: val auc 0.861. Next: try focal loss."}


def key(value: str = "retry-1") -> dict[str, str]:
    return {"Idempotency-Key": value}


def logs_of(client: TestClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get(LOGS).json()["items"]
    return items


def stored_keys(session: Session) -> list[IdempotencyKey]:
    session.expire_all()
    return list(session.exec(select(IdempotencyKey)))


@pytest.fixture
def churn(client: TestClient) -> Iterator[TestClient]:
    create_project(client)
    yield client


class TestCreateLogWithKey:
    def test_same_key_and_body_twice_is_one_dump(self, churn: TestClient) -> None:
        first = churn.post(LOGS, json=DUMP, headers=key())
        again = churn.post(LOGS, json=DUMP, headers=key())
        assert first.status_code == again.status_code == 201
        assert "idempotent-replayed" not in first.headers
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        assert again.headers["content-type"] == first.headers["content-type"]
        assert [log["id"] for log in logs_of(churn)] == [first.json()["id"]]

    def test_same_key_another_body_is_422_naming_the_header(self, churn: TestClient) -> None:
        assert churn.post(LOGS, json=DUMP, headers=key()).status_code == 201
        response = churn.post(LOGS, json={"text": "something else"}, headers=key())
        assert response.status_code == 422
        assert response.json()["error"] == {
            "code": "idempotency_key_reused",
            "message": "this Idempotency-Key was already used with another request",
            "field": "Idempotency-Key",
        }
        assert len(logs_of(churn)) == 1

    def test_another_key_is_another_dump(self, churn: TestClient) -> None:
        assert churn.post(LOGS, json=DUMP, headers=key("a")).status_code == 201
        assert churn.post(LOGS, json=DUMP, headers=key("b")).status_code == 201
        assert churn.post(LOGS, json=DUMP).status_code == 201
        assert len(logs_of(churn)) == 3

    def test_markdown_answer_replays_as_markdown(self, churn: TestClient) -> None:
        headers = {**key(), "Accept": "text/markdown"}
        first = churn.post(LOGS, json=DUMP, headers=headers)
        again = churn.post(LOGS, json=DUMP, headers=headers)
        assert first.status_code == again.status_code == 201
        assert first.headers["content-type"].startswith("text/markdown")
        assert again.headers["content-type"] == first.headers["content-type"]
        assert again.text == first.text and again.text.startswith("#")
        assert len(logs_of(churn)) == 1

    def test_same_key_with_another_accept_is_422(self, churn: TestClient) -> None:
        """A JSON client must never be handed the Markdown answer stored under its key."""
        assert churn.post(LOGS, json=DUMP, headers={**key(), "Accept": "text/markdown"}).status_code == 201
        response = churn.post(LOGS, json=DUMP, headers={**key(), "Accept": "application/json"})
        assert response.status_code == 422 and response.json()["error"]["field"] == "Idempotency-Key"

    def test_the_request_links_its_key_to_the_dump_in_its_own_transaction(
        self, churn: TestClient, session: Session
    ) -> None:
        """The route's thread sees the key the middleware claimed (the context is copied into it)."""
        log_id = churn.post(LOGS, json=DUMP, headers=key()).json()["id"]
        [record] = stored_keys(session)
        assert (record.replay_path, record.state, record.response_status) == (f"/v1/logs/{log_id}", "complete", 201)
        assert record.scope == idempotency.caller_scope(f"Bearer {ADMIN_TOKEN}")
        assert record.key == "retry-1" and len(record.fingerprint) == 64

    def test_a_422_is_replayed_too(self, churn: TestClient) -> None:
        body = {"text": "x", "session_date": "2999-01-01"}
        first = churn.post(LOGS, json=body, headers=key())
        again = churn.post(LOGS, json=body, headers=key())
        assert first.status_code == again.status_code == 422
        assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"


class TestAfterACrash:
    """The state a kill -9 leaves, written through the storage layer: what a retry then gets."""

    def dump_and_key(self, session: Session, *, replay_path: str | None, age: timedelta) -> SessionLog:
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
        body = json.dumps(DUMP).encode()
        when = utcnow() - age
        session.add(
            IdempotencyKey(
                scope=idempotency.caller_scope(f"Bearer {ADMIN_TOKEN}"),
                key="retry-1",
                fingerprint=idempotency.fingerprint("POST", LOGS, b"", body, "application/json", "*/*"),
                replay_path=replay_path and replay_path.format(id=log.id),
                response_status=201 if replay_path else None,
                created_at=when,
                claimed_at=when,
            )
        )
        session.commit()
        return log

    def post(self, client: TestClient) -> Any:
        headers = {**key(), "Content-Type": "application/json", "Accept": "*/*"}
        return client.post(LOGS, content=json.dumps(DUMP).encode(), headers=headers)

    def test_dump_committed_then_died_retry_answers_with_that_dump(self, churn: TestClient, session: Session) -> None:
        log = self.dump_and_key(session, replay_path="/v1/logs/{id}", age=timedelta(seconds=1))
        response = self.post(churn)
        assert response.status_code == 201, response.text
        assert response.headers["idempotent-replayed"] == "true"
        assert response.json()["id"] == log.id and response.json()["text"] == DUMP["text"]
        assert [item["id"] for item in logs_of(churn)] == [log.id]

    def test_also_long_after_the_lease(self, churn: TestClient, session: Session) -> None:
        log = self.dump_and_key(session, replay_path="/v1/logs/{id}", age=timedelta(hours=2))
        assert self.post(churn).json()["id"] == log.id
        assert len(logs_of(churn)) == 1

    def test_first_attempt_still_running_is_409_with_retry_after(self, churn: TestClient, session: Session) -> None:
        self.dump_and_key(session, replay_path=None, age=timedelta(seconds=1))
        response = self.post(churn)
        assert response.status_code == 409
        assert response.headers["retry-after"] == "1"
        assert response.json()["error"]["code"] == "idempotency_key_in_use"
        assert response.json()["error"]["field"] == "Idempotency-Key"

    def test_first_attempt_died_before_creating_anything_is_run_again(
        self, churn: TestClient, session: Session
    ) -> None:
        """Past the lease, an unlinked pending key is taken over (here a dump exists only to tell the two apart)."""
        self.dump_and_key(session, replay_path=None, age=timedelta(minutes=5))
        response = self.post(churn)
        assert response.status_code == 201 and "idempotent-replayed" not in response.headers
        assert len(logs_of(churn)) == 2
        assert self.post(churn).json() == response.json()

    def test_a_key_older_than_a_day_is_forgotten(self, churn: TestClient, session: Session) -> None:
        self.dump_and_key(session, replay_path="/v1/logs/{id}", age=timedelta(hours=25))
        response = self.post(churn)
        assert response.status_code == 201 and "idempotent-replayed" not in response.headers
        assert len(logs_of(churn)) == 2

    def test_expired_keys_are_purged_by_a_later_keyed_request(
        self, churn: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        old = utcnow() - timedelta(hours=25)
        session.add(IdempotencyKey(scope="s" * 64, key="old", fingerprint="f" * 64, created_at=old, claimed_at=old))
        session.commit()
        monkeypatch.setattr(idempotency, "_last_purge", 0.0)  # the purge runs at most once a minute per process
        assert churn.post(LOGS, json=DUMP, headers=key()).status_code == 201
        assert [record.key for record in stored_keys(session)] == ["retry-1"]


class TestFailures:
    def test_a_500_releases_the_key_so_the_retry_runs(
        self, churn: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Fault injection: project creation raises once, as a bug would."""
        from app.services import projects as projects_service

        real = projects_service.create_project
        calls = []

        def failing_once(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("injected")
            return real(*args, **kwargs)

        monkeypatch.setattr(projects_service, "create_project", failing_once)
        lenient = TestClient(churn.app, raise_server_exceptions=False, headers=bearer(ADMIN_TOKEN))
        body = project_body("other")
        assert lenient.post("/v1/projects", json=body, headers=key()).status_code == 500
        assert stored_keys(session) == []
        retried = lenient.post("/v1/projects", json=body, headers=key())
        assert retried.status_code == 201 and "idempotent-replayed" not in retried.headers
        assert lenient.post("/v1/projects", json=body, headers=key()).headers["idempotent-replayed"] == "true"
        assert [record.replay_path for record in stored_keys(session)] == ["/v1/projects/other"]

    def test_a_500_after_the_dump_was_committed_keeps_the_key(
        self, churn: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Fault injection: building the answer fails after the dump's commit; the retry gets that dump, not a
        second one."""
        from app.services import logs as logs_service

        def failing(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("injected")

        monkeypatch.setattr(logs_service, "_public", failing)
        lenient = TestClient(churn.app, raise_server_exceptions=False, headers=bearer(ADMIN_TOKEN))
        assert lenient.post(LOGS, json=DUMP, headers=key()).status_code == 500
        monkeypatch.undo()
        [log] = logs_of(churn)
        retried = churn.post(LOGS, json=DUMP, headers=key())
        assert retried.status_code == 201 and retried.headers["idempotent-replayed"] == "true"
        assert retried.json()["id"] == log["id"]
        assert len(logs_of(churn)) == 1

    def test_a_project_created_then_died_retry_answers_with_the_project(
        self, churn: TestClient, session: Session
    ) -> None:
        body = json.dumps(project_body("other")).encode()
        session.add(Project(**project_body("other")))
        session.add(
            IdempotencyKey(
                scope=idempotency.caller_scope(f"Bearer {ADMIN_TOKEN}"),
                key="retry-1",
                fingerprint=idempotency.fingerprint("POST", "/v1/projects", b"", body, "application/json", "*/*"),
                replay_path="/v1/projects/other",
                response_status=201,
            )
        )
        session.commit()
        headers = {**key(), "Content-Type": "application/json", "Accept": "*/*"}
        response = churn.post("/v1/projects", content=body, headers=headers)
        assert response.status_code == 201 and response.json()["slug"] == "other"


class TestCallers:
    def test_two_callers_with_the_same_key_are_independent(self, churn: TestClient) -> None:
        other = bearer(make_token(churn, "ana"))
        mine = churn.post(LOGS, json=DUMP, headers=key())
        theirs = churn.post(LOGS, json=DUMP, headers={**key(), **other})
        assert mine.status_code == theirs.status_code == 201
        assert mine.json()["id"] != theirs.json()["id"]
        assert theirs.json()["author"] == "ana"
        assert len(logs_of(churn)) == 2

    def test_an_unknown_token_is_401_and_stores_no_key(self, churn: TestClient, session: Session) -> None:
        response = churn.post(LOGS, json=DUMP, headers={**key(), **bearer("nope")})
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        assert stored_keys(session) == []

    def test_a_revoked_token_cannot_replay(self, churn: TestClient) -> None:
        secret = make_token(churn, "ana")
        assert churn.post(LOGS, json=DUMP, headers={**key(), **bearer(secret)}).status_code == 201
        token_id = next(t["id"] for t in churn.get("/v1/tokens").json() if t["name"] == "ana")
        assert churn.delete(f"/v1/tokens/{token_id}").status_code == 200
        assert churn.post(LOGS, json=DUMP, headers={**key(), **bearer(secret)}).status_code == 401


class TestKeys:
    @pytest.mark.parametrize("value", ["", "x" * 201, "two words", "tab\there"])
    def test_a_malformed_key_is_422(self, churn: TestClient, value: str) -> None:
        response = churn.post(LOGS, json=DUMP, headers=key(value))
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "idempotency_key_invalid"
        assert response.json()["error"]["field"] == "Idempotency-Key"
        assert logs_of(churn) == []

    def test_a_key_of_200_characters_is_taken(self, churn: TestClient) -> None:
        assert churn.post(LOGS, json=DUMP, headers=key("k" * 200)).status_code == 201

    def test_token_creation_takes_no_key(self, client: TestClient) -> None:
        """Its answer holds the secret, shown once: never stored, so nothing could be replayed."""
        response = client.post("/v1/tokens", json={"name": "ana"}, headers=key())
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "Idempotency-Key"
        assert "/v1/tokens" in response.json()["error"]["message"]
        assert client.get("/v1/tokens").json() == []

    def test_a_key_on_a_read_is_ignored(self, churn: TestClient) -> None:
        assert churn.get(LOGS, headers=key("")).status_code == 200


class TestDocuments:
    def test_a_summary_retried_is_one_entry(self, churn: TestClient, session: Session) -> None:
        churn.post(LOGS, json=DUMP)
        first = churn.post("/v1/projects/churn/summaries", json={}, headers=key())
        again = churn.post("/v1/projects/churn/summaries", json={}, headers=key())
        assert first.status_code == again.status_code == 201
        assert again.json()["id"] == first.json()["id"]
        kinds = [e["kind"] for e in churn.get("/v1/projects/churn/entries").json()["items"]]
        assert kinds.count("phase_summary") == 1
        [record] = stored_keys(session)
        assert record.replay_path == f"/v1/entries/{first.json()['id']}"


def test_openapi_declares_the_header_on_every_post_but_token_creation(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    posts = {path: ops["post"] for path, ops in paths.items() if "post" in ops}
    assert len(posts) >= 10
    for path, operation in posts.items():
        names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        assert names.count("Idempotency-Key") == (0 if path == "/v1/tokens" else 1), path
    logs = posts[LOGS.replace("churn", "{slug}")]
    assert "409" in logs["responses"]
    assert client.get("/openapi.json").json()["paths"] == paths  # declared once, however often it is read
