from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from app.compose.log_entry import kind as log_entry_kind
from app.config import Settings
from app.storage.db import _writer_turns
from tests.factories import EXAMPLE_TABLE, create_project

MESSY = "ok so today:  smote (5c6d70a1) vs none -> didnt help\n\n  * tried lr 0.1\r\n\ttomorrow: group split 🚀 "


def post_log(client: TestClient, slug: str = "churn", **body: Any) -> Any:
    return client.post(f"/v1/projects/{slug}/logs", json=body)


class TestCreateLog:
    def test_stored_verbatim_with_id(self, client: TestClient) -> None:
        create_project(client)
        response = post_log(client, text=MESSY, author="dana", session_date="2026-11-20", run_ids=["5c6d70a1"])
        assert response.status_code == 201
        data = response.json()
        assert isinstance(data["id"], int)
        assert data["text"] == MESSY
        assert data["author"] == "dana"
        assert data["session_date"] == "2026-11-20"
        assert data["run_refs"] == ["5c6d70a1"]
        assert data["received_sha256"] == hashlib.sha256(MESSY.encode()).hexdigest()
        assert client.get(f"/v1/logs/{data['id']}").json()["text"] == MESSY

    def test_author_defaults_to_token_name(self, client: TestClient) -> None:
        create_project(client)
        token = client.post("/v1/tokens", json={"name": "priya"}).json()["token"]
        response = client.post(
            "/v1/projects/churn/logs", json={"text": "note"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.json()["author"] == "priya"

    def test_session_date_defaults_to_today(self, client: TestClient) -> None:
        create_project(client)
        data = post_log(client, text="note").json()
        assert data["session_date"] == data["received_at"][:10]

    def test_pasted_table_imports_runs(self, client: TestClient) -> None:
        create_project(client)
        response = post_log(client, text="three runs today", run_table=EXAMPLE_TABLE)
        assert response.status_code == 201
        assert response.json()["run_import"]["created"] == 3
        assert len(client.get("/v1/projects/churn/runs").json()["items"]) == 3

    def test_blank_table_is_kept_and_imports_nothing(self, client: TestClient) -> None:
        create_project(client)
        response = post_log(client, text="no runs today", run_table="  \n")
        assert response.status_code == 201
        assert response.json()["run_table"] == "  \n"
        assert response.json()["run_import"] is None

    @pytest.mark.parametrize("blank", ["", "   \n\t "])
    def test_empty_dump_is_422(self, client: TestClient, blank: str) -> None:
        create_project(client)
        response = post_log(client, text=blank)
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "text"

    def test_future_date_is_422(self, client: TestClient) -> None:
        create_project(client)
        response = post_log(client, text="note", session_date="2999-01-01")
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "session_date"

    def test_unknown_project_is_404(self, client: TestClient) -> None:
        assert post_log(client, "nope", text="note").status_code == 404

    def test_dump_is_kept_when_its_table_fails(self, client: TestClient) -> None:
        create_project(client)
        bad = "| Run ID | Val AUC |\n|---|---|\n| a | 0.8 |\n| b | oops |\n"
        response = post_log(client, text="kept no matter what", run_table=bad)
        assert response.status_code == 422
        error = response.json()["error"]
        assert (error["code"], error["line"], error["field"]) == ("run_table_invalid", 4, "run_table")
        stored = client.get(f"/v1/logs/{error['log_id']}").json()
        assert stored["text"] == "kept no matter what"
        assert stored["run_table"] == bad
        # the table's transaction rolled back as a whole: run 'a' was not half-imported
        assert client.get("/v1/projects/churn/runs").json()["items"] == []

    def test_dump_is_committed_before_later_steps(self, client: TestClient, engine: Any) -> None:
        """Read through a second connection while the request is still failing: the row is already there."""
        create_project(client)
        bad = "| Run ID | Val AUC |\n|---|---|\n| b | oops |\n"
        post_log(client, text="committed first", run_table=bad)
        with Session(engine) as other:
            rows = other.exec(text("SELECT text FROM session_log")).all()  # type: ignore[call-overload]
        assert [r[0] for r in rows] == ["committed first"]


class TestListLogs:
    def test_in_arrival_order_with_pages(self, client: TestClient) -> None:
        create_project(client)
        for i in range(3):
            post_log(client, text=f"dump {i}", session_date=f"2026-11-0{3 - i}")
        first = client.get("/v1/projects/churn/logs", params={"limit": 2}).json()
        second = client.get("/v1/projects/churn/logs", params={"limit": 2, "cursor": first["next_cursor"]}).json()
        assert [log["text"] for log in first["items"] + second["items"]] == ["dump 0", "dump 1", "dump 2"]


class TestRedactLog:
    def test_replaces_secret_and_keeps_an_audit(self, client: TestClient) -> None:
        create_project(client)
        secret = "sk-live-ABCDEF123456"
        log = post_log(client, text=f"used key {secret} then {secret}", run_table=f"run_id,auc\n{secret},0.5\n").json()
        response = client.post(f"/v1/logs/{log['id']}/redactions", json={"strings": [secret], "reason": "api key"})
        assert response.status_code == 200
        data = response.json()
        assert secret not in data["text"]
        assert data["text"] == "used key [REDACTED] then [REDACTED]"
        assert secret not in data["run_table"]
        audit = {r["field"]: r for r in data["redactions"]}
        assert audit["text"]["occurrences"] == 2
        assert audit["run_table"]["occurrences"] == 1
        assert audit["text"]["redacted_by"] == "admin"
        assert audit["text"]["reason"] == "api key"
        assert audit["text"]["removed_sha256"] == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in client.get(f"/v1/logs/{log['id']}").text

    def test_string_not_present_is_422_and_changes_nothing(self, client: TestClient) -> None:
        create_project(client)
        log = post_log(client, text="has sk-1 in it").json()
        response = client.post(f"/v1/logs/{log['id']}/redactions", json={"strings": ["sk-1", "not-there"]})
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "strings[1]"
        stored = client.get(f"/v1/logs/{log['id']}").json()
        assert stored["text"] == "has sk-1 in it"
        assert stored["redactions"] == []

    def test_unknown_log_is_404(self, client: TestClient) -> None:
        response = client.post("/v1/logs/999/redactions", json={"strings": ["x"]})
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "log_not_found"

    def test_logs_cannot_be_edited(self, client: TestClient) -> None:
        create_project(client)
        log = post_log(client, text="original").json()
        assert client.patch(f"/v1/logs/{log['id']}", json={"text": "changed"}).status_code == 405
        assert client.put(f"/v1/logs/{log['id']}", json={"text": "changed"}).status_code == 405
        assert client.get(f"/v1/logs/{log['id']}").json()["text"] == "original"


def test_a_dump_is_composed_before_the_write_lock_is_taken(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite, writers queue for one write lock: a dump's entry is composed by a reader (its runs read, the
    entry composed), so the lock is held only while the entry is stored, and other writers (dumps, imports) are not
    held up by the composing."""
    url = make_url(settings.sqlalchemy_url)
    if url.get_backend_name() != "sqlite":
        pytest.skip("the write lock is SQLite's")
    turns = _writer_turns(str(Path(cast(str, url.database)).resolve()))
    create_project(client)
    held_while_composing: list[bool] = []
    compose = log_entry_kind.compose_entry

    def observed(*args: Any, **kwargs: Any) -> Any:  # called once the runs are read
        held_while_composing.append(turns._lock.locked())
        return compose(*args, **kwargs)

    monkeypatch.setattr(log_entry_kind, "compose_entry", observed)
    response = post_log(client, text="smote (5c6d70a1) didn't help: auc .858")
    assert response.status_code == 201 and response.json()["log_entry"]["id"] is not None
    assert held_while_composing == [False]
