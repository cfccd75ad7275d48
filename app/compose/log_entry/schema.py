"""The `log_entry` document: its JSON schema, defined once, here.

The offline composer builds a `LogEntry`; the LLM path (later) asks a model for `LogEntry.model_json_schema()` and
validates the answer against the same class; a human correction (`PATCH`) is validated by it too. Every number and
run ID in an entry must come from the brain dump or from stored runs (see `grounding`): the composer
quotes, it never invents.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal["log_entry/1"] = "log_entry/1"

Section = Literal["hypothesis", "observations", "conclusions", "did_not_work", "open_questions", "next_steps"]
SECTIONS: tuple[Section, ...] = (
    "hypothesis",
    "observations",
    "conclusions",
    "did_not_work",
    "open_questions",
    "next_steps",
)

WarningCode = Literal[
    "unknown_run_ref",  # a run reference that matches no stored run
    "ambiguous_run_ref",  # a prefix or name that matches more than one stored run
    "metric_mismatch",  # a number stated for a run differs from the stored metric
    "instruction_ignored",  # text that reads like an instruction to a model, kept as a quoted observation
    "metric_switch_announced",  # the dump says the primary metric changes
    "empty_dump",  # nothing to structure
    "provider_fallback",  # the configured model failed; the offline composer wrote the entry
    "grounding_failed",  # the grounding check found a run or number the dump and the stored runs do not back
]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StatedMetric(_Frozen):
    """A number as the dump states it: a value, or a range `low`..`high`, never a midpoint we made up."""

    name: str | None = Field(description="Normalised metric name as written ('auc', 'val_f1'); null if unnamed.")
    value: float | None = Field(default=None, description="The stated value; null when a range was stated.")
    low: float | None = None
    high: float | None = None
    approximate: bool = Field(default=False, description="Hedged in the text: '~', 'about', '-ish'.")
    text: str = Field(description="The number exactly as written, e.g. '.93ish' or 'between 0.81 and 0.84'.")
    line: int = Field(description="1-based line of the dump it was read from.")


class Experiment(_Frozen):
    """One run the dump talks about (or, with `ref` null, a trial it describes without a run reference)."""

    ref: str | None = Field(description="The reference as written: a run ID, a prefix, a run name or a URL.")
    run_id: str | None = Field(
        description="The stored run it resolves to (its run ID, or `name:<run name>`); null if unresolved."
    )
    run_name: str | None = None
    change: str = Field(description="What was changed or tried, in the dump's words.")
    context: str = Field(description="The sentence it comes from, verbatim.")
    stated: list[StatedMetric] = Field(default_factory=list, description="Numbers the dump states for this run.")
    stored: dict[str, float] = Field(default_factory=dict, description="The run's stored metrics.")
    line: int


class Item(_Frozen):
    """One statement in a section, in the dump's words, with the runs it mentions."""

    text: str
    run_ids: list[str] = Field(default_factory=list)
    line: int | None = Field(default=None, description="1-based line of the dump; null when written by a person.")
    quoted: bool = Field(
        default=False, description="Kept only as a quotation (instruction-like text), never as a result."
    )


class EntryWarning(_Frozen):
    code: WarningCode
    message: str
    line: int | None = None
    ref: str | None = None


class RelatedWork(_Frozen):
    """A past statement of the same project close in meaning to this dump (retrieval over earlier sessions and
    documents, above a similarity threshold): where it is and its own words."""

    entry_id: int | None = Field(description="The earlier entry (a session's log entry or a document).")
    log_id: int | None = Field(default=None, description="The earlier brain dump, when it is a session.")
    date: str = Field(description="The earlier session's day, YYYY-MM-DD.")
    kind: str = Field(description="`log_entry` for a session, else the document's kind.")
    text: str = Field(description="The earlier passage, verbatim (cut to about 240 characters).")
    similarity: float = Field(description="Cosine similarity of the two passages.")


class LogEntry(_Frozen):
    """A brain dump, structured: what was tried, what was seen and concluded, what failed, what is open, what next."""

    schema_version: Literal["log_entry/1"] = SCHEMA_VERSION
    tldr: str = Field(max_length=600, description="One or two sentences, from the dump's own statements.")
    hypothesis: list[Item] = Field(default_factory=list)
    experiments: list[Experiment] = Field(default_factory=list)
    observations: list[Item] = Field(default_factory=list)
    conclusions: list[Item] = Field(default_factory=list)
    did_not_work: list[Item] = Field(default_factory=list)
    open_questions: list[Item] = Field(default_factory=list)
    next_steps: list[Item] = Field(default_factory=list)
    warnings: list[EntryWarning] = Field(default_factory=list)
    run_ids: list[str] = Field(default_factory=list, description="Every stored run the entry cites, in order.")
    related: list[RelatedWork] = Field(
        default_factory=list, description="Earlier statements of the project this dump is close to (retrieval)."
    )


def log_entry_json_schema() -> dict[str, object]:
    """The JSON schema a model is asked to follow; the same one every entry is validated against."""
    return LogEntry.model_json_schema()
