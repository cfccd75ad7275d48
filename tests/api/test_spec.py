"""The OpenAPI spec tells the truth: every operation declares the errors it can answer, in the body it answers them
with; a 405 says which methods the URL takes; and a text limit holds on the text as sent and as stored."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import create_project, project_body

ERROR_REF = "#/components/schemas/ErrorPublic"


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    data: dict[str, Any] = client.get("/openapi.json").json()
    return data


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in spec["paths"].items() for method, op in item.items()]


class TestToolGrade:
    """A model choosing an operation reads its ID, summary and description: each says what the operation does."""

    def test_every_operation_has_a_verb_noun_id_a_summary_and_a_description(self, spec: dict[str, Any]) -> None:
        ids = [op["operationId"] for _, _, op in operations(spec)]
        assert len(ids) == len(set(ids))
        for method, path, op in operations(spec):
            assert re.fullmatch(r"[a-z]+(_[a-z]+)+|health", op["operationId"]), (method, path)
            assert op["summary"] and len(op["description"]) >= 40, (method, path, op["description"])

    def test_the_documents_say_what_they_write(self, spec: dict[str, Any]) -> None:
        summaries = {op["operationId"]: op["summary"] for _, _, op in operations(spec)}
        assert summaries["check_tried"] == "Has this been tried?"
        assert summaries["create_brief"] == "Write a handover brief"
        assert summaries["create_log"] == "Record a brain dump and get its log entry"


class TestDeclaredErrors:
    def test_every_error_is_declared_with_the_error_body(self, spec: dict[str, Any]) -> None:
        for method, path, op in operations(spec):
            errors = {status: r for status, r in op["responses"].items() if int(status) >= 400}
            assert "503" in errors, (method, path)
            for status, response in errors.items():
                schema = response["content"]["application/json"]["schema"]
                if (path, status) == ("/healthz", "503"):  # the database did not answer: the Health body says so
                    assert schema == {"$ref": "#/components/schemas/Health"}
                    continue
                assert schema == {"$ref": ERROR_REF}, (method, path, status)
        assert "HTTPValidationError" not in spec["components"]["schemas"]  # FastAPI's 422 body, which we never send

    def test_statuses_follow_from_the_operation(self, spec: dict[str, Any]) -> None:
        for method, path, op in operations(spec):
            declared = set(op["responses"])
            if "{" in path:
                assert {"404", "422"} <= declared, (method, path)
            if method != "GET":
                assert {"400", "413"} <= declared, (method, path)
            if "requestBody" in op:
                assert "415" in declared, (method, path)
            if path != "/healthz":
                assert op["security"] == [{"bearer": []}] and "401" in declared, (method, path)
        assert "security" not in spec["paths"]["/healthz"]["get"]

    def test_route_specific_errors(self, spec: dict[str, Any]) -> None:
        paths = spec["paths"]
        assert {"403", "409"} <= set(paths["/v1/projects"]["post"]["responses"])
        assert "403" in paths["/v1/tokens"]["get"]["responses"]
        assert {"409", "502"} <= set(paths["/v1/projects/{slug}/runs/sync"]["post"]["responses"])
        assert "404" in paths["/v1/outbox"]["get"]["responses"]

    def test_what_is_declared_is_what_is_sent(self, client: TestClient, anon: TestClient) -> None:
        """One of each shared status, answered in the declared body."""
        create_project(client)
        answers = [
            (anon.get("/v1/projects"), 401),
            (client.get("/v1/projects/nope"), 404),
            (client.post("/v1/projects", content=b'{"slug": ', headers={"Content-Type": "application/json"}), 400),
            (client.post("/v1/projects", content=b"slug=x", headers={"Content-Type": "text/plain"}), 415),
            (client.post("/v1/projects", json=project_body()), 409),
            (client.get("/v1/projects", params={"limit": 0}), 422),
        ]
        for response, status in answers:
            assert response.status_code == status, response.text
            assert set(response.json()) == {"error"} and {"code", "message"} <= set(response.json()["error"])


class TestMethodNotAllowed:
    @pytest.mark.parametrize(
        ("method", "path", "allow"),
        [
            ("DELETE", "/v1/projects", "GET, POST"),
            ("PUT", "/v1/entries/1", "GET, PATCH"),  # the first route of the path takes only GET
            ("TRACE", "/v1/projects/churn/approaches/x/mark", "DELETE, PUT"),
            ("POST", "/healthz", "GET"),
        ],
    )
    def test_405_names_every_method_of_the_url(self, client: TestClient, method: str, path: str, allow: str) -> None:
        response = client.request(method, path)
        assert response.status_code == 405
        assert response.headers["allow"] == allow
        assert response.json()["error"]["code"] == "method_not_allowed"


class TestLimitsHoldOnTheStoredText:
    """A limit is checked on the text as sent, as the schema's maxLength says; surrounding whitespace is then
    stripped, so the stored text is within it too. (Stripping first let 5,001 characters through a 5,000 limit.)"""

    @pytest.fixture(autouse=True)
    def project(self, client: TestClient) -> None:
        create_project(client)

    def test_one_character_over_is_refused_even_if_it_is_whitespace(self, client: TestClient) -> None:
        for proposal in ("x" * 5_000 + " ", " " + "x" * 5_000, "x" * 5_001):
            response = client.post("/v1/projects/churn/tried", json={"proposal": proposal})
            assert response.status_code == 422 and response.json()["error"]["field"] == "proposal"

    def test_at_the_limit_is_stored_stripped(self, client: TestClient) -> None:
        response = client.post("/v1/projects/churn/tried", json={"proposal": " " + "x" * 4_998 + "\n"})
        assert response.status_code == 201, response.text
        assert response.json()["body"]["proposal"] == "x" * 4_998
        assert client.post("/v1/projects/churn/tried", json={"proposal": "x" * 5_000}).status_code == 201

    @pytest.mark.parametrize("blank", [" ", "\n\t", "\u3000"])
    def test_only_whitespace_is_refused(self, client: TestClient, blank: str) -> None:
        response = client.post("/v1/projects/churn/tried", json={"proposal": blank})
        assert response.status_code == 422 and response.json()["error"]["field"] == "proposal"

    def test_names_too(self, client: TestClient) -> None:
        response = client.post("/v1/projects", json=project_body("other", name="n" * 200 + " "))
        assert response.status_code == 422 and response.json()["error"]["field"] == "name"
        assert client.post("/v1/projects", json=project_body("other", name=" n ")).json()["name"] == "n"

    def test_a_metric_name_that_normalising_lengthens_is_refused(self, client: TestClient) -> None:
        """'İ' lowercases to two characters: 250 of them would be stored as 500, over the column's 250."""
        response = client.post("/v1/projects", json=project_body("other", primary_metric="İ" * 250))
        assert response.status_code == 422 and response.json()["error"]["field"] == "primary_metric"
        switch = {"metric": "İ" * 200, "reason": "the stakeholders asked"}
        response = client.post("/v1/projects/churn/metric-switches", json=switch)
        assert response.status_code == 422 and response.json()["error"]["field"] == "metric"

    def test_a_metric_name_of_punctuation_only_is_refused(self, client: TestClient) -> None:
        response = client.patch("/v1/projects/churn", json={"primary_metric": "!!!"})
        assert response.status_code == 422 and response.json()["error"]["field"] == "primary_metric"
        assert client.get("/v1/projects/churn").json()["primary_metric"] == "val_auc"


