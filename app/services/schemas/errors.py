"""The one error body every failure answers with (rendered from `app.errors.LabbookError.to_body`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ErrorDetail(BaseModel):
    # Some errors add their own details beside these (extra fields are part of the contract).
    model_config = ConfigDict(extra="allow")

    code: str = Field(description="Machine-readable, snake_case: `project_not_found`, `validation_error`, ...")
    message: str = Field(description="What went wrong, for a person.")
    field: str | None = Field(default=None, description="The request field at fault, e.g. `experiments[0].run_id`.")
    line: int | None = Field(default=None, description="The line of a pasted table or body at fault.")


class ErrorPublic(BaseModel):
    error: ErrorDetail
