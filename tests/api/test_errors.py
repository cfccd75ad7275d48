"""Bad input of every kind gets a 4xx in one shape, naming the field or line, and never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.conftest import ADMIN_TOKEN
from tests.factories import create_project, project_body


def assert_error(response: Any, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    error: dict[str, object] = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return error


class TestBodyLimit:
    def test_over_one_mib_is_413(self, client: TestClient) -> None:
        create_project(client)
        response = client.post("/v1/projects/churn/logs", json={"text": "x" * (1024 * 1024 + 10)})
        assert_error(response, 413, "body_too_large")
        assert client.get("/v1/projects/churn/logs").json()["items"] == []

    def test_streamed_body_over_limit_is_413(self, client: TestClient) -> None:
        """No Content-Length to trust: the guard counts the bytes as they arrive."""
        create_project(client)

        def chunks() -> Iterator[bytes]:
            yield b'{"text": "'
            for _ in range(300):
                yield b"y" * 4096
            yield b'"}'

        response = client.post(
            "/v1/projects/churn/logs", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert_error(response, 413, "body_too_large")

    def test_limit_is_configurable(self, tmp_path: object, database_url: str) -> None:
        settings = Settings(data_dir=tmp_path, api_tokens=ADMIN_TOKEN, database_url=database_url, max_body_bytes=200)
        with TestClient(create_app(settings), headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as small:
            response = small.post("/v1/projects", json=project_body(goal="g" * 300))
            assert_error(response, 413, "body_too_large")
            assert small.post("/v1/projects", json=project_body()).status_code == 201


class TestMalformedBodies:
    def test_invalid_utf8_json_is_400(self, client: TestClient) -> None:
        body = b'{"slug": "churn", "name": "\xc3\x28"}'
        response = client.post("/v1/projects", content=body, headers={"Content-Type": "application/json"})
        assert_error(response, 400, "body_invalid")

    def test_malformed_json_is_400(self, client: TestClient) -> None:
        response = client.post("/v1/projects", content=b'{"slug": ', headers={"Content-Type": "application/json"})
        assert_error(response, 400, "body_invalid")

    @pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "text/csv"])
    def test_wrong_content_type_is_415(self, client: TestClient, content_type: str) -> None:
        create_project(client)
        response = client.post(
            "/v1/projects/churn/logs", content=b'{"text": "x"}', headers={"Content-Type": content_type}
        )
        error = assert_error(response, 415, "unsupported_media_type")
        assert error["field"] == "body"

    def test_json_of_wrong_shape_is_422(self, client: TestClient) -> None:
        response = client.post("/v1/projects", json=["not", "an", "object"])
        assert_error(response, 422, "validation_error")

    def test_wrong_type_names_the_nested_field(self, client: TestClient) -> None:
        create_project(client)
        response = client.post("/v1/projects/churn/logs", json={"text": "x", "run_ids": ["ok", 5]})
        error = assert_error(response, 422, "validation_error")
        assert error["field"] == "run_ids.1"


class TestRouting:
    def test_unknown_route_is_404_in_the_same_shape(self, client: TestClient) -> None:
        assert_error(client.get("/v1/nothing-here"), 404, "not_found")

    def test_wrong_method_is_405(self, client: TestClient) -> None:
        assert_error(client.delete("/v1/projects"), 405, "method_not_allowed")


def test_openapi_names_every_operation(client: TestClient) -> None:
    """Chat tools call the API by operation id: each one is named and described."""
    spec = client.get("/openapi.json").json()
    operations = [op for path in spec["paths"].values() for op in path.values()]
    assert len(operations) >= 14
    for op in operations:
        assert "_" in op["operationId"] or op["operationId"] == "health"
        assert op.get("description") or op.get("summary")
    ids = {op["operationId"] for op in operations}
    assert {"create_project", "import_runs", "list_runs", "create_log", "redact_log", "create_token"} <= ids


class TestNulCharacters:
    """PostgreSQL cannot store NUL in text: refused up front, naming where it is, on every backend alike."""

    def test_a_json_string_with_a_nul_is_422_naming_the_field(self, client: TestClient) -> None:
        create_project(client)
        response = client.post("/v1/projects/churn/logs", json={"text": "ok", "run_ids": ["abc", "x\u0000y"]})
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "run_ids[1]"
        assert client.get("/v1/projects/churn/logs").json()["items"] == []

    def test_a_raw_nul_byte_is_400_naming_the_line(self, client: TestClient) -> None:
        create_project(client)
        body = b"run_id,val_auc\nr1,0.8\nr2\x00,0.9\n"
        response = client.post("/v1/projects/churn/runs/import", content=body, headers={"Content-Type": "text/csv"})
        assert response.status_code == 400 and response.json()["error"]["line"] == 3

    def test_an_escaped_backslash_before_u0000_is_ordinary_text(self, client: TestClient) -> None:
        create_project(client)
        response = client.post("/v1/projects/churn/logs", json={"text": "path C:\\u0000dir"})
        assert response.status_code == 201
        assert response.json()["text"] == "path C:\\u0000dir"
