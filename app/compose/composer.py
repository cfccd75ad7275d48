"""The offline composer: a brain dump plus the project's stored runs become a `LogEntry`, with no model at all.

(Stub: the parser lands in the next commit; this keeps the interface the service, the evals and the LLM path use.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from app.compose.entry_schema import LogEntry


@dataclass(frozen=True)
class RunFacts:
    """What the composer may know about one stored run."""

    key: str  # the run ID, or `name:<run name>` for runs known only by name
    run_id: str | None
    run_name: str | None
    metrics: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProjectFacts:
    primary_metric: str
    metric_direction: str = "max"
    metric_aliases: Mapping[str, str] = field(default_factory=dict)


def compose_log_entry(
    text: str, *, runs: Sequence[RunFacts], project: ProjectFacts, run_ids: Sequence[str] = ()
) -> LogEntry:
    """Structure `text`; `run_ids` are references the caller attached explicitly (cited even if the text is silent)."""
    return LogEntry(tldr=text.strip()[:200])
