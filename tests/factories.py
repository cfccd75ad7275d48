"""Request bodies and tables for tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

EXAMPLE_TABLE = """\
| Run ID | Model | Key hyperparams | Val AUC | Notes |
|---|---|---|---|---|
| 5c6d70a1 | lightgbm+smote | lr=0.05, num_leaves=31 | 0.858 | smote on train only |
| 9b22c4f0 | lightgbm | lr=0.05, num_leaves=31 | 0.861 | |
| 0d81ee3b | xgboost | eta=0.1, max_depth=6 | 0.857 | 2x slower |
"""


def project_body(slug: str = "churn", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "slug": slug,
        "name": f"Project {slug}",
        "goal": "predict churn",
        "primary_metric": "Val AUC",
        "metric_direction": "max",
    }
    body.update(overrides)
    return body


def create_project(client: TestClient, slug: str = "churn", **overrides: Any) -> dict[str, Any]:
    response = client.post("/v1/projects", json=project_body(slug, **overrides))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def import_table(client: TestClient, slug: str, table: str, fmt: str | None = None) -> dict[str, Any]:
    response = client.post(f"/v1/projects/{slug}/runs/import", json={"table": table, "format": fmt})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


# MLflow-style run IDs (32 hex digits), as a dump cites them in full.
RUN_SMOTE = "5c6d70a1e2f34b6a8c9d0e1f2a3b4c5d"
RUN_BASE = "9b22c4f07a6e4d1c8b3f2e1d0c9b8a7f"
FULL_ID_TABLE = f"""\
| Run ID | Model | Key hyperparams | Val AUC |
|---|---|---|---|
| {RUN_SMOTE} | lightgbm+smote | lr=0.05, num_leaves=31 | 0.858 |
| {RUN_BASE} | lightgbm | lr=0.05, num_leaves=31 | 0.861 |
"""
FULL_ID_DUMP = f"""\
Tried SMOTE on train only ({RUN_SMOTE}): val auc 0.858 vs 0.861 for the plain baseline {RUN_BASE}.
Didn't help, and it costs 2x training time.
Next: try class weights instead.
"""


def post_log(client: TestClient, slug: str = "churn", **body: Any) -> dict[str, Any]:
    """Post a brain dump; the answer (201) as JSON."""
    response = client.post(f"/v1/projects/{slug}/logs", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_token(client: TestClient, name: str, projects: list[str] | None = None) -> str:
    """Create a named token through the API (optionally limited to some projects); the secret."""
    response = client.post("/v1/tokens", json={"name": name, "projects": projects})
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


# --- A seeded history for the analysis and documents ------------------------------------------------------------------
# A logistic-regression baseline, a SMOTE line that plateaus (four runs, the best-so-far rising by 0.003 over the last
# three), and a class-weights line that is best on val_auc; on val_f1 the last SMOTE run is best instead.


def hist_id(digit: str) -> str:
    return digit * 32


HISTORY_CSV = """\
run_id,run_name,start_time,model,lr,num_leaves,seed,tag.approach,val_auc,val_f1
11111111111111111111111111111111,base-logreg,2026-11-01T09:00:00Z,logreg,,,0,,0.800,0.700
22222222222222222222222222222222,smote-a,2026-11-02T09:00:00Z,lightgbm,0.05,31,0,smote,0.850,0.760
33333333333333333333333333333333,smote-b,2026-11-03T09:00:00Z,lightgbm,0.05,63,0,smote,0.852,0.770
44444444444444444444444444444444,smote-c,2026-11-04T09:00:00Z,lightgbm,0.03,63,0,smote,0.853,0.780
55555555555555555555555555555555,smote-d,2026-11-05T09:00:00Z,lightgbm,0.03,127,0,smote,0.853,0.790
66666666666666666666666666666666,weights-a,2026-11-06T09:00:00Z,xgboost,0.1,,0,weights,0.860,0.720
77777777777777777777777777777777,weights-b,2026-11-07T09:00:00Z,xgboost,0.05,,0,weights,0.870,0.730
"""


def seed_history(client: TestClient, slug: str = "churn") -> None:
    """The project (val_auc, max) and the history above."""
    create_project(client, slug, name="Churn model", target_value=0.9)
    import_table(client, slug, HISTORY_CSV, "csv")
