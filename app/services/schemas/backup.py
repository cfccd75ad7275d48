"""A project's backup: every row that belongs to the project, table by table, exactly as stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

BACKUP_FORMAT: Literal["labbook.project-backup"] = "labbook.project-backup"
BACKUP_VERSION = 1


class ProjectBackup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["labbook.project-backup"] = BACKUP_FORMAT
    version: int = Field(
        default=BACKUP_VERSION, ge=1, description="The backup format's version; a restore reads its own and older."
    )
    project: str = Field(description="The project's slug.")
    exported_at: datetime
    schema_revision: str | None = Field(description="The database migration the rows were read at.")
    counts: dict[str, int] = Field(description="Rows per table.")
    tables: dict[str, list[dict[str, Any]]] = Field(
        description="Rows per table, parents first: every column as stored (ids and links included, so a restore "
        "can map them); text exactly as written, datetimes ISO 8601 in UTC. No tokens, no outbox."
    )
