"""Body guard: refuse bodies over the limit (413) and text that is not UTF-8 (400, naming the line) before any
route sees them, so no handler ever works on a truncated or undecodable body."""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import BodyInvalid, BodyTooLarge, LabbookError

_TEXTUAL = ("application/json", "text/", "application/x-www-form-urlencoded")


class BodyGuard:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            body = await self._read(headers, receive)
            _check_text(headers, body)
        except LabbookError as exc:
            await _send_error(send, exc)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, headers: Headers, receive: Receive) -> bytes:
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise _too_large(self.max_bytes)
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise _too_large(self.max_bytes)
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)


def _too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(f"the body is over the limit of {limit} bytes")


def _check_text(headers: Headers, body: bytes) -> None:
    content_type = headers.get("content-type", "").lower()
    if not body or not content_type.startswith(_TEXTUAL):
        return
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        raise BodyInvalid(f"the body is not valid UTF-8 (byte {exc.start}, line {line})", line=line) from exc


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send_error(send: Send, exc: LabbookError) -> None:
    payload: Any = json.dumps(exc.to_body()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": exc.status_code,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})
