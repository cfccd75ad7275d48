"""Runs synced from a real MLflow server read by their names in Markdown, linked to their pages in the MLflow UI."""

from __future__ import annotations

import re
import uuid

from sqlmodel import Session

from app.services import documents as documents_service
from app.services.labels import run_labels
from app.services.schemas import SummaryCreate
from tests.integrations.test_mlflow_sync import log_run, make_project, new_experiment, sync
from tests.mlflow_server import MlflowServer


def test_a_document_links_each_synced_run_to_the_mlflow_ui(session: Session, mlflow_server: MlflowServer) -> None:
    client, experiment_id, name = new_experiment(mlflow_server)
    suffix = uuid.uuid4().hex[:4]
    runs = {
        f"{label}-{suffix}": log_run(client, experiment_id, params={"lr": lr}, metrics={"val_auc": auc}, name=label)
        for label, lr, auc in (("lgbm-a", "0.1", 0.85), ("lgbm-b", "0.05", 0.8600000000000001))
    }
    project = make_project(session, name, tracking_uri=mlflow_server.url)
    sync(session, project)
    entry = documents_service.create_summary(session, project=project, body=SummaryCreate(), public_url="")
    run_id = runs[f"lgbm-b-{suffix}"]
    link = f"[lgbm-b ({run_id[:8]})]({mlflow_server.url}/#/experiments/{experiment_id}/runs/{run_id})"
    assert link in entry.markdown
    assert "0.8600000000000001" not in entry.markdown and "0.86" in entry.markdown
    assert not re.search(r"(?<![0-9a-f/])[0-9a-f]{32}(?![0-9a-f])", entry.markdown)
    assert run_id in entry.run_ids  # the JSON keeps the full run ID
    assert run_labels(session, project=project).links[run_id].endswith(f"/runs/{run_id}")
