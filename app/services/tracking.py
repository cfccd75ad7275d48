"""Which MLflow tracking server a project talks to: its own `tracking_uri`, else the service's MLFLOW_TRACKING_URI."""

from __future__ import annotations

from app.errors import TrackingNotConfigured
from app.storage.models import Project


def tracking_uri_for(project: Project, *, default: str | None) -> str:
    """The project's tracking URI, or `default` (Settings.mlflow_tracking_uri); TrackingNotConfigured if neither."""
    uri = project.tracking_uri or default
    if not uri:
        raise TrackingNotConfigured(
            f"project '{project.slug}' has no tracking_uri and MLFLOW_TRACKING_URI is not set", field="tracking_uri"
        )
    return uri
