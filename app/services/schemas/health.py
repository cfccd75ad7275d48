"""The health check's answer."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class LoadPublic(BaseModel):
    """Admission control's figures (app/api/load.py): what runs, what waits, what was turned away."""

    limit: int = Field(description="Requests served at once.")
    in_flight: int
    queued: int = Field(description="Requests waiting for a slot now.")
    queue_limit: int
    shed: int = Field(description="Requests answered 503 (over capacity) since the service started.")
    dropped: int = Field(description="Requests whose client left while they waited, dropped unstarted.")


class Health(BaseModel):
    status: Literal["ok", "busy", "unavailable"] = Field(
        description="`ok`; `busy` while requests queue or were shed in the last seconds (the service still answers, "
        "some requests get 503); `unavailable` when the database did not answer in time (HTTP 503)."
    )
    version: str
    database: str = Field(description="The backend that answered (sqlite or postgresql), or `unreachable`.")
    load: LoadPublic
