"""Content negotiation: JSON by default; Markdown for clients whose `Accept` header prefers `text/markdown`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import Request, Response

MARKDOWN_MEDIA_TYPE = "text/markdown; charset=utf-8"
ENTRY_SEPARATOR = "\n\n---\n\n"
# For the OpenAPI description of routes that can answer in Markdown.
MARKDOWN_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/markdown": {"schema": {"type": "string"}}}}
}


def prefers_markdown(accept: str | None) -> bool:
    """Whether `accept` ranks text/markdown above application/json: by q, then by how specific the range that
    matched is (`text/markdown, */*` means Markdown). A tie, a missing header or `*/*` gets JSON."""
    ranges = list(_media_ranges(accept or ""))
    markdown = _rank(ranges, "text", "markdown")
    return markdown[0] > 0 and markdown > _rank(ranges, "application", "json")


def _media_ranges(accept: str) -> Iterator[tuple[str, str, float]]:
    for part in accept.split(","):
        media, *params = part.split(";")
        main, _, sub = media.strip().lower().partition("/")
        if main and sub:
            yield main, sub.strip(), _quality(params)


def _quality(params: Sequence[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0  # an unreadable weight: do not let that range win
    return 1.0


def _rank(ranges: Sequence[tuple[str, str, float]], main: str, sub: str) -> tuple[float, int]:
    """(q, specificity) of the most specific range that matches `main/sub`; (0, -1) when none does."""
    best: tuple[float, int] = (0.0, -1)
    specificity = -1
    for range_main, range_sub, q in ranges:
        level = _specificity(range_main, range_sub, main, sub)
        if level > specificity:
            specificity, best = level, (q, level)
    return best


def _specificity(range_main: str, range_sub: str, main: str, sub: str) -> int:
    if (range_main, range_sub) == (main, sub):
        return 2
    if (range_main, range_sub) == (main, "*"):
        return 1
    return 0 if (range_main, range_sub) == ("*", "*") else -1


def markdown_response(text: str) -> Response:
    return Response(text, media_type=MARKDOWN_MEDIA_TYPE, headers={"Vary": "Accept"})


def markdown_page(request: Request, texts: Sequence[str], next_cursor: str | None) -> Response:
    """Documents joined by a horizontal rule; the next page, if any, in a `Link: <...>; rel="next"` header."""
    response = markdown_response(ENTRY_SEPARATOR.join(texts))
    if next_cursor is not None:
        response.headers["Link"] = f'<{request.url.include_query_params(cursor=next_cursor)}>; rel="next"'
    return response
