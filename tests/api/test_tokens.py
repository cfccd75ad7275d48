from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.storage.models import ApiToken
from tests.conftest import ADMIN_TOKEN
from tests.factories import EXAMPLE_TABLE, bearer, create_project, import_table, make_token


class TestAuthentication:
    @pytest.mark.parametrize(
        "headers",
        [{}, {"Authorization": "Bearer "}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer wrong"}],
        ids=["none", "empty", "basic", "unknown"],
    )
    def test_v1_needs_a_valid_token(self, anon: TestClient, headers: dict[str, str]) -> None:
        response = anon.get("/v1/projects", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"

    def test_healthz_needs_none(self, anon: TestClient) -> None:
        response = anon.get("/healthz")
        assert response.status_code == 200
        assert response.json()["status"] == "ok"

    def test_env_token_has_full_access(self, anon: TestClient) -> None:
        assert anon.get("/v1/projects", headers=bearer(ADMIN_TOKEN)).status_code == 200


class TestTokenLifecycle:
    def test_create_list_revoke(self, client: TestClient, anon: TestClient) -> None:
        created = client.post("/v1/tokens", json={"name": "ci-bot"}).json()
        assert created["token"].startswith("lbk_")
        assert created["prefix"] == created["token"][:10]
        assert anon.get("/v1/projects", headers=bearer(created["token"])).status_code == 200
        listed = client.get("/v1/tokens").json()
        assert [t["name"] for t in listed] == ["ci-bot"]
        assert "token" not in listed[0]
        assert client.delete(f"/v1/tokens/{created['id']}").json()["revoked_at"] is not None
        assert anon.get("/v1/projects", headers=bearer(created["token"])).status_code == 401
        assert client.get("/v1/tokens").json() == []
        assert len(client.get("/v1/tokens", params={"include_revoked": True}).json()) == 1

    def test_secret_is_stored_hashed(self, client: TestClient, session: Session) -> None:
        secret = make_token(client, "x")
        stored = session.exec(select(ApiToken)).one()
        assert secret not in (stored.token_hash, stored.prefix)
        assert len(stored.token_hash) == 64

    def test_last_used_is_recorded(self, client: TestClient, anon: TestClient) -> None:
        secret = make_token(client, "x")
        assert client.get("/v1/tokens").json()[0]["last_used_at"] is None
        anon.get("/v1/projects", headers=bearer(secret))
        assert client.get("/v1/tokens").json()[0]["last_used_at"] is not None

    def test_revoke_unknown_is_404(self, client: TestClient) -> None:
        assert client.delete("/v1/tokens/999").json()["error"]["code"] == "token_not_found"

    def test_scoped_token_cannot_manage_tokens(self, client: TestClient, anon: TestClient) -> None:
        create_project(client, "churn")
        scoped = make_token(client, "intern", ["churn"])
        for method, path in [("post", "/v1/tokens"), ("get", "/v1/tokens"), ("delete", "/v1/tokens/1")]:
            kwargs = {"json": {"name": "y"}} if method == "post" else {}
            response = getattr(anon, method)(path, headers=bearer(scoped), **kwargs)
            assert response.status_code == 403, (method, path)
        assert len(client.get("/v1/tokens").json()) == 1


class TestScopedToken:
    @pytest.fixture
    def scoped(self, client: TestClient) -> str:
        create_project(client, "churn")
        create_project(client, "fraud")
        import_table(client, "fraud", EXAMPLE_TABLE)
        log = client.post("/v1/projects/fraud/logs", json={"text": "fraud notes"}).json()
        assert log["id"] == 1
        return make_token(client, "churn-team", ["churn"])

    def test_sees_only_its_projects(self, anon: TestClient, scoped: str) -> None:
        items = anon.get("/v1/projects", headers=bearer(scoped)).json()["items"]
        assert [p["slug"] for p in items] == ["churn"]
        assert anon.get("/v1/projects/churn", headers=bearer(scoped)).status_code == 200

    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("get", "/v1/projects/fraud", None),
            ("patch", "/v1/projects/fraud", {"name": "mine now"}),
            ("get", "/v1/projects/fraud/runs", None),
            ("get", "/v1/projects/fraud/runs/5c6d70a1", None),
            ("post", "/v1/projects/fraud/runs/import", {"table": EXAMPLE_TABLE}),
            ("get", "/v1/projects/fraud/logs", None),
            ("post", "/v1/projects/fraud/logs", {"text": "sneaky"}),
            ("get", "/v1/logs/1", None),
            ("post", "/v1/logs/1/redactions", {"strings": ["fraud"]}),
        ],
    )
    def test_other_projects_are_404_on_every_route(
        self, anon: TestClient, client: TestClient, scoped: str, method: str, path: str, body: object
    ) -> None:
        kwargs = {"json": body} if body is not None else {}
        response = getattr(anon, method)(path, headers=bearer(scoped), **kwargs)
        assert response.status_code == 404
        assert response.json()["error"]["code"] in {"project_not_found", "log_not_found"}
        # and nothing changed
        assert client.get("/v1/projects/fraud").json()["name"] == "Project fraud"
        assert client.get("/v1/logs/1").json()["text"] == "fraud notes"
        assert len(client.get("/v1/projects/fraud/logs").json()["items"]) == 1

    def test_cannot_create_a_project_outside_scope(self, anon: TestClient, scoped: str) -> None:
        body = {"slug": "other", "name": "x", "primary_metric": "auc", "metric_direction": "max"}
        response = anon.post("/v1/projects", json=body, headers=bearer(scoped))
        assert response.status_code == 403


class TestSecretsStayOutOfLogs:
    def test_tokens_never_logged(self, client: TestClient, anon: TestClient, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.DEBUG)
        create_project(client)
        secret = make_token(client, "x")
        anon.get("/v1/projects", headers=bearer(secret))
        anon.get("/v1/projects", headers=bearer("lbk_wrong-secret-value"))
        client.post("/v1/projects/churn/logs", json={"text": "note"})
        logged = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
        assert caplog.records  # the app and its libraries did log something
        for value in (secret, ADMIN_TOKEN, "lbk_wrong-secret-value"):
            assert value not in logged
