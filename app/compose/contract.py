"""One contract for every entry kind, the log entry and the documents alike.

A composer returns a `Composed` (the validated body, its Markdown, the runs it cites); a grounding check reads it
against the `Sources` the entry may rest on and returns one problem sentence per invented run or number; `Kind`
holds a kind's body schema, its renderer (body and title to Markdown) and its check, so the service that stores
entries treats every kind, offline or model-written, the same way. Documents read the project as a `DocContext`.
Plain frozen dataclasses, built by the services from storage."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import BaseModel

from app.analysis.model import Direction, Findings, RunView
from app.analysis.options import NextOptions
from app.compose.labels import RunLabels
from app.compose.log_entry.facts import RunFacts


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
    answered: tuple[str, ...] = ()  # texts of its open questions that are no longer open (a later dump answered them)

    @property
    def day(self) -> date:
        """The day the entry is about: its session date, else the day it was written."""
        return self.session_date or self.created


@dataclass(frozen=True, slots=True)
class ProposedMark:
    """A verdict a brain dump declared on an approach ("dead end, dropping them"), waiting for a person to confirm it:
    its status and the sentence that says it."""

    status: str
    reason: str


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
    # What a next run could change, computed by the analysis; the plans of summaries and next experiments read it.
    options: NextOptions = field(default_factory=NextOptions)
    # Run key -> its line of work (`app.analysis.lines`), for a history whose runs describe their change (an agent
    # log); empty otherwise.
    lines: Mapping[str, str] = field(default_factory=dict)
    # The project's MLflow tracking server ("" when it has none) and each MLflow run's experiment: run links.
    tracking_uri: str = ""
    experiments: Mapping[str, str] = field(default_factory=dict)
    # Approach name -> the mark a dump proposed for it, not yet confirmed (the documents say so beside the approach).
    proposed: Mapping[str, ProposedMark] = field(default_factory=dict)
    # Approach name -> earlier documents that discuss it (retrieval), newest first: linked, never quoted again.
    earlier: Mapping[str, tuple[EarlierDocument, ...]] = field(default_factory=dict)

    def labels(self) -> RunLabels:
        """The runs as Markdown shows them: by name, linked to the MLflow UI when there is a tracking server."""
        rows = ((k, r.run_id, r.name, self.experiments.get(k)) for k, r in self.runs.items())
        return RunLabels.of(rows, tracking_uri=self.tracking_uri)


@dataclass(frozen=True, slots=True)
class EarlierDocument:
    """An earlier document (a phase summary, a decision, a brief) that names an approach: where to read it."""

    entry_id: int
    kind: str
    day: date
    link: str


@dataclass(frozen=True, slots=True)
class Composed:
    """A composed entry: the validated body (a `LogEntry` or one of `DOCUMENT_MODELS`), its Markdown, every run key
    it cites in order of first citation, and its title (without the leading `# `)."""

    kind: str
    body: BaseModel
    markdown: str
    run_ids: list[str]
    title: str
    schema_version: str


@dataclass(frozen=True, slots=True)
class Sources:
    """What an entry may rest on. A log entry: the brain dump's text and the project's stored runs. A document: the
    project as of today and the findings computed from it."""

    dump: str = ""
    runs: Sequence[RunFacts] = ()
    ctx: DocContext | None = None
    findings: Findings | None = None


@dataclass(frozen=True, slots=True)
class Kind:
    """An entry kind: its body schema, its renderer (`render(body, title)` gives the Markdown the composer wrote)
    and its grounding check (`check(composed, sources)` gives the problems; [] means grounded)."""

    name: str
    schema: type[BaseModel]
    render: Callable[[BaseModel, str], str]
    check: Callable[[Composed, Sources], list[str]]
