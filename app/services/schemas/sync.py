"""MLflow sync: what one sync read from the tracking server, experiment by experiment."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class SyncedExperiment(BaseModel):
    experiment_id: str
    name: str
    mode: Literal["full", "incremental"] = Field(
        description="full: every run was read (first sync, full=true, or a new tracking server); incremental: "
        "runs started since the last sync and runs that were still open then."
    )
    runs_read: int = Field(description="Runs read from MLflow and compared with the stored ones.")
    created: int
    updated: int
    unchanged: int
    open_runs: int = Field(description="Runs still RUNNING or SCHEDULED: read again by the next sync.")


class SyncResult(BaseModel):
    tracking_uri: str = Field(description="The MLflow tracking server that was read (any password hidden).")
    full: bool = Field(description="Whether a full sync was asked for.")
    experiments: list[SyncedExperiment]
    created: int
    updated: int
    unchanged: int
    open_runs: int
    seconds: float
