"""One error shape for everything: `{"error": {"code", "message", "field" | "line"}}`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.routing import Match

from app.errors import LabbookError, UnsupportedMediaType, field_name

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
}


def install(app: FastAPI) -> None:
    app.add_exception_handler(LabbookError, _labbook_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


def _error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    headers = {**(headers or {}), "WWW-Authenticate": "Bearer"} if status == 401 else headers
    return JSONResponse(status_code=status, content=body, headers=headers)


async def _labbook_error(_request: Request, exc: LabbookError) -> JSONResponse:
    # A 503 is always worth sending again later: say when.
    headers = {"Retry-After": "5"} if exc.status_code == 503 else None
    return _error(exc.status_code, exc.to_body(), headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0]
    loc = [str(part) for part in first.get("loc", ())]
    if loc == ["body"] and not _is_json(request):
        media = request.headers.get("content-type", "none")
        return await _labbook_error(request, UnsupportedMediaType(f"send application/json, not {media}", field="body"))
    if first.get("type") == "json_invalid":
        detail = first.get("ctx", {}).get("error", "malformed JSON")
        body = {"error": {"code": "body_invalid", "message": f"malformed JSON: {detail}", "field": "body"}}
        return _error(400, body)
    return _error(422, {"error": _validation_body(loc, first)})


def _validation_body(loc: list[str], first: dict[str, Any]) -> dict[str, Any]:
    field = field_name(loc, request=True, empty="")
    message = first.get("msg", "invalid value")
    if first.get("type") == "extra_forbidden":
        message = f"unknown field '{loc[-1]}'"
    elif first.get("type") == "missing":
        message = f"'{loc[-1]}' is required"
    return {"code": "validation_error", "message": f"{field}: {message}", "field": field}


def _is_json(request: Request) -> bool:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return _error(exc.status_code, {"error": {"code": code, "message": str(exc.detail)}}, headers or None)


def _allowed_methods(request: Request) -> str:
    """Every method some route answers at this URL. Starlette's 405 names only the first route whose path matched,
    so `PUT /v1/entries/1` would say `Allow: GET` although PATCH works too."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):  # an included router's routes, with their prefixes
        if route.methods and route.matches(request.scope)[0] is not Match.NONE:
            methods |= route.methods
    return ", ".join(sorted(methods))


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    logger.exception("api.unexpected_error", exc_info=exc)
    return _error(500, {"error": {"code": "internal_error", "message": "an unexpected error; it has been logged"}})
