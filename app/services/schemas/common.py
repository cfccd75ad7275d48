"""What every resource's shapes share: the strict request base, the page of results, and the constrained strings
(slugs, names, metric names, run references) and literals they are made of."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from app.parsing.tables import normalize_metric_name

T = TypeVar("T")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$")
METRIC_NAME_MAX = 250


def strip_text(value: str) -> str:
    """Surrounding whitespace goes, and text that was only whitespace is refused. The length limits are checked on
    the text as sent, before this (what the schema's maxLength promises), so they hold on the shorter text stored."""
    stripped = value.strip()
    if not stripped:
        raise ValueError("must not be blank")
    return stripped


def not_blank() -> Any:
    """What `strip_text` refuses, as the schema says it: at least one character that is not whitespace."""
    return Field(json_schema_extra={"pattern": r"\S"})


def stored_metric_name(value: str) -> str:
    """The metric name as stored (`normalize_metric_name`), held to the limits again: lowercasing can lengthen a
    name ('İ' becomes two characters) and dropping punctuation can leave nothing."""
    name = normalize_metric_name(value)
    if not name:
        raise ValueError("needs a letter or digit")
    if len(name) > METRIC_NAME_MAX:
        raise ValueError(f"is {len(name)} characters once normalised, over the limit of {METRIC_NAME_MAX}")
    return name


Slug = Annotated[str, StringConstraints(pattern=SLUG_RE.pattern)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200), not_blank(), AfterValidator(strip_text)]
MetricName = Annotated[
    str, StringConstraints(min_length=1, max_length=METRIC_NAME_MAX), not_blank(), AfterValidator(strip_text)
]


def day_as_written(value: object) -> object:
    """A day as the schema says it, "2026-11-30": not also a number of seconds since 1970, as pydantic reads `0`."""
    if isinstance(value, int | float):
        raise ValueError("write the day as YYYY-MM-DD")
    return value


Day = Annotated[date, BeforeValidator(day_as_written)]


def not_a_bool(value: object) -> object:
    """A number as the schema says it: `true` is not 1, as pydantic would read it."""
    if isinstance(value, bool):
        raise ValueError("a number, not true or false")
    return value


Number = Annotated[float, BeforeValidator(not_a_bool)]
Count = Annotated[int, BeforeValidator(not_a_bool)]
Direction = Literal["max", "min"]
TableFormat = Literal["markdown", "csv", "tsv"]


NonBlank = Annotated[str, StringConstraints(min_length=1, max_length=2_000), not_blank(), AfterValidator(strip_text)]
RunRef = Annotated[str, StringConstraints(min_length=1, max_length=300), not_blank(), AfterValidator(strip_text)]


class Strict(BaseModel):
    """Request bodies: a misspelt field is an error that names it, never silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page; null on the last page.")
