from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import EXAMPLE_TABLE, create_project, import_table

CSV_TABLE = 'run_id,model,lr,val_auc,notes\nr1,lightgbm,0.05,0.861,"baseline, default params"\nr2,xgboost,1e-3,93%,\n'


def runs(client: TestClient, slug: str = "churn", **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"/v1/projects/{slug}/runs", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


class TestImportRuns:
    def test_markdown_json_body(self, client: TestClient) -> None:
        create_project(client)
        result = import_table(client, "churn", EXAMPLE_TABLE, "markdown")
        assert (result["created"], result["updated"], result["unchanged"]) == (3, 0, 0)
        assert [r["line"] for r in result["rows"]] == [3, 4, 5]
        roles = {c["header"]: (c["role"], c["name"]) for c in result["columns"]}
        assert roles["Val AUC"] == ("metric", "val_auc")
        assert roles["Run ID"][0] == "run_id"
        stored = {r["run_id"]: r for r in runs(client)}
        assert stored["5c6d70a1"]["metrics"] == {"val_auc": 0.858}
        assert stored["5c6d70a1"]["params"] == {"model": "lightgbm+smote", "lr": "0.05", "num_leaves": "31"}
        assert stored["0d81ee3b"]["notes"] == "2x slower"
        assert stored["9b22c4f0"]["source"] == "table"

    def test_raw_csv_body_with_warnings(self, client: TestClient) -> None:
        create_project(client)
        response = client.post(
            "/v1/projects/churn/runs/import", content=CSV_TABLE, headers={"Content-Type": "text/csv; charset=utf-8"}
        )
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["format"] == "csv"
        assert result["created"] == 2
        assert result["warnings"] == [
            {"line": 3, "column": "val_auc", "message": result["warnings"][0]["message"]},
        ]
        assert "93%" in result["warnings"][0]["message"]
        stored = {r["run_id"]: r for r in runs(client)}
        assert stored["r2"]["metrics"]["val_auc"] == pytest.approx(0.93)
        assert stored["r2"]["params"]["lr"] == "1e-3"
        assert stored["r1"]["notes"] == "baseline, default params"

    def test_raw_markdown_body(self, client: TestClient) -> None:
        create_project(client)
        response = client.post(
            "/v1/projects/churn/runs/import", content=EXAMPLE_TABLE, headers={"Content-Type": "text/markdown"}
        )
        assert response.status_code == 200
        assert response.json()["format"] == "markdown"
        assert len(runs(client)) == 3

    def test_reimport_updates_never_duplicates(self, client: TestClient) -> None:
        create_project(client)
        import_table(client, "churn", EXAMPLE_TABLE)
        again = import_table(client, "churn", EXAMPLE_TABLE)
        assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)
        changed = "| Run ID | Val AUC | Seed |\n|---|---|---|\n| 9b22c4f0 | 0.865 | 7 |\n| new00001 | 0.7 | 1 |\n"
        result = import_table(client, "churn", changed)
        assert [(r["key"], r["action"]) for r in result["rows"]] == [("9b22c4f0", "updated"), ("new00001", "created")]
        stored = {r["run_id"]: r for r in runs(client)}
        assert len(stored) == 4
        assert stored["9b22c4f0"]["metrics"] == {"val_auc": 0.865}
        # what the new table did not mention is kept
        assert stored["9b22c4f0"]["params"] == {"model": "lightgbm", "lr": "0.05", "num_leaves": "31", "seed": "7"}

    def test_project_aliases_make_one_metric(self, client: TestClient) -> None:
        create_project(client, metric_aliases={"auc": "val_auc"})
        import_table(client, "churn", "| Run ID | AUC |\n|---|---|\n| a1 | 0.8 |\n")
        import_table(client, "churn", "run_id,val_auc\na2,0.9\n")
        assert {r["run_id"]: r["metrics"] for r in runs(client)} == {"a1": {"val_auc": 0.8}, "a2": {"val_auc": 0.9}}

    def test_runs_named_but_without_ids_are_rekeyed_when_ids_arrive(self, client: TestClient) -> None:
        create_project(client)
        import_table(client, "churn", "| Run name | Val AUC |\n|---|---|\n| lgbm-v1 | 0.8 |\n")
        assert runs(client)[0]["key"] == "name:lgbm-v1"
        result = import_table(
            client, "churn", "| Run ID | Run name | Val AUC |\n|---|---|---|\n| abc123 | lgbm-v1 | 0.8 |\n"
        )
        assert result["rows"][0]["action"] == "updated"
        stored = runs(client)
        assert len(stored) == 1
        assert (stored[0]["key"], stored[0]["run_id"]) == ("abc123", "abc123")