class TestTypesAsTheSchemaSays:
    """A day is a "YYYY-MM-DD" string and a number is a number, as the schema says; pydantic alone would also read
    `0` as 1970-01-01 and `true` as 1."""

    def test_a_number_is_not_a_day(self, client: TestClient) -> None:
        create_project(client)
        for resource, body in (("next-experiments", {"deadline": 0}), ("summaries", {"since": 1_700_000_000})):
            response = client.post(f"/v1/projects/churn/{resource}", json=body)
            assert response.status_code == 422 and response.json()["error"]["field"] == next(iter(body))
        assert client.patch("/v1/projects/churn", json={"deadline": 0}).status_code == 422
        assert client.patch("/v1/projects/churn", json={"deadline": "2026-12-31"}).json()["deadline"] == "2026-12-31"

    def test_a_boolean_is_not_a_number(self, client: TestClient) -> None:
        create_project(client)
        for body in ({"target": False}, {"budget_runs": True}):
            response = client.post("/v1/projects/churn/next-experiments", json=body)
            assert response.status_code == 422 and response.json()["error"]["field"] == next(iter(body))
        assert client.patch("/v1/projects/churn", json={"stall_sessions": True}).status_code == 422
        assert client.patch("/v1/projects/churn", json={"target_value": 1}).json()["target_value"] == 1.0
