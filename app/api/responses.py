"""What each operation declares besides its success: every error status it can answer, each with the one error body
(`ErrorPublic`), and the bearer token it needs.

FastAPI declares only what a route names. The statuses that follow from a route's shape are derived here, for every
route, so no route can forget one; a route names only its own (`responses=errors(409)`):

- any operation may be shed under load: 503, with Retry-After;
- with a parameter or a body: 422 (a value out of range or refused by the service), in our body, not FastAPI's;
- behind a token: 401;
- with a path parameter: 404 (no such project, entry, run, token, ...);
- any method but GET: 400 and 413 from the body guard, which reads every body before routing;
- with a body: 415 (a content type the route does not read).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from app.api.deps import get_principal
from app.services.schemas import ErrorPublic

DESCRIPTIONS = {
    400: "The body cannot be read: malformed JSON, invalid UTF-8, or a NUL character.",
    401: "No bearer token, or one that is unknown or revoked.",
    403: "The token may not do this (a token limited to some projects).",
    404: "No such resource, or one outside the token's projects.",
    409: "Another request changed the same rows at the same moment, or the name is taken.",
    413: "The body is over the size limit.",
    415: "The body's content type is not one this operation reads.",
    422: "A field or parameter is invalid; `field` names it.",
    502: "The tracking server (MLflow) refused or failed the request.",
    503: "Overloaded or a dependency is unavailable; send again after `Retry-After` seconds.",
}
_HEADERS = {
    401: {"WWW-Authenticate": {"description": "`Bearer`.", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "Seconds to wait before sending again.", "schema": {"type": "integer"}}},
}
_ERROR_REF = "#/components/schemas/ErrorPublic"
_SECURITY_SCHEME = "bearer"


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A route's own error statuses, for its decorator: `@router.post(..., responses=errors(409))`."""
    return {status: {"model": ErrorPublic, "description": DESCRIPTIONS[status]} for status in statuses}


def install(app: FastAPI) -> None:
    """Make `app.openapi()` declare the statuses every route shares and the bearer token."""

    declared: list[dict[str, Any]] = []  # the schema FastAPI built last (it rebuilds when routes change)
    build: Callable[[], dict[str, Any]] = app.openapi  # FastAPI's, or an earlier extension of it

    def openapi() -> dict[str, Any]:
        spec = build()
        if not declared or declared[0] is not spec:
            declare_errors(spec, app.routes)
            declared[:] = [spec]
        return spec

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema


def declare_errors(spec: dict[str, Any], routes: Iterable[BaseRoute]) -> None:
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    error_schema = ErrorPublic.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, schema in error_schema.pop("$defs", {}).items():
        schemas.setdefault(name, schema)
    schemas.setdefault("ErrorPublic", error_schema)
    components["securitySchemes"] = {_SECURITY_SCHEME: {"type": "http", "scheme": "bearer"}}
    for route in iter_route_contexts(list(routes)):  # an included router's routes, with their prefixes
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for method in sorted(route.methods or ()):
            operation = spec["paths"][route.path_format][method.lower()]
            token = _needs_token(route.dependant)
            if token:
                operation["security"] = [{_SECURITY_SCHEME: []}]
            for status in shared_statuses(operation, method=method, token=token):
                own = operation["responses"].get(str(status))
                # A route's own declaration of the status stands (/healthz answers 503 with its Health body);
                # FastAPI's default 422 (HTTPValidationError), which Labbook never sends, does not.
                if own is None or status == 422 or "content" not in own:
                    operation["responses"][str(status)] = _error_response(status)
    _drop_unused(schemas, spec, names=("HTTPValidationError", "ValidationError"))


def shared_statuses(operation: dict[str, Any], *, method: str, token: bool) -> list[int]:
    """The error statuses an operation of this shape can answer, whatever it does (see the module's docstring)."""
    parameters: Sequence[dict[str, Any]] = operation.get("parameters", [])
    body = "requestBody" in operation
    statuses = [503]
    statuses += [422] if parameters or body else []
    statuses += [401] if token else []
    statuses += [404] if any(p["in"] == "path" for p in parameters) else []
    statuses += [400, 413] if method != "GET" else []
    statuses += [415] if body else []
    return sorted(statuses)


def _error_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": _ERROR_REF}}},
    }
    if status in _HEADERS:
        response["headers"] = _HEADERS[status]
    return response


def _needs_token(dependant: Dependant) -> bool:
    return any(dep.call is get_principal or _needs_token(dep) for dep in dependant.dependencies)


def _drop_unused(schemas: dict[str, Any], spec: dict[str, Any], *, names: Sequence[str]) -> None:
    """FastAPI's own 422 body, which ours replaced everywhere: no longer in the contract."""
    for name in names:
        schema = schemas.pop(name, None)
        if schema is not None and f"#/components/schemas/{name}" in json.dumps(spec):
            schemas[name] = schema  # still referenced after all