class TestImportRunsBadInput:
    @pytest.mark.parametrize(
        ("table", "line", "words"),
        [
            ("| Run ID | Val AUC |\n|---|---|\n| a | 0.8 |\n| b |\n", 4, "cells"),
            ("| Run ID | Val AUC | val_auc |\n|---|---|---|\n| a | 0.8 | 0.8 |\n", 1, "duplicate"),
            ("| Run ID | Val AUC |\n|---|---|\n| a | 0.8 |\n| b | great |\n", 4, "not a number"),
        ],
        ids=["ragged", "duplicate-header", "non-numeric-metric"],
    )
    def test_names_the_line_and_writes_nothing(self, client: TestClient, table: str, line: int, words: str) -> None:
        create_project(client)
        import_table(client, "churn", "| Run ID | Val AUC |\n|---|---|\n| keep | 0.5 |\n")
        response = client.post("/v1/projects/churn/runs/import", json={"table": table})
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "run_table_invalid"
        assert error["line"] == line
        assert words in error["message"]
        assert [r["run_id"] for r in runs(client)] == ["keep"]

    def test_wrong_content_type_is_415(self, client: TestClient) -> None:
        create_project(client)
        response = client.post(
            "/v1/projects/churn/runs/import", content=b"<xml/>", headers={"Content-Type": "application/xml"}
        )
        assert response.status_code == 415
        assert response.json()["error"]["code"] == "unsupported_media_type"

    def test_unknown_json_field_is_named(self, client: TestClient) -> None:
        create_project(client)
        response = client.post("/v1/projects/churn/runs/import", json={"table": EXAMPLE_TABLE, "fmt": "csv"})
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "fmt"

    def test_invalid_utf8_names_the_line(self, client: TestClient) -> None:
        create_project(client)
        body = b"run_id,val_auc\nr1,0.8\nr2,\xff\xfe\n"
        response = client.post("/v1/projects/churn/runs/import", content=body, headers={"Content-Type": "text/csv"})
        assert response.status_code == 400
        assert response.json()["error"]["line"] == 3
        assert runs(client) == []

    def test_empty_raw_body_is_400(self, client: TestClient) -> None:
        create_project(client)
        response = client.post("/v1/projects/churn/runs/import", content=b"  \n", headers={"Content-Type": "text/csv"})
        assert response.status_code == 400
        assert response.json()["error"]["field"] == "body"

    def test_unknown_project_is_404(self, client: TestClient) -> None:
        response = client.post("/v1/projects/nope/runs/import", json={"table": EXAMPLE_TABLE})
        assert response.status_code == 404


class TestListRuns:
    @pytest.fixture
    def seeded(self, client: TestClient) -> TestClient:
        create_project(client)
        table = (
            "| Run ID | Model | lr | Val AUC | Tags |\n|---|---|---|---|---|\n"
            "| r1 | logreg | 0.1 | 0.80 | baseline |\n"
            "| r2 | lightgbm | 0.05 | 0.86 | team=a |\n"
            "| r3 | lightgbm | 0.1 | 0.84 | team=b |\n"
            "| r4 | xgboost | 0.05 | | team=a |\n"
        )
        import_table(client, "churn", table)
        return client

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"metric": "val_auc>0.81"}, ["r2", "r3"]),
            ({"metric": "Val AUC >= 0.84"}, ["r2", "r3"]),
            ({"metric": "val_auc<0.85"}, ["r1", "r3"]),
            ({"metric": "val_auc=0.86"}, ["r2"]),
            ({"metric": "val_auc"}, ["r1", "r2", "r3"]),
            ({"param": "model=lightgbm"}, ["r2", "r3"]),
            ({"param": ["model=lightgbm", "lr=0.1"]}, ["r3"]),
            ({"tag": "team=a"}, ["r2", "r4"]),
            ({"tag": "baseline"}, ["r1"]),
            ({"param": "model=lightgbm", "metric": "val_auc>0.85", "tag": "team=a"}, ["r2"]),
            ({"param": "model=catboost"}, []),
        ],
    )
    def test_filters(self, seeded: TestClient, params: dict[str, Any], expected: list[str]) -> None:
        assert [r["run_id"] for r in runs(seeded, **params)] == expected

    def test_paginates(self, seeded: TestClient) -> None:
        first = seeded.get("/v1/projects/churn/runs", params={"limit": 3}).json()
        second = seeded.get("/v1/projects/churn/runs", params={"limit": 3, "cursor": first["next_cursor"]}).json()
        assert [r["run_id"] for r in first["items"] + second["items"]] == ["r1", "r2", "r3", "r4"]
        assert second["next_cursor"] is None

    def test_pagination_keeps_filters(self, seeded: TestClient) -> None:
        first = seeded.get("/v1/projects/churn/runs", params={"limit": 1, "param": "lr=0.05"}).json()
        params = {"limit": 1, "param": "lr=0.05", "cursor": first["next_cursor"]}
        second = seeded.get("/v1/projects/churn/runs", params=params).json()
        assert [r["run_id"] for r in first["items"] + second["items"]] == ["r2", "r4"]

    @pytest.mark.parametrize(
        ("params", "field"),
        [({"metric": "val_auc>high"}, "metric"), ({"metric": ">0.5"}, "metric"), ({"param": "=x"}, "param")],
    )
    def test_bad_filter_is_422(self, seeded: TestClient, params: dict[str, str], field: str) -> None:
        response = seeded.get("/v1/projects/churn/runs", params=params)
        assert response.status_code == 422
        assert response.json()["error"]["field"] == field

    def test_get_one_run(self, seeded: TestClient) -> None:
        response = seeded.get("/v1/projects/churn/runs/r2")
        assert response.status_code == 200
        assert response.json()["metrics"] == {"val_auc": 0.86}
        missing = seeded.get("/v1/projects/churn/runs/zzz")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "run_not_found"
