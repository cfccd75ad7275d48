"""The health check's answer."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    database: str = Field(description="The backend that answered: sqlite or postgresql.")
