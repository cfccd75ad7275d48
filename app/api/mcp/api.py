"""How the chat tools reach Labbook: one `/v1` call through the `Api` in force for the request (`use_api`). An error
answer of the API becomes the tool's error, with the API's own message, so a project outside the token's scope reads
as one that does not exist, exactly as it does over HTTP."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from mcp.server.mcpserver.exceptions import ToolError

MARKDOWN = {"Accept": "text/markdown"}


class Api(Protocol):
    """Labbook's HTTP API as the tools reach it: in-process for `/mcp` (the caller's token), over the network for
    `labbook mcp` (LABBOOK_URL and LABBOOK_TOKEN). `where` names it in errors."""

    where: str

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response: ...


_API: ContextVar[Api] = ContextVar("labbook_mcp_api")


@contextmanager
def use_api(api: Api) -> Iterator[None]:
    """Tools called inside this block (and in tasks started inside it) call `api`."""
    token = _API.set(api)
    try:
        yield
    finally:
        _API.reset(token)


class Refused(ToolError):
    """The API answered an error, or could not be reached; the message is the API's own. `status` is None when there
    was no answer."""

    def __init__(self, message: str, *, status: int | None) -> None:
        super().__init__(message)
        self.status = status


async def call(
    method: str, path: str, *, as_markdown: bool, json: Any = None, params: Mapping[str, Any] | None = None
) -> httpx.Response:
    api = _API.get(None)
    if api is None:
        raise Refused("no Labbook API is configured for this request", status=None)
    try:
        response = await api.request(method, path, headers=MARKDOWN if as_markdown else {}, json=json, params=params)
    except httpx.HTTPError as exc:
        raise Refused(f"cannot reach Labbook at {api.where}: {exc}", status=None) from exc
    if not response.is_success:
        raise refused(response)
    return response


def refused(response: httpx.Response) -> Refused:
    try:
        error = response.json()["error"]
        message = f"{error['message']} ({error['code']}, HTTP {response.status_code})"
    except (ValueError, KeyError, TypeError):
        message = f"HTTP {response.status_code}: {response.text[:200]}"
    return Refused(message, status=response.status_code)


async def markdown(method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None) -> str:
    return (await call(method, path, as_markdown=True, json=json, params=params)).text


def project_path(slug: str) -> str:
    """The project's path; the slug is checked by the argument's pattern, and quoted all the same."""
    return f"/v1/projects/{quote(slug, safe='')}"


def body_of(**fields: Any) -> dict[str, Any]:
    """The request body: the arguments given (None means "not given"), days written as the API reads them."""
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in fields.items() if v is not None}
