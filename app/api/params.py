"""Integer path and query parameters, bounded to what the database can hold (`MAX_ID`): a bigger or non-positive id
is a 422 naming the parameter, never a query that fails."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from app.storage.models import MAX_ID

EntryIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The entry's id.")]
LogIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The brain dump's id.")]
TokenIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The token's id.")]
OutboxItemIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The write-back's id.")]
EntryIdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only the items this entry queued.")]
VersionQuery = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="A past version; the current one when omitted.")
]
