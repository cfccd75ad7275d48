"""`labbook mcp`: the chat tools over stdio, for desktop assistants that start a command and talk to it on its
standard input and output. Each tool calls the server at `url` with `token`, as the CLI's user commands do, so the
token's project scope applies here as it does to every client. Logs go to standard error: standard output carries
the protocol."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
import httpx

from app.api.mcp.api import use_api
from app.api.mcp.tools import chat_server

# Documents may be phrased by a model (its own timeout applies on the server); a tool waits for the answer longer.
TIMEOUT_SECONDS = 180.0


class RemoteApi:
    """A running Labbook server's `/v1`, over HTTP, with one token."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self.where = str(client.base_url)

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        return await self._client.request(method, path, headers=dict(headers), json=json, params=params)


def serve_stdio(*, url: str, token: str) -> None:
    """Serve the tools on stdin/stdout until the client closes them."""
    anyio.run(_serve, url.rstrip("/"), token)


async def _serve(url: str, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=TIMEOUT_SECONDS) as client:
        with use_api(RemoteApi(client)):
            await chat_server().run_stdio_async()
