"""Request bodies of the documents composed from the analysis (summaries, next experiments, tried, decisions,
reproductions, briefs) and of a primary-metric switch."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints, field_validator

from app.services.schemas.common import (
    Count,
    Day,
    Direction,
    MetricName,
    Name,
    NonBlank,
    Number,
    RunRef,
    Strict,
    not_blank,
    stored_metric_name,
    strip_text,
)


class MetricSwitchCreate(Strict):
    metric: MetricName = Field(description="The new primary metric (normalised: 'Val F1' is 'val_f1').")
    direction: Direction | None = Field(
        default=None, description="Defaults to 'min' for loss- or error-like names, else 'max'."
    )
    reason: NonBlank
    effective_date: Day | None = Field(default=None, description="From when it applies; defaults to today (UTC).")
    target_value: Number | None = Field(
        default=None,
        allow_inf_nan=False,
        description="The target on the new metric. A target is a value of one metric, so the old one is cleared "
        "when this is omitted.",
    )

    _metric = field_validator("metric")(stored_metric_name)


class SummaryCreate(Strict):
    since: Day | None = Field(default=None, description="First session day covered; from the start when omitted.")
    until: Day | None = Field(default=None, description="Last session day covered; up to today when omitted.")


class NextExperimentsCreate(Strict):
    target: Number | None = Field(
        default=None, allow_inf_nan=False, description="The value of the primary metric to reach."
    )
    deadline: Day | None = None
    budget_runs: Count | None = Field(default=None, ge=1, le=100_000)
    budget_hours: Number | None = Field(default=None, gt=0, le=100_000)


class TriedCreate(Strict):
    proposal: Annotated[
        str, StringConstraints(min_length=1, max_length=5_000), not_blank(), AfterValidator(strip_text)
    ] = Field(description='What you are about to try, in words: "lightgbm with num_leaves=63 and class weights".')


class CriterionCreate(Strict):
    name: Name
    weight: Number = Field(ge=0, le=1_000)
    metric: MetricName | None = Field(default=None, description="A stored metric (or numeric param) of the runs.")
    direction: Direction = "max"
    why: str = Field(default="", max_length=2_000)
    scores: dict[str, Number] = Field(
        default_factory=dict, description="Without `metric`: a person's score per finalist (run ref -> 0..1)."
    )


class DecisionCreate(Strict):
    finalists: list[RunRef] = Field(min_length=1, max_length=50, description="Run keys, 6+ hex prefixes or names.")
    criteria: list[CriterionCreate] = Field(min_length=1, max_length=20)
    selected: RunRef | None = Field(default=None, description="The run chosen; the top-ranked one when omitted.")
    rationale: str = Field(default="", max_length=10_000)
    title: str | None = Field(default=None, max_length=200)


class ReproductionCreate(Strict):
    run: RunRef = Field(description="The run to reproduce: key, 6+ hex prefix or name.")
    known: dict[str, Annotated[str, StringConstraints(max_length=2_000)]] = Field(
        default_factory=dict,
        max_length=20,
        description="Setup fields you know that the run did not record, e.g. data_version.",
    )


class BriefCreate(Strict):
    audience: str = Field(default="a teammate taking over", max_length=200)
