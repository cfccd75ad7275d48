"""`/mcp`: the chat tools over streamable HTTP, inside the app, behind the same bearer tokens as `/v1`.

A request without a valid token is answered 401 in the error body `/v1` uses, before MCP reads it. Each tool then
calls `/v1` on this same app, in-process (no socket), with the caller's own `Authorization` header: the token's
project scope applies to every tool exactly as it applies to `/v1`, and the services that answer are the same. That
inner request runs under the admission slot of the `/mcp` request that made it (`load.IN_PROCESS`).

The endpoint is stateless (JSON answers, no MCP session kept between requests), so any of N workers behind a load
balancer can answer any request, as for `/v1`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
import httpx
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.load import IN_PROCESS
from app.api.mcp.api import use_api
from app.api.mcp.tools import chat_server
from app.errors import LabbookError, ServiceStarting
from app.services.auth import authenticate
from app.storage.db import session_scope

PATH = "/mcp"
# The Host and Origin checks guard a server that trusts whoever can reach it (DNS rebinding); every request here
# carries a bearer token, which a page in someone's browser does not have, and the service answers under any name.
_HOST_CHECK_OFF = TransportSecuritySettings(enable_dns_rebinding_protection=False)
_SELF = "http://labbook.in-process"


class ChatEndpoint:
    """The ASGI app behind the `/mcp` route. `running()` runs inside the app's lifespan: MCP's session manager needs a
    task group for as long as the app serves."""

    def __init__(self) -> None:
        self._mcp: ASGIApp | None = None

    def route(self) -> Route:
        """`/mcp` takes POST only, outside the OpenAPI document. A stateless server sends nothing unasked, so it offers
        no GET stream (which would hold an admission slot for as long as the client keeps it open) and has no
        session to DELETE: both are 405, which MCP clients expect from such a server."""
        return Route(PATH, endpoint=self, methods=["POST"], include_in_schema=False)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        # Stateless, the transport logs "Terminating session: None" at INFO after every request: it says nothing.
        logging.getLogger("mcp.server.streamable_http").setLevel(logging.WARNING)
        server = chat_server()
        mcp = server.streamable_http_app(
            streamable_http_path=PATH, stateless_http=True, json_response=True, transport_security=_HOST_CHECK_OFF
        )
        manager = server.session_manager  # the one the call above made for this app; read before any other app runs
        async with manager.run():
            self._mcp = mcp
            try:
                yield
            finally:
                self._mcp = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = scope["app"]  # the Labbook app: the route runs inside it
        authorization = Headers(scope=scope).get("authorization")
        try:
            await anyio.to_thread.run_sync(_authenticate, app, authorization)
            if self._mcp is None:
                raise ServiceStarting("the chat tools are starting or stopping; retry shortly")
        except LabbookError as exc:
            await _error(exc)(scope, receive, send)
            return
        with use_api(InProcessApi(app, authorization=str(authorization))):
            await self._mcp(scope, receive, send)


def _authenticate(app: Any, authorization: str | None) -> None:
    """As `/v1` checks a token (a GET's session: the check reads, and records the token's use)."""
    for session in session_scope(app.state.engine):
        authenticate(session, settings=app.state.settings, authorization=authorization)


def _error(exc: LabbookError) -> JSONResponse:
    # As `/v1` answers them (app/api/handlers.py): a 401 names the scheme, a 503 says when to retry.
    headers = {401: {"WWW-Authenticate": "Bearer"}, 503: {"Retry-After": "5"}}.get(exc.status_code)
    return JSONResponse(exc.to_body(), status_code=exc.status_code, headers=headers)


class InProcessApi:
    """`/v1` of this same app, called in-process with the caller's `Authorization` header."""

    where = "this service"

    def __init__(self, app: ASGIApp, *, authorization: str) -> None:
        self._app = app
        self._authorization = authorization

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        # raise_app_exceptions off: an unexpected error reaches the tool as the 500 answer `/v1` gives, not a crash.
        transport = httpx.ASGITransport(app=self._admitted, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=_SELF) as client:
            headers = {**headers, "Authorization": self._authorization}
            return await client.request(method, path, headers=headers, json=json, params=params)

    async def _admitted(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app({**scope, IN_PROCESS: True}, receive, send)
