"""Entries: a composed document (a `log_entry` and every other kind), its versions, and a human correction."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.compose.log_entry.schema import Experiment, Item
from app.services.schemas.common import Strict, not_blank, strip_text
from app.services.schemas.outbox import WritebackStatus


class QuestionAnswerPublic(BaseModel):
    question: str = Field(description="The open question, as the entry that asked it has it.")
    log_id: int = Field(description="The brain dump that answered it.")
    entry_id: int | None = Field(description="That dump's log entry.")
    quote: str = Field(description="The sentence that answers it.")
    answered_at: datetime


class OpenQuestionPublic(BaseModel):
    question: str
    entry_id: int = Field(description="The log entry that asked it.")
    log_id: int | None
    day: date = Field(description="The session day of the dump that asked it.")
    answered: QuestionAnswerPublic | None = Field(description="Where it was answered; null while it is open.")


class EntryPublic(BaseModel):
    id: int
    project: str = Field(description="The project's slug.")
    kind: str = Field(description="`log_entry` (a structured brain dump); more kinds follow.")
    log_id: int | None = Field(description="The brain dump it was composed from, if any.")
    version: int = Field(description="The version shown; every correction adds one, none is ever rewritten.")
    body: dict[str, Any] = Field(description="The document as JSON, in the schema of its kind (`schema_version`).")
    markdown: str = Field(description="The same document rendered as Markdown.")
    run_ids: list[str] = Field(description="Every stored run the entry cites, in order.")
    provider: str = Field(description="What phrased it: `offline` (the built-in composer) or a model's name.")
    template: str
    template_version: str
    schema_version: str
    phrasing: Literal["offline", "pending", "model", "offline_fallback"] = Field(
        default="offline",
        description="`offline`: no model was asked; `pending`: this is the offline version, the model's follows as "
        "the next version; `model`: a model phrased it and it passed validation; `offline_fallback`: the model's "
        "answer failed, the offline version stands and `phrasing_reason` says why.",
    )
    phrasing_reason: str = Field(
        default="", description="Why the offline version stands (or what the model's answer needed repaired)."
    )
    llm: dict[str, Any] | None = Field(
        default=None,
        description="The model call behind it: provider, model, prompt name, version and sha256, prompt and "
        "completion tokens, latency in ms, attempts, and whether a cached answer to the same prompt was used.",
    )
    created_at: datetime
    updated_at: datetime
    writeback: list[WritebackStatus] = Field(
        default_factory=list,
        description="Write-back to each cited MLflow run: pending, delivered or dead, with attempts and last error.",
    )
    answered_questions: list[QuestionAnswerPublic] = Field(
        default_factory=list, description="Its open questions that a later brain dump answered, and where."
    )


class EntryVersionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    provider: str
    edited_by: str = Field(description="Who made this version: `labbook` for the composed one, else a token's name.")
    reason: str = Field(description="Why this version was made.")
    run_ids: list[str]
    body: dict[str, Any]
    markdown: str
    created_at: datetime


class EntryUpdate(Strict):
    """A human correction: the fields sent replace the current ones; the rest are kept."""

    tldr: str | None = Field(default=None, max_length=600)
    hypothesis: list[Item] | None = None
    experiments: list[Experiment] | None = Field(
        default=None, description="`stored` and `run_name` are always refreshed from the stored run."
    )
    observations: list[Item] | None = None
    conclusions: list[Item] | None = None
    did_not_work: list[Item] | None = None
    open_questions: list[Item] | None = None
    next_steps: list[Item] | None = None
    reason: Annotated[
        str, StringConstraints(min_length=1, max_length=2_000), not_blank(), AfterValidator(strip_text)
    ] = Field(description="Why the entry is being corrected; kept with the new version.")
