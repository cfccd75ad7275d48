"""Session logs: a brain dump as posted, its redactions, and the stored dump with what was composed from it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from app.services.schemas.common import Day, Name, Strict, TableFormat
from app.services.schemas.entries import EntryPublic
from app.services.schemas.runs import RunImportResult


class LogCreate(Strict):
    text: str = Field(max_length=500_000, description="The brain dump, stored verbatim.")
    run_table: str | None = Field(default=None, description="An optional pasted run table (Markdown or CSV).")
    run_table_format: TableFormat | None = None
    run_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=300)]] = Field(
        default_factory=list, description="Run IDs (or names) this session is about."
    )
    author: Name | None = Field(default=None, description="Defaults to the name of the token that posts.")
    session_date: Day | None = Field(default=None, description="The day of the session; defaults to today (UTC).")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the brain dump is empty")
        return value  # verbatim: never stripped


class RedactionCreate(Strict):
    strings: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        min_length=1, description="Exact strings to remove from the stored text and run table."
    )
    reason: str = Field(default="", max_length=2_000)


class RedactionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    field: str
    occurrences: int
    removed_sha256: str = Field(description="Fingerprint of the removed string; the string itself is not kept.")
    reason: str
    redacted_by: str
    redacted_at: datetime


class LogPublic(BaseModel):
    id: int
    project: str
    text: str
    run_table: str | None
    run_table_format: str | None
    run_refs: list[str]
    author: str
    channel: str
    session_date: date
    received_at: datetime
    received_sha256: str
    redactions: list[RedactionPublic]
    run_import: RunImportResult | None = None
    entry_id: int | None = Field(default=None, description="The `log_entry` composed from this dump, if any.")
    log_entry: EntryPublic | None = Field(
        default=None,
        description="On the answer to a new dump: the entry composed from it (null if composing failed; the dump "
        "is stored either way). On reads, follow `entry_id`.",
    )
