"""Labbook's error hierarchy.

Every error a user can cause is a `LabbookError` subclass; one handler in `app.api.handlers` renders it as
`{"error": {"code": <snake_case class name>, "message": ..., "line" | "field": ...}}`.
This module imports nothing from the app, so every layer may raise these errors.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


class LabbookError(Exception):
    """Base class: `status_code` is the HTTP status, `code` the machine-readable name."""

    status_code = 500

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        line: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.line = line
        self.extra = extra or {}

    @property
    def code(self) -> str:
        return _CAMEL.sub("_", type(self).__name__).lower()

    def to_body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.line is not None:
            error["line"] = self.line
        if self.field is not None:
            error["field"] = self.field
        error.update(self.extra)
        return {"error": error}


class NotFound(LabbookError):
    status_code = 404


class ProjectNotFound(NotFound):
    pass


class RunNotFound(NotFound):
    pass


class LogNotFound(NotFound):
    pass


class TokenNotFound(NotFound):
    pass


class Unauthorized(LabbookError):
    status_code = 401


class Forbidden(LabbookError):
    status_code = 403


class Conflict(LabbookError):
    status_code = 409


class ProjectExists(Conflict):
    pass


class ConcurrentWrite(Conflict):
    """Another request wrote the same rows at the same moment, and retrying did not settle it."""


class InputInvalid(LabbookError):
    """A request body or parameter that is well-formed but wrong; `field` names it."""

    status_code = 422


class RunTableInvalid(InputInvalid):
    """A pasted run table that cannot be imported; `line` names the line of the table at fault."""


class FilterInvalid(InputInvalid):
    pass


def field_name(loc: Sequence[int | str], *, brackets: bool = False, empty: str = "body", request: bool = False) -> str:
    """A pydantic error location as the field name an error shows: ('experiments', 0, 'run_id') is
    'experiments.0.run_id', or 'experiments[0].run_id' with `brackets`; an empty location is `empty`.

    `request`: a location from FastAPI's request validation, which starts with where the value came from: a body
    field drops that 'body' (('body', 'name') is 'name'), a query or path parameter keeps it ('query.limit')."""
    parts = list(loc)
    if request and len(parts) > 1 and parts[0] == "body":
        parts = parts[1:]
    if not brackets:
        return ".".join(str(part) for part in parts) or empty
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else f".{part}" if name else str(part)
    return name or empty


class BodyInvalid(LabbookError):
    """A body that cannot be decoded (invalid UTF-8, malformed JSON)."""

    status_code = 400


class BodyTooLarge(LabbookError):
    status_code = 413


class UnsupportedMediaType(LabbookError):
    status_code = 415


class Overloaded(LabbookError):
    """The service is at capacity: the request was not started. Sent with `Retry-After`."""

    status_code = 503


class ConfigInvalid(LabbookError):
    """Settings that cannot work together; raised at start-up, before serving."""


class EntryNotFound(NotFound):
    pass


class PromptInvalid(LabbookError):
    """A prompt template whose front matter or body is wrong: a packaging or editing mistake, caught at load."""


class PromptVariableMissing(LabbookError):
    """A prompt rendered without one of its declared variables (Jinja2 StrictUndefined)."""


class TrackingError(LabbookError):
    """The tracking server (MLflow) could not do what was asked."""

    status_code = 502


class TrackingUnavailable(TrackingError):
    """The tracking server did not answer, or answered 5xx: transient, worth retrying later."""

    status_code = 503


class TrackingAuthFailed(TrackingError):
    """The tracking server refused our credentials (401/403): check MLFLOW_TRACKING_TOKEN or username/password."""

    status_code = 502


class TrackingNotConfigured(InputInvalid):
    """No tracking URI (on the project, nor MLFLOW_TRACKING_URI), or no linked experiments."""


class ExperimentNotFound(InputInvalid):
    """A linked MLflow experiment (by ID or name) does not exist on the tracking server."""


class TrackingRunNotFound(TrackingError):
    """The run does not exist (or was deleted) on the tracking server: a permanent failure for a write-back."""

    status_code = 404


# --- Analysis and approaches ------------------------------------------------------------------------------------------


class ApproachNotFound(NotFound):
    """No approach of that name among the project's current approaches (or no mark to remove)."""


# --- Idempotency keys -------------------------------------------------------------------------------------------------


class IdempotencyKeyInvalid(InputInvalid):
    """An `Idempotency-Key` header that is empty, too long or not visible ASCII, or sent where it is not taken."""


class IdempotencyKeyReused(InputInvalid):
    """An `Idempotency-Key` sent again with another request (another body, path, query, Content-Type or Accept)."""


class IdempotencyKeyInUse(Conflict):
    """The first request with this `Idempotency-Key` is still running: retry in a moment."""


# --- Retrieval --------------------------------------------------------------------------------------------------------


class ServiceStarting(LabbookError):
    """A part of the service is not serving yet, or no longer (the app's start-up or shutdown): retry shortly."""

    status_code = 503


class RetrievalOff(NotFound):
    """Search on a service configured without retrieval (`LABBOOK_RETRIEVAL=off`): not there, and not coming back
    by retrying, so a 404 rather than a 503."""


class RetrievalUnavailable(LabbookError):
    """The vector store or the embedding model cannot answer now (a Chroma server down, an endpoint failing):
    transient. Writes never wait for it; a search answers 503 and says so."""

    status_code = 503


class LlmError(LabbookError):
    """The model endpoint failed or gave an unusable answer. Never reaches a client: the service falls back to the
    offline document and records the message as the reason."""

    status_code = 503


class LlmUnavailable(LlmError):
    """No usable answer came back: a timeout, a connection error, a 5xx, a rate limit (with its Retry-After)."""


class LlmRefused(LlmError):
    """The endpoint refused the request (a 4xx other than 429: a wrong model name, a key it does not accept)."""


class LlmAnswerInvalid(LlmError):
    """The answer is not one JSON object of the asked schema."""
