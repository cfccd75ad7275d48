"""Projects: what a project tracks (goal, primary metric, target, linked MLflow experiments, analysis settings)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from app.parsing.tables import normalize_metric_name
from app.services.schemas.common import (
    Count,
    Day,
    Direction,
    MetricName,
    Name,
    Number,
    Slug,
    Strict,
    stored_metric_name,
    strip_text,
)

_HOST_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$|^[0-9a-fA-F:.]+$")  # a host name, IPv4 or IPv6


def _http_tracking_uri(value: str) -> str:
    """A project's tracking URI is a tracking *server* (http or https): a URI a request sets must never make the
    service open a file or database on its own disk (`sqlite:///...`, `file:///...`). The operator's own
    MLFLOW_TRACKING_URI may be anything MLflow accepts."""
    parts = urlsplit(value)
    host = parts.hostname or ""
    labels_ok = ":" in host or all(0 < len(label) <= 63 for label in host.rstrip(".").split("."))
    if parts.scheme not in ("http", "https") or not _HOST_RE.match(host) or not labels_ok:
        raise ValueError("must be an http:// or https:// URL of an MLflow tracking server, e.g. http://mlflow:5000")
    return value.rstrip("/")


TrackingUri = Annotated[
    str,
    StringConstraints(min_length=1, max_length=1000),
    AfterValidator(strip_text),
    AfterValidator(_http_tracking_uri),
]


def _normalize_aliases(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    return {normalize_metric_name(k): normalize_metric_name(v) for k, v in value.items()}


MinEffect = Annotated[Number, Field(gt=0, le=1e12, allow_inf_nan=False)]
RecentRuns = Annotated[Count, Field(ge=1, le=100)]
StallSessions = Annotated[Count, Field(ge=1, le=1000)]


LlmSwitch = Literal["auto", "off"]


class ProjectFields(Strict):
    goal: str = Field(default="", max_length=10_000)
    target_value: Number | None = Field(
        default=None, allow_inf_nan=False, description="The value of the primary metric that would be enough."
    )
    deadline: Day | None = None
    mlflow_experiments: list[Annotated[str, StringConstraints(min_length=1, max_length=500)]] = Field(
        default_factory=list, description="Linked MLflow experiment IDs or names."
    )
    metric_aliases: dict[str, str] = Field(
        default_factory=dict,
        description='Other names of a metric, mapped to the canonical one: {"auc": "val_auc"}. Names are normalised.',
    )
    tracking_uri: TrackingUri | None = Field(
        default=None,
        description="The MLflow tracking server of the linked experiments; when null, the service's "
        "MLFLOW_TRACKING_URI.",
    )
    writeback: bool = Field(
        default=True, description="Write entries back to the cited MLflow runs (description and labbook.* tags)."
    )
    min_effect: MinEffect | None = Field(
        default=None,
        description="The smallest change of the primary metric worth believing when no seed repeats measure the "
        "noise (absolute, in the metric's units); null: 0.005.",
    )
    recent_runs: RecentRuns | None = Field(
        default=None, description="An approach's progress is judged over its last N runs; null: 3."
    )
    stall_sessions: StallSessions | None = Field(
        default=None, description="N recent sessions without a gain beyond the noise make a stall; null: 3."
    )
    auto_apply_declared_marks: bool = Field(
        default=False,
        description="Apply a verdict a brain dump declares on an approach ('dead end, dropping it') at once; "
        "when false it is shown as proposed until a person confirms it.",
    )

    llm: LlmSwitch = Field(
        default="auto",
        description="`auto`: when the service has a model configured, it reads this project's brain dumps and "
        "phrases its documents (every answer validated; the offline document stands when one fails); `off`: the "
        "offline composer alone.",
    )

    _aliases = field_validator("metric_aliases")(_normalize_aliases)


class ProjectCreate(ProjectFields):
    slug: Slug = Field(description="URL name: lowercase letters, digits and dashes, 2-64 characters.")
    name: Name
    primary_metric: MetricName = Field(description="Normalised: 'Val AUC' is stored as 'val_auc'.")
    metric_direction: Direction = Field(description="'max' if higher is better, 'min' if lower is better.")

    _metric = field_validator("primary_metric")(stored_metric_name)


class ProjectUpdate(Strict):
    name: Name | None = None
    goal: str | None = Field(default=None, max_length=10_000)
    primary_metric: MetricName | None = None
    metric_direction: Direction | None = None
    target_value: Number | None = Field(default=None, allow_inf_nan=False)
    deadline: Day | None = None
    mlflow_experiments: list[Annotated[str, StringConstraints(min_length=1, max_length=500)]] | None = None
    metric_aliases: dict[str, str] | None = None
    tracking_uri: TrackingUri | None = None
    writeback: bool | None = None
    min_effect: MinEffect | None = None
    recent_runs: RecentRuns | None = None
    stall_sessions: StallSessions | None = None
    auto_apply_declared_marks: bool | None = None
    llm: LlmSwitch | None = None

    _aliases = field_validator("metric_aliases")(_normalize_aliases)

    @field_validator("primary_metric")
    @classmethod
    def _metric(cls, value: str | None) -> str | None:
        return None if value is None else stored_metric_name(value)


class ProjectPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    slug: str
    name: str
    goal: str
    primary_metric: str
    metric_direction: Direction
    target_value: float | None
    deadline: date | None
    mlflow_experiments: list[str]
    metric_aliases: dict[str, str]
    tracking_uri: str | None
    writeback: bool
    min_effect: float | None = None
    recent_runs: int | None = None
    stall_sessions: int | None = None
    auto_apply_declared_marks: bool = False
    llm: LlmSwitch = "auto"
    created_at: datetime
    updated_at: datetime
