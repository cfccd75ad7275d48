"""Approaches (lines of inquiry) and the baseline: an approach as computed or marked, regrouping runs into one, a
person's abandoned/adopted mark, and the baseline mark."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from app.services.schemas.common import NonBlank, RunRef, Strict, not_blank, strip_text

ApproachName = Annotated[str, StringConstraints(min_length=1, max_length=200), not_blank(), AfterValidator(strip_text)]


class ApproachMarkPublic(BaseModel):
    status: Literal["abandoned", "adopted"]
    reason: str
    by: str
    at: datetime | None


class ApproachProposedMarkPublic(BaseModel):
    status: Literal["abandoned", "adopted"]
    reason: str = Field(description="The sentence of the brain dump that declares it.")
    log_id: int = Field(description="The brain dump that declares it.")
    at: datetime


class ApproachPublic(BaseModel):
    name: str
    source: Literal["tag", "inferred", "override"] = Field(
        description="The strongest source among its runs. tag: an approach tag; inferred: the model family (or the "
        "tagged line an untagged run continues); override: regrouped."
    )
    status: str = Field(description="The mark's status when marked, else the computed one.")
    computed_status: str = Field(description="active, converging, plateaued or exhausted, from the runs.")
    reason: str
    run_ids: list[str] = Field(description="The approach's runs, in history order.")
    best: str | None
    best_value: float | None
    gain_vs_baseline: float | None = Field(description="Signed so that positive is better.")
    recent_gain: float | None = Field(description="Best-so-far rise over the approach's last runs.")
    family: str | None
    changed_keys: list[str]
    mark: ApproachMarkPublic | None
    proposed_mark: ApproachProposedMarkPublic | None = Field(
        default=None,
        description="A verdict a brain dump declared, shown until a person confirms it (POST .../mark/confirm) or "
        "dismisses it (DELETE .../mark/proposal); it does not change `status` meanwhile.",
    )


class ApproachRunsAssign(Strict):
    run_keys: list[RunRef] = Field(
        min_length=1, max_length=1_000, description="Runs to put in this approach: keys, 6+ hex ID prefixes or names."
    )


class ApproachMarkCreate(Strict):
    status: Literal["abandoned", "adopted"]
    reason: NonBlank = Field(description="Why; shown wherever the approach's status is.")


class BaselinePublic(BaseModel):
    baseline: str | None = Field(description="The project's baseline run now (marked, tagged or declared), if any.")
    baseline_value: float | None = Field(description="Its value on the metric in force.")
    unmarked: list[str] = Field(description="Runs whose baseline mark this request removed.")
