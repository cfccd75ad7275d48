"""What every resource's shapes share: the strict request base, the page of results, and the constrained strings
(slugs, names, metric names, run references) and literals they are made of."""

from __future__ import annotations

import re
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$")

Slug = Annotated[str, StringConstraints(pattern=SLUG_RE.pattern)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
MetricName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=250)]
Direction = Literal["max", "min"]
TableFormat = Literal["markdown", "csv"]


NonBlank = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2_000)]
RunRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class Strict(BaseModel):
    """Request bodies: a misspelt field is an error that names it, never silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page; null on the last page.")
