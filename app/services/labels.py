"""How the project's runs read in Markdown: by name, linked to the MLflow UI when the project has a tracking server."""

from __future__ import annotations

from typing import cast

from sqlmodel import Session

from app.compose.labels import RunLabels
from app.storage import runs as run_store
from app.storage.models import Project


def run_labels(session: Session, *, project: Project) -> RunLabels:
    """Every run's name and, with an http(s) `tracking_uri`, the URL of its page in the MLflow UI."""
    rows = run_store.label_rows(session, project_id=cast(int, project.id))
    return RunLabels.of(rows, tracking_uri=project.tracking_uri or "")
