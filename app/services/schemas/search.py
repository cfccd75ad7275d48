"""Search over a project's past sessions and documents (`GET /v1/projects/{slug}/search`)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class SearchHit(BaseModel):
    """A past session (a brain dump and its log entry) or a document, with its best-matching passage."""

    kind: str = Field(description="`log_entry` for a session (its dump and entry), else the document's kind.")
    date: date
    entry_id: int | None = Field(description="The entry: the session's log entry, or the document.")
    log_id: int | None = Field(description="The brain dump of the session; null for a document.")
    link: str = Field(description="Where to read it: the entry, or the dump when it has no entry yet.")
    section: str = Field(description="Where the passage is: `text` of a dump, a log-entry section, `sN` of a document.")
    approaches: list[str] = Field(description="The approaches of the runs the passage (or its source) cites.")
    run_ids: list[str] = Field(description="Runs the passage's source cites.")
    snippet: str = Field(description="The passage, cut to about 240 characters around the first matched word.")
    highlights: list[tuple[int, int]] = Field(description="[start, end) character spans of matched words in `snippet`.")
    similarity: float = Field(description="Cosine similarity of the passage to the query (0 for a match by token).")
    exact: bool = Field(description="An exact token of the query (a run ID or name, a parameter) is in it.")


class SearchPage(BaseModel):
    query: str
    hits: list[SearchHit]
    not_indexed: int = Field(description="The project's dumps and entries still waiting to be indexed.")
    note: str | None = Field(default=None, description="Said when the index is behind, e.g. '3 not indexed yet'.")
