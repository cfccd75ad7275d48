"""Runs: a stored run, and a pasted run table's import and its line-by-line answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.services.schemas.common import Strict, TableFormat


class RunPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    run_id: str | None
    run_name: str | None
    key: str = Field(description="The run ID, or `name:<run name>` for runs known only by name.")
    source: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    notes: str | None
    experiment_id: str | None
    status: str | None
    start_time: datetime | None
    end_time: datetime | None
    duration_s: float | None
    parent_run_id: str | None
    git_commit: str | None
    source_name: str | None = Field(description="The entry point: the script or notebook that ran.")
    source_type: str | None
    owner: str | None
    data_version: str | None
    datasets: list[dict[str, Any]] = Field(description="Logged dataset inputs: name, digest, source, context.")
    seed: str | None
    environment: dict[str, Any] = Field(description="Python and library versions where logged, and where read from.")
    hardware: str | None
    split: str | None
    artifact_uri: str | None
    synced_at: datetime | None = Field(description="When the run was last read from MLflow.")
    created_at: datetime
    updated_at: datetime


class RunTableImport(Strict):
    table: str = Field(min_length=1, description="A Markdown pipe table or CSV, as pasted.")
    format: TableFormat | None = Field(default=None, description="Detected from the text when omitted.")


class ImportedColumn(BaseModel):
    header: str
    role: str
    name: str | None


class ImportWarning(BaseModel):
    line: int
    column: str | None
    message: str


class ImportedRow(BaseModel):
    line: int
    key: str
    action: Literal["created", "updated", "unchanged"]
    warnings: list[ImportWarning]


class RunImportResult(BaseModel):
    format: TableFormat
    created: int
    updated: int
    unchanged: int
    columns: list[ImportedColumn]
    rows: list[ImportedRow]
    warnings: list[ImportWarning] = Field(description="Every value that was interpreted, line by line.")
