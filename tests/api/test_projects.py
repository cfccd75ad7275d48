from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import create_project, project_body


class TestCreateProject:
    def test_created_with_normalised_metric(self, client: TestClient) -> None:
        body = project_body(
            "churn",
            target_value=0.9,
            deadline="2026-12-31",
            mlflow_experiments=["12", "churn-exp"],
            metric_aliases={"AUC": "Val AUC"},
        )
        response = client.post("/v1/projects", json=body)
        assert response.status_code == 201
        data = response.json()
        assert data["slug"] == "churn"
        assert data["primary_metric"] == "val_auc"
        assert data["metric_aliases"] == {"auc": "val_auc"}
        assert data["target_value"] == 0.9
        assert data["deadline"] == "2026-12-31"
        assert data["mlflow_experiments"] == ["12", "churn-exp"]
        assert data["created_at"].endswith("Z") or data["created_at"].endswith("+00:00")

    def test_duplicate_slug_is_409(self, client: TestClient) -> None:
        create_project(client, "churn")
        response = client.post("/v1/projects", json=project_body("churn"))
        assert response.status_code == 409
        assert response.json()["error"] == {
            "code": "project_exists",
            "message": "a project 'churn' already exists",
            "field": "slug",
        }

    def test_bad_slug_names_the_field(self, client: TestClient) -> None:
        response = client.post("/v1/projects", json=project_body("Not A Slug"))
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "slug"

    def test_bad_direction_names_the_field(self, client: TestClient) -> None:
        response = client.post("/v1/projects", json=project_body(metric_direction="up"))
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "metric_direction"

    def test_missing_field_is_named(self, client: TestClient) -> None:
        body = project_body()
        del body["primary_metric"]
        response = client.post("/v1/projects", json=body)
        assert response.status_code == 422
        assert response.json()["error"] == {
            "code": "validation_error",
            "message": "primary_metric: 'primary_metric' is required",
            "field": "primary_metric",
        }

    def test_unknown_field_is_refused_and_nothing_stored(self, client: TestClient) -> None:
        response = client.post("/v1/projects", json=project_body(primary_metirc="f1"))
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "primary_metirc"
        assert "unknown field" in response.json()["error"]["message"]
        assert client.get("/v1/projects").json()["items"] == []


class TestListProjects:
    def test_paginates_with_cursor(self, client: TestClient) -> None:
        for i in range(5):
            create_project(client, f"p{i}")
        first = client.get("/v1/projects", params={"limit": 2}).json()
        assert [p["slug"] for p in first["items"]] == ["p0", "p1"]
        second = client.get("/v1/projects", params={"limit": 2, "cursor": first["next_cursor"]}).json()
        assert [p["slug"] for p in second["items"]] == ["p2", "p3"]
        third = client.get("/v1/projects", params={"limit": 2, "cursor": second["next_cursor"]}).json()
        assert [p["slug"] for p in third["items"]] == ["p4"]
        assert third["next_cursor"] is None

    def test_bad_cursor_is_422(self, client: TestClient) -> None:
        response = client.get("/v1/projects", params={"cursor": "not-a-cursor!"})
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "cursor"

    def test_limit_out_of_range_is_422(self, client: TestClient) -> None:
        response = client.get("/v1/projects", params={"limit": 0})
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "query.limit"

    def test_markdown_lists_slug_goal_metric_target_and_deadline(self, client: TestClient) -> None:
        create_project(client, "churn", target_value=0.87, deadline="2026-12-01")
        create_project(client, "ltv", name="LTV *beta*", goal="", primary_metric="rmse", metric_direction="min")
        create_project(client, "fraud")
        response = client.get("/v1/projects", params={"limit": 2}, headers={"Accept": "text/markdown"})
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/markdown; charset=utf-8"
        assert response.text == (
            "# Projects\n\n"
            "- **Project churn** (`churn`): predict churn. "
            "Primary metric `val_auc` (max), target 0.87, due 2026-12-01.\n"
            "- **LTV \\*beta\\*** (`ltv`). Primary metric `rmse` (min).\n"
        )
        assert 'rel="next"' in response.headers["link"]  # the third project is on the next page


class TestGetProject:
    def test_reads_one(self, client: TestClient) -> None:
        create_project(client, "churn", goal="find churners")
        response = client.get("/v1/projects/churn")
        assert response.status_code == 200
        assert response.json()["goal"] == "find churners"

    def test_unknown_is_404(self, client: TestClient) -> None:
        response = client.get("/v1/projects/nope")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "project_not_found"


class TestUpdateProject:
    def test_changes_only_named_fields(self, client: TestClient) -> None:
        create_project(client, "churn", goal="old goal", target_value=0.9)
        response = client.patch("/v1/projects/churn", json={"primary_metric": "F1 Score", "metric_direction": "max"})
        assert response.status_code == 200
        data = response.json()
        assert data["primary_metric"] == "f1_score"
        assert data["goal"] == "old goal"
        assert data["target_value"] == 0.9
        assert data["updated_at"] >= data["created_at"]
        assert client.get("/v1/projects/churn").json()["primary_metric"] == "f1_score"

    def test_clears_optional_fields(self, client: TestClient) -> None:
        create_project(client, "churn", target_value=0.9, deadline="2026-12-01")
        data = client.patch("/v1/projects/churn", json={"target_value": None, "deadline": None}).json()
        assert data["target_value"] is None
        assert data["deadline"] is None

    def test_null_for_required_field_is_422(self, client: TestClient) -> None:
        create_project(client, "churn")
        response = client.patch("/v1/projects/churn", json={"name": None})
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "name"
        assert client.get("/v1/projects/churn").json()["name"] == "Project churn"

    def test_slug_cannot_change(self, client: TestClient) -> None:
        create_project(client, "churn")
        response = client.patch("/v1/projects/churn", json={"slug": "other"})
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "slug"
