"""What the analysis reports: the project's findings (noise, approaches, metric switches in force) and one run's
place in the history (what it changed against the baseline and its closest earlier run)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from app.services.schemas.approaches import ApproachPublic
from app.services.schemas.common import Direction


class FindingPublic(BaseModel):
    kind: str = Field(
        description="baseline, missing_baseline, multi_change, within_noise, noise_unknown, seed_noise, "
        "duplicate, stall, repro_gap, project_gap, current_best, approach_status or metric_switch."
    )
    message: str
    run_ids: list[str] = Field(description="The runs the finding comes from.")
    numbers: dict[str, float] = Field(description="Every number the message states, by name.")
    subject: str | None = Field(description="The run key or approach name the finding is about.")
    severity: Literal["info", "warning"]


class NoisePublic(BaseModel):
    source: Literal["seed_repeats", "min_effect"] = Field(
        description="seed_repeats: pooled std of runs that differ only in seed; min_effect: the configured minimum."
    )
    std: float | None = Field(
        description="The seed sd: the pooled standard deviation of runs that differ only in seed."
    )
    min_gain: float = Field(
        description="The believable gain of one run over another: 1.645 x seed sd x sqrt(2), or the minimum effect."
    )


class BestLeadPublic(BaseModel):
    """Is the best really the best: its lead over the runner-up, each side its configuration's seed mean."""

    runner_up: str | None = Field(description="The best run of another approach, else of another configuration.")
    runner_up_approach: str | None
    lead: float = Field(description="The best side's gain over the runner-up side, positive is better.")
    n_best: int = Field(description="The seed repeats behind the best side.")
    n_runner_up: int
    believable_gain: float = Field(
        description="1.645 x seed sd x sqrt(1/n_best + 1/n_runner_up), or the minimum effect."
    )
    beyond_noise: bool | None


class MetricSwitchPublic(BaseModel):
    metric: str
    direction: Direction
    effective: date
    reason: str
    previous_metric: str | None
    previous_direction: Direction | None
    entry_id: int | None


class FindingsPublic(BaseModel):
    metric: str = Field(description="The metric in force (after any switch).")
    direction: Direction
    baseline: str | None
    baseline_value: float | None
    best: str | None = Field(description="The best run on the metric in force.")
    best_value: float | None
    noise: NoisePublic
    stalled: bool
    metric_switches: list[MetricSwitchPublic]
    approaches: list[ApproachPublic]
    findings: list[FindingPublic]
    best_lead: BestLeadPublic | None = Field(default=None, description="Null with nothing to compare the best with.")


class ParamChangePublic(BaseModel):
    key: str
    before: str | None = Field(description="The value in the run compared against; null: the key was not set.")
    after: str | None = Field(description="The value in this run; null: the key is not set.")


class RunChangesPublic(BaseModel):
    run: str
    metric: str = Field(description="The metric in force.")
    value: float | None = Field(description="The run's value on it; null when not recorded (or the run failed).")
    approach: str | None
    baseline: str | None
    baseline_value: float | None
    vs_baseline: list[ParamChangePublic] = Field(description="What differs from the baseline's configuration.")
    closest: str | None = Field(
        description="The earlier run whose configuration differs in the fewest parameters (seeds ignored)."
    )
    closest_value: float | None
    vs_closest: list[ParamChangePublic]
    findings: list[FindingPublic] = Field(description="The findings about this run: multi-change, duplicate, ...")
