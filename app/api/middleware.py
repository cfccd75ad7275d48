"""Body guard: refuse bodies over the limit (413), text that is not UTF-8 (400, naming the line) and text holding a
NUL character (which PostgreSQL cannot store: 400 naming the line, or 422 naming the JSON field) before any route
sees them, so no handler ever works on a truncated, undecodable or unstorable body. A NUL in the URL's path or query
is refused too (422), since PostgreSQL cannot compare with it either.

Security headers: every answer carries `X-Content-Type-Options: nosniff`, so a browser shows a Markdown answer (which
holds people's text) as the text/markdown it is declared as, never sniffed into HTML that would run."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import BodyInvalid, BodyTooLarge, InputInvalid, LabbookError

_TEXTUAL = ("application/json", "text/", "application/x-www-form-urlencoded")
# A JSON "\u0000" escape (an odd number of backslashes before "u0000": "\\u0000" is a backslash and "u0000").
_JSON_NUL_RE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = ((b"x-content-type-options", b"nosniff"),)


class SecurityHeaders:
    """Adds `SECURITY_HEADERS` to every HTTP answer (the body guard's and the error handlers' too) that does not set
    them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyGuard:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (nul := _nul_in_url(scope)) is not None:
            await _send_error(send, nul)
            return
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
        await self.app(scope, replay_body(body, receive), send)

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
    if b"\x00" in body:
        line = body[: body.index(b"\x00")].count(b"\n") + 1
        raise BodyInvalid(f"the body contains a NUL character (line {line}), which cannot be stored", line=line)
    field = _nul_field(body) if content_type.startswith("application/json") and _JSON_NUL_RE.search(body) else None
    if field is not None:
        raise InputInvalid(f"{field} contains a NUL character (\\u0000), which cannot be stored", field=field)


def _nul_in_url(scope: Scope) -> InputInvalid | None:
    """A NUL in the (decoded) path or in a query parameter's name or value, as the error naming where it is."""
    if "\x00" in scope["path"]:
        return InputInvalid("the path contains a NUL character (%00), which cannot be stored", field="path")
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            field = f"query.{name.replace(chr(0), '')}"
            return InputInvalid(f"{field} contains a NUL character (%00), which cannot be stored", field=field)
    return None


def _nul_field(body: bytes) -> str | None:
    """The dotted path of the first string that holds a NUL, e.g. `text` or `run_ids[2]`; None if it cannot be read."""
    try:
        document = json.loads(body)
        return _find_nul(document, "")
    except (ValueError, RecursionError):
        return None  # malformed or absurdly nested JSON: the route's own 400 or 422 names the problem


def _find_nul(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in children:
        child_path = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else str(key)
        found = _find_nul(child, child_path) or (child_path if "\x00" in str(key) else None)
        if found:
            return found
    return None


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body already read, then the client's further messages."""
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
