"""The biggest IDs, on SQLite and on PostgreSQL: the largest an INTEGER column holds is found (or is a 404), anything
past it or below 1 is a 422 naming the parameter, never a query that fails with a 500."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect
from sqlalchemy.types import BigInteger, Integer
from sqlmodel import Session

from app.storage.models import MAX_ID, ApiToken
from tests.factories import FULL_ID_DUMP, create_project, post_log

# Every route with an integer path parameter, as (method, path template, parameter, body).
ID_ROUTES = [
    ("GET", "/v1/entries/{}", "entry_id", None),
    ("PATCH", "/v1/entries/{}", "entry_id", {"tldr": "x", "reason": "a correction"}),
    ("POST", "/v1/entries/{}/recompose", "entry_id", None),
    ("GET", "/v1/entries/{}/versions", "entry_id", None),
    ("GET", "/v1/logs/{}", "log_id", None),
    ("POST", "/v1/logs/{}/redactions", "log_id", {"strings": ["secret"]}),
    ("DELETE", "/v1/tokens/{}", "token_id", None),
    ("POST", "/v1/outbox/{}/retry", "item_id", None),
]
ROUTE_IDS = [f"{method} {path}" for method, path, _, _ in ID_ROUTES]
# Past INTEGER (PostgreSQL answered 500), past BIGINT (SQLite answered 500), far past both, and below 1.
OUT_OF_RANGE = [MAX_ID + 1, 2**63, 2**64 + 1, 10**30, 0, -1]


def cursor(after: int) -> str:
    """A cursor as the server encodes one (opaque to clients; tests may know what is inside)."""
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode().rstrip("=")


class TestIdPathParameters:
    @pytest.mark.parametrize(("method", "path", "name", "body"), ID_ROUTES, ids=ROUTE_IDS)
    def test_the_biggest_id_of_no_row_is_404(
        self, client: TestClient, method: str, path: str, name: str, body: object
    ) -> None:
        response = client.request(method, path.format(MAX_ID), json=body)
        assert response.status_code == 404, response.text

    @pytest.mark.parametrize("value", OUT_OF_RANGE)
    @pytest.mark.parametrize(("method", "path", "name", "body"), ID_ROUTES, ids=ROUTE_IDS)
    def test_out_of_range_is_422_naming_the_parameter(
        self, client: TestClient, method: str, path: str, name: str, body: object, value: int
    ) -> None:
        response = client.request(method, path.format(value), json=body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == f"path.{name}"

    def test_a_row_with_the_biggest_id_is_found(self, client: TestClient, session: Session) -> None:
        session.add(ApiToken(id=MAX_ID, name="last", token_hash="0" * 64, prefix="lbk_000000"))
        session.commit()
        response = client.delete(f"/v1/tokens/{MAX_ID}")
        assert response.status_code == 200, response.text
        assert response.json()["id"] == MAX_ID and response.json()["revoked_at"] is not None


class TestIdQueryParameters:
    @pytest.fixture
    def entry_id(self, client: TestClient) -> int:
        create_project(client)
        entry_id: int = post_log(client, text=FULL_ID_DUMP)["log_entry"]["id"]
        return entry_id

    def test_version(self, client: TestClient, entry_id: int) -> None:
        assert client.get(f"/v1/entries/{entry_id}", params={"version": MAX_ID}).status_code == 404
        for value in OUT_OF_RANGE:
            response = client.get(f"/v1/entries/{entry_id}", params={"version": value})
            assert response.status_code == 422 and response.json()["error"]["field"] == "query.version"

    def test_outbox_entry_id(self, client: TestClient, entry_id: int) -> None:
        assert client.get("/v1/outbox", params={"entry_id": MAX_ID}).json()["items"] == []
        for value in OUT_OF_RANGE:
            response = client.get("/v1/outbox", params={"entry_id": value})
            assert response.status_code == 422 and response.json()["error"]["field"] == "query.entry_id"

    @pytest.mark.parametrize("path", ["/v1/projects", "/v1/projects/churn/logs", "/v1/projects/churn/entries"])
    def test_a_cursor_past_the_biggest_id(self, client: TestClient, entry_id: int, path: str) -> None:
        assert client.get(path, params={"cursor": cursor(MAX_ID)}).json()["items"] == []
        for value in (MAX_ID + 1, 2**63, 2**64 + 1):
            response = client.get(path, params={"cursor": cursor(value)})
            assert response.status_code == 422 and response.json()["error"]["field"] == "cursor"


def test_ids_are_integer_columns(engine: Engine) -> None:
    """MAX_ID is the INTEGER columns' limit: a table whose ids became BIGINT needs the bound raised with it."""
    inspector = inspect(engine)
    ids = {
        f"{table}.{column['name']}": column["type"]
        for table in inspector.get_table_names()
        for column in inspector.get_columns(table)
        if column["name"] in ("id", "version") or column["name"].endswith("_id")
    }
    integers = {name for name, kind in ids.items() if isinstance(kind, Integer)}
    assert {"entry.id", "entry_version.version", "session_log.id", "api_token.id", "outbox.id"} <= integers
    assert not [name for name in integers if isinstance(ids[name], BigInteger)]
