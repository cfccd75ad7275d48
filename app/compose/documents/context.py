"""What every document composer reads: the project and its stored runs and entries (`DocContext`), and what every
composer returns (`Composed`). Plain frozen dataclasses, built by the services from storage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import BaseModel

from app.analysis.model import Direction, RunView


@dataclass(frozen=True, slots=True)
class EntryDigest:
    """One stored entry as the documents see it: its kind (`log`, `selection_decision`, ...), dates, TL;DR, the runs
    it cites and its structured body (a `LogEntry` dump for a log entry, a document body for the others)."""

    id: int
    kind: str
    created: date
    session_date: date | None
    tldr: str
    run_ids: tuple[str, ...] = ()
    body: Mapping[str, Any] = field(default_factory=dict)

    @property
    def day(self) -> date:
        """The day the entry is about: its session date, else the day it was written."""
        return self.session_date or self.created


@dataclass(frozen=True, slots=True)
class DocContext:
    """The project as of `today` (passed in: composers read no clock)."""

    project_slug: str
    project_name: str
    goal: str
    primary_metric: str  # the project's original metric; the metric in force is `Findings.metric`
    direction: Direction
    target_value: float | None
    deadline: date | None
    today: date
    public_url: str  # "" when unset
    runs: Mapping[str, RunView]
    entries: tuple[EntryDigest, ...] = ()


@dataclass(frozen=True, slots=True)
class Composed:
    """A composed document: the validated body (one of `DOCUMENT_MODELS`), its Markdown, and every run key it cites
    in order of first citation."""

    kind: str
    body: BaseModel
    markdown: str
    run_ids: list[str]
    title: str
    schema_version: str
