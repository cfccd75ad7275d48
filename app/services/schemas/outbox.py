"""Write-back outbox: the queued writes to MLflow runs, and where one entry's write-back stands."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.services.schemas.common import Page

OutboxState = Literal["pending", "delivered", "dead"]


class WritebackStatus(BaseModel):
    """Where one entry's write-back to one MLflow run stands (the latest outbox item for that run)."""

    outbox_id: int = Field(validation_alias="id")
    run_id: str
    state: OutboxState
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None


class OutboxItemPublic(BaseModel):
    id: int
    project: str = Field(description="The project's slug.")
    entry_id: int | None = Field(description="The entry whose change queued this write-back.")
    run_id: str = Field(description="The MLflow run written to.")
    kind: str = Field(
        description="`run_note`: the run's Labbook section in its description, and labbook.entry_ids; "
        "`run_tags`: the run's labbook.approach, labbook.approach_status and labbook.finding.* tags; "
        "`model_version_tags`: a selection decision's ID and link on the selected run's registered model versions."
    )
    state: OutboxState = Field(description="pending (queued or retrying), delivered, or dead (will not be retried).")
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    # Write-back of labbook.* tags: what a delivered item did, where there is something to say.
    outcome: str | None = Field(
        default=None,
        description="What a delivered item did, when worth saying: the model versions it tagged, or that the run "
        "has no registered model version.",
    )


class OutboxPage(Page[OutboxItemPublic]):
    counts: dict[str, int] = Field(description="Items in each state, under the same filters except `state`.")
