"""Importing a W&B runs-table export through POST /runs/import stores the runs' attributes, and re-imports merge."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import create_project, import_table

EXPORT = (Path(__file__).resolve().parents[1] / "data" / "wandb_runs_export.csv").read_text()


def _post_csv(client: TestClient, text: str) -> dict[str, Any]:
    response = client.post(
        "/v1/projects/churn/runs/import", content=text, headers={"Content-Type": "text/csv; charset=utf-8"}
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _runs(client: TestClient) -> dict[str, dict[str, Any]]:
    response = client.get("/v1/projects/churn/runs", params={"limit": 100})
    assert response.status_code == 200, response.text
    return {run["key"]: run for run in response.json()["items"]}


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).astimezone(UTC)


def test_export_imports_with_its_columns_roles_and_run_attributes(client: TestClient) -> None:
    create_project(client)
    result = _post_csv(client, EXPORT)
    assert (result["format"], result["created"], result["updated"]) == ("csv", 8, 0)
    roles = {c["header"]: c["role"] for c in result["columns"]}
    assert {h: roles[h] for h in ("Name", "ID", "State", "Created", "Runtime", "User", "Tags", "Notes", "Sweep")} == {
        "Name": "run_name",
        "ID": "run_id",
        "State": "status",
        "Created": "start_time",
        "Runtime": "duration",
        "User": "owner",
        "Tags": "tags",
        "Notes": "notes",
        "Sweep": "tag",
    }
    assert {roles[h] for h in ("_wandb", "_runtime", "_step", "_timestamp")} == {"ignored"}
    assert [(w["line"], w["column"]) for w in result["warnings"]] == [(3, "val_auc"), (7, "train_loss")]

    runs = _runs(client)
    assert len(runs) == 8
    base = runs["3k9x2abc"]
    assert (base["run_name"], base["status"], base["owner"], base["seed"], base["data_version"]) == (
        "baseline-resnet18",
        "FINISHED",
        "ana",
        "42",
        "v3",
    )
    assert _time(base["start_time"]) == datetime(2025, 11, 10, 9, 0, tzinfo=UTC)
    assert _time(base["end_time"]) == datetime(2025, 11, 10, 9, 30, tzinfo=UTC)
    assert base["duration_s"] == 1800.0
    assert base["parent_run_id"] is None
    assert base["tags"] == {"wandb.state": "finished", "baseline": "true", "resnet": "true"}
    assert base["metrics"]["val_auc"] == 0.9312

    crashed = runs["9m1qz0xe"]
    assert (crashed["status"], crashed["tags"]["wandb.state"]) == ("FAILED", "crashed")
    running = runs["p4t7w2lk"]
    assert (running["status"], running["end_time"], running["duration_s"]) == ("RUNNING", None, 5400.0)
    assert runs["a1b2c3d4"]["tags"]["wandb.sweep"] == "h8v3n1zq"
    untracked = runs["q7r8s9t0"]
    assert (untracked["owner"], untracked["seed"], untracked["git_commit"]) == (None, None, None)


def test_reimport_is_unchanged_then_a_later_export_updates_without_erasing(client: TestClient) -> None:
    create_project(client)
    _post_csv(client, EXPORT)
    again = _post_csv(client, EXPORT)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 8)

    # Later: the running run finished; this export has no User column and an empty seed.
    later = (
        '"Name","ID","State","Notes","Tags","Created","Runtime","seed","val_auc"\n'
        '"vit-small-long","p4t7w2lk","finished","-","vit","2025-11-12T08:15:00.000Z","9000","","0.905"\n'
    )
    result = _post_csv(client, later)
    assert [(r["key"], r["action"]) for r in result["rows"]] == [("p4t7w2lk", "updated")]
    run = _runs(client)["p4t7w2lk"]
    assert (run["status"], run["duration_s"]) == ("FINISHED", 9000.0)
    assert _time(run["end_time"]) == datetime(2025, 11, 12, 10, 45, tzinfo=UTC)
    assert run["tags"]["wandb.state"] == "finished"
    assert run["metrics"]["val_auc"] == 0.905
    # what this export does not record is kept
    assert (run["owner"], run["seed"], run["data_version"]) == ("bo", "7", "v3")
    assert run["metrics"]["val_loss"] == 0.512


def test_generic_table_fills_run_attributes_and_merges(client: TestClient) -> None:
    create_project(client)
    first = (
        "run_id,status,start_time,duration_s,git_commit,seed,val_auc\nr1,failed,2025-11-10T09:00:00Z,60,abc1234,3,0.8\n"
    )
    import_table(client, "churn", first, "csv")
    import_table(client, "churn", "| Run ID | Owner | Val AUC |\n|-|-|-|\n| r1 | ana | 0.81 |\n")
    run = _runs(client)["r1"]
    assert (run["status"], run["git_commit"], run["seed"], run["owner"], run["duration_s"]) == (
        "FAILED",
        "abc1234",
        "3",
        "ana",
        60.0,
    )
    assert _time(run["end_time"]) == datetime(2025, 11, 10, 9, 1, tzinfo=UTC)
    assert run["metrics"] == {"val_auc": 0.81}


def test_a_table_where_only_some_rows_record_an_attribute(client: TestClient) -> None:
    create_project(client)
    text = "run_id,owner,val_auc\nr1,ana,0.8\nr2,,0.7\n"
    result = _post_csv(client, text)
    assert result["created"] == 2
    runs = _runs(client)
    assert (runs["r1"]["owner"], runs["r2"]["owner"]) == ("ana", None)
