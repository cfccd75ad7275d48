"""What the composer may know about a project and its stored runs: plain, frozen values, no ORM."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RunFacts:
    """One stored run."""

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
