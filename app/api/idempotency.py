"""`Idempotency-Key` on POST: a retry with the same key and request gets the first answer (with `Idempotent-Replayed:
true`) and creates nothing; the same key with another request is a 422. What is stored, replayed or released is
decided in `app.services.idempotency`; this middleware reads the request, buffers the answer and replays it.

It sits inside BodyGuard, so the body it fingerprints is already bounded, decoded and checked. The database work runs
in a worker thread (it is sync). The answer is stored before it is sent: a client that has the answer can retry and
get it again."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection
from functools import partial
from typing import Any

import anyio
from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.middleware import replay_body
from app.errors import IdempotencyKeyInUse, IdempotencyKeyInvalid, LabbookError
from app.services import idempotency
from app.services.idempotency import Follow, Replay, Run

logger = logging.getLogger(__name__)

REPLAYED_HEADER = (b"idempotent-replayed", b"true")
_NOT_FORWARDED = {b"content-type", b"content-length", b"idempotency-key", b"transfer-encoding"}


class Idempotency:
    """`refused`: paths that take no key (their answer holds a secret shown once, which is never stored)."""

    def __init__(self, app: ASGIApp, *, refused: Collection[str] = ()) -> None:
        self.app = app
        self.refused = frozenset(refused)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope) if scope["type"] == "http" else None
        if headers is None or scope["method"] != "POST" or idempotency.HEADER not in headers:
            await self.app(scope, receive, send)
            return
        body = await _read(receive)
        try:
            outcome = await self._open(scope, headers, body)
        except LabbookError as exc:
            await _error(send, exc)
            return
        if isinstance(outcome, Run):
            await self._run(outcome.record_id, scope, replay_body(body, receive), send)
        elif isinstance(outcome, Replay):
            await _respond(send, outcome.status, outcome.body, outcome.media_type, REPLAYED_HEADER)
        elif isinstance(outcome, Follow):
            await self._follow(outcome, scope, receive, send)
        else:
            await _busy(send)

    async def _open(self, scope: Scope, headers: Headers, body: bytes) -> idempotency.Outcome:
        key = idempotency.checked_key(headers[idempotency.HEADER])
        if scope["path"] in self.refused:
            raise IdempotencyKeyInvalid(
                f"{scope['path']} takes no {idempotency.HEADER}: its answer holds a secret that is shown only once "
                "and never stored",
                field=idempotency.HEADER,
            )
        request = (scope["method"], scope["path"], scope.get("query_string", b""), body)
        negotiated = (headers.get("content-type", ""), headers.get("accept", ""))
        app = scope["app"]
        opened = partial(
            idempotency.open_key,
            _sessions(app),
            settings=app.state.settings,
            authorization=headers.get("authorization"),
            key=key,
            fingerprint=idempotency.fingerprint(*request, *negotiated),
        )
        return await anyio.to_thread.run_sync(opened)

    async def _run(self, record_id: int, scope: Scope, receive: Receive, send: Send) -> None:
        sessions = _sessions(scope["app"])
        answer = _Answer()
        try:
            with idempotency.bound(record_id):
                await self.app(scope, receive, answer.send)
        except BaseException:
            await _release(sessions, record_id)
            raise
        settle = partial(idempotency.settle, sessions, record_id, status=answer.status, media_type=answer.media_type)
        try:
            await anyio.to_thread.run_sync(partial(settle, body=answer.body))
        except Exception:
            # The answer still goes out; a retry then follows the linked resource, or runs again after the lease.
            logger.exception("idempotency.settle.failed", extra={"record_id": record_id})
        await answer.replay(send)

    async def _follow(self, outcome: Follow, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer with the resource the first attempt created: an internal GET of its path, with the caller's
        credentials and Accept, and the first attempt's status (201) when it is found."""
        path = scope.get("root_path", "") + outcome.path
        headers = [(name, value) for name, value in scope["headers"] if name.lower() not in _NOT_FORWARDED]
        get = {**scope, "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b""}
        get["headers"] = headers
        answer = _Answer()
        await self.app(get, replay_body(b"", receive), answer.send)
        if answer.status == 200:
            answer.status = outcome.status
        answer.headers.append(REPLAYED_HEADER)
        await answer.replay(send)


async def _release(sessions: idempotency.SessionFactory, record_id: int) -> None:
    """Free the key of a request that failed, also when it was cancelled: a retry must run again. A failure here
    is logged, not raised, so the request's own error is the one reported."""
    with anyio.CancelScope(shield=True):
        try:
            await anyio.to_thread.run_sync(idempotency.release, sessions, record_id)
        except Exception:
            logger.exception("idempotency.release.failed", extra={"record_id": record_id})


class _Answer:
    """The inner app's answer, buffered so that it is stored before the client sees it."""

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    @property
    def media_type(self) -> str | None:
        return Headers(raw=self.headers).get("content-type")

    async def replay(self, send: Send) -> None:
        body = self.body
        headers = [(name, value) for name, value in self.headers if name.lower() not in (b"content-length",)]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _read(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _busy(send: Send) -> None:
    message = f"the first request with this {idempotency.HEADER} is still running; retry in a moment"
    await _error(send, IdempotencyKeyInUse(message, field=idempotency.HEADER), (b"retry-after", b"1"))


async def _error(send: Send, exc: LabbookError, *extra: tuple[bytes, bytes]) -> None:
    if exc.status_code == 401:
        extra = (*extra, (b"www-authenticate", b"Bearer"))
    await _respond(send, exc.status_code, json.dumps(exc.to_body()).encode(), "application/json", *extra)


async def _respond(send: Send, status: int, body: bytes, media_type: str | None, *extra: tuple[bytes, bytes]) -> None:
    headers = [(b"content-length", str(len(body)).encode()), *extra]
    if media_type:
        headers.append((b"content-type", media_type.encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _sessions(app: FastAPI) -> idempotency.SessionFactory:
    sessions: idempotency.SessionFactory = app.state.sessions
    return sessions


# -- OpenAPI -----------------------------------------------------------------------------------------------------------

_HEADER_PARAMETER: dict[str, Any] = {
    "name": idempotency.HEADER,
    "in": "header",
    "required": False,
    "description": (
        "A key of your choice (a UUID) that makes a retry safe: the same key with the same request within 24 hours "
        "answers with the first answer (`Idempotent-Replayed: true`) and creates nothing; the same key with another "
        "request is a 422; while the first request runs, a 409 with `Retry-After`. Keys are per token."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY_LENGTH, "pattern": "^[!-~]+$"},
}
_IN_USE = {
    "description": f"The first request with this {idempotency.HEADER} is still running: retry after "
    "`Retry-After` seconds.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorPublic"}}},
}


def declare_header(app: FastAPI, *, refused: Collection[str] = ()) -> None:
    """Declare the header on every POST of the OpenAPI document except the `refused` paths."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for path, operations in schema.get("paths", {}).items():
            post = operations.get("post")
            if post is not None and path not in refused:
                post.setdefault("parameters", []).append(_HEADER_PARAMETER)
                post.setdefault("responses", {}).setdefault("409", _IN_USE)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
