"""Write-back to MLflow: read a run's tags, write tags in one `log-batch` and delete tags no longer wanted, find the
registered model versions made from a run and tag them. Plain dicts and `ModelVersionRef`s in and out.

One attempt fails fast: MLflow's HTTP client retries a refused connection or a 5xx for minutes by default
(MLFLOW_HTTP_REQUEST_MAX_RETRIES=7 with backoff, a 120 s timeout), which would hold the outbox worker on one item
through an outage. The outbox retries with its own backoff instead, so requests to an http(s) tracking server go
through MLflow's own `http_request` (same credentials from MLFLOW_TRACKING_TOKEN / USERNAME / PASSWORD, same TLS
settings) with no retries and a short timeout. Other tracking URIs (a local `file:` or database store, Databricks)
go through `MlflowClient` as they are.

Errors become ours at this boundary: no answer or a 5xx is TrackingUnavailable (retry later), 401/403 is
TrackingAuthFailed, a run that does not exist or was deleted is TrackingRunNotFound, anything else TrackingError.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from mlflow.entities import RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.rest_utils import http_request

from app.errors import TrackingAuthFailed, TrackingError, TrackingRunNotFound, TrackingUnavailable

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10
_GET_RUN = "/api/2.0/mlflow/runs/get"
_LOG_BATCH = "/api/2.0/mlflow/runs/log-batch"
_DELETE_TAG = "/api/2.0/mlflow/runs/delete-tag"
_SEARCH_VERSIONS = "/api/2.0/mlflow/model-versions/search"
_SET_VERSION_TAG = "/api/2.0/mlflow/model-versions/set-tag"
_VERSIONS_PAGE = 1000
_AUTH_CODES = {"UNAUTHENTICATED", "PERMISSION_DENIED", "UNAUTHORIZED"}
_TRANSIENT_CODES = {"INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED", "ABORTED"}


def read_run_tags(tracking_uri: str, run_id: str, *, timeout: int = DEFAULT_TIMEOUT_S) -> dict[str, str]:
    """The run's tags (its note is `mlflow.note.content`). TrackingRunNotFound if the run is gone or deleted."""
    if not _is_http(tracking_uri):
        return _client_tags(tracking_uri, run_id)
    body = _request(tracking_uri, _GET_RUN, "GET", run_id=run_id, timeout=timeout, params={"run_id": run_id})
    run = body.get("run", {})
    if run.get("info", {}).get("lifecycle_stage") == "deleted":
        raise TrackingRunNotFound(f"MLflow run {run_id} was deleted", field="run_id")
    return {t["key"]: t.get("value", "") for t in run.get("data", {}).get("tags", [])}


def write_run_tags(tracking_uri: str, run_id: str, tags: dict[str, str], *, timeout: int = DEFAULT_TIMEOUT_S) -> None:
    """Set `tags` on the run in one request (MLflow's log-batch is atomic per run). Setting a tag is idempotent."""
    if not tags:
        return
    if not _is_http(tracking_uri):
        _client_write(tracking_uri, run_id, tags)
        return
    batch = {"run_id": run_id, "tags": [{"key": k, "value": v} for k, v in tags.items()]}
    _request(tracking_uri, _LOG_BATCH, "POST", run_id=run_id, timeout=timeout, json=batch)


def update_run_tags(
    tracking_uri: str,
    run_id: str,
    tags: dict[str, str],
    delete: Collection[str] = (),
    *,
    timeout: int = DEFAULT_TIMEOUT_S,
) -> None:
    """Set `tags` in one log-batch, then delete the tags named in `delete` (MLflow deletes one tag per request).
    Idempotent: a tag to delete that is already gone is fine; a run that is gone is TrackingRunNotFound."""
    write_run_tags(tracking_uri, run_id, tags, timeout=timeout)
    for key in sorted(set(delete) - set(tags)):
        try:
            _delete_tag(tracking_uri, run_id, key, timeout=timeout)
        except TrackingRunNotFound:
            # MLflow answers RESOURCE_DOES_NOT_EXIST for a missing tag and for a missing run alike: reading the run
            # tells them apart (and raises if it is the run that is gone).
            read_run_tags(tracking_uri, run_id, timeout=timeout)


def _delete_tag(uri: str, run_id: str, key: str, *, timeout: int) -> None:
    if not _is_http(uri):
        try:
            MlflowClient(tracking_uri=uri).delete_tag(run_id, key)
        except MlflowException as exc:
            raise _client_error(uri, run_id, exc) from exc
        return
    _request(uri, _DELETE_TAG, "POST", run_id=run_id, timeout=timeout, json={"run_id": run_id, "key": key})


@dataclass(frozen=True, order=True)
class ModelVersionRef:
    """One version of a registered model (MLflow's model registry)."""

    name: str
    version: str
    tags: tuple[tuple[str, str], ...] = field(default=(), compare=False)  # as the registry held them when read


def run_model_versions(tracking_uri: str, run_id: str, *, timeout: int = DEFAULT_TIMEOUT_S) -> list[ModelVersionRef]:
    """The registered model versions created from the run (`run_id='...'` in the registry), by name and version."""
    if "'" in run_id or "\\" in run_id:  # never true of an MLflow run ID; a filter string must stay one condition
        raise TrackingError(f"not an MLflow run ID: {run_id!r}")
    query = f"run_id='{run_id}'"
    if not _is_http(tracking_uri):
        return _client_versions(tracking_uri, run_id, query)
    found: list[ModelVersionRef] = []
    token: str | None = None
    while True:
        params = {"filter": query, "max_results": _VERSIONS_PAGE} | ({"page_token": token} if token else {})
        body = _request(tracking_uri, _SEARCH_VERSIONS, "GET", run_id=run_id, timeout=timeout, params=params)
        found += [
            ModelVersionRef(v["name"], str(v["version"]), tuple((t["key"], t["value"]) for t in v.get("tags", [])))
            for v in body.get("model_versions", [])
        ]
        token = body.get("next_page_token") or None
        if token is None:
            return sorted(found)


def set_model_version_tags(
    tracking_uri: str, version: ModelVersionRef, tags: dict[str, str], *, timeout: int = DEFAULT_TIMEOUT_S
) -> None:
    """Set `tags` on one model version (one request per tag: the registry has no batch call). Idempotent."""
    for key, value in tags.items():
        if not _is_http(tracking_uri):
            _client_version_tag(tracking_uri, version, key, value)
            continue
        body = {"name": version.name, "version": version.version, "key": key, "value": value}
        _request(
            tracking_uri,
            _SET_VERSION_TAG,
            "POST",
            run_id=f"{version.name}/{version.version}",
            timeout=timeout,
            json=body,
        )


def _client_versions(uri: str, run_id: str, query: str) -> list[ModelVersionRef]:
    try:
        versions = MlflowClient(tracking_uri=uri).search_model_versions(query)
    except MlflowException as exc:
        raise _client_error(uri, run_id, exc) from exc
    return sorted(ModelVersionRef(v.name, str(v.version), tuple(sorted((v.tags or {}).items()))) for v in versions)


def _client_version_tag(uri: str, version: ModelVersionRef, key: str, value: str) -> None:
    try:
        MlflowClient(tracking_uri=uri).set_model_version_tag(version.name, version.version, key, value)
    except MlflowException as exc:
        raise _client_error(uri, f"{version.name}/{version.version}", exc) from exc


def _is_http(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def _request(uri: str, endpoint: str, method: str, *, run_id: str, timeout: int, **kwargs: Any) -> dict[str, Any]:
    try:
        response = http_request(  # type: ignore[no-untyped-call]
            get_default_host_creds(uri),  # type: ignore[no-untyped-call]
            endpoint,
            method,
            max_retries=0,
            backoff_factor=0,
            timeout=timeout,
            raise_on_status=False,
            **kwargs,
        )
    except MlflowException as exc:  # http_request wraps connection errors and timeouts in MlflowException
        raise TrackingUnavailable(f"MLflow at {uri} did not answer: {_short(exc.message)}") from exc
    body = _json(response.text)
    if response.status_code == 200:
        return body
    raise _error(uri, run_id, response.status_code, str(body.get("error_code", "")), body.get("message", response.text))


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _error(uri: str, run_id: str, status: int, code: str, message: str) -> TrackingError:
    detail = f"MLflow at {uri} answered {status} {code}: {_short(message)}".replace(" :", ":")
    if status in (401, 403) or code in _AUTH_CODES:
        return TrackingAuthFailed(detail)
    if code == "RESOURCE_DOES_NOT_EXIST" or (status == 404 and not code):
        return TrackingRunNotFound(f"MLflow run {run_id} does not exist at {uri}", field="run_id")
    if status >= 500 or status == 429 or code in _TRANSIENT_CODES:
        return TrackingUnavailable(detail)
    return TrackingError(detail)


def _short(message: str, limit: int = 300) -> str:
    message = " ".join(str(message).split())
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _client_tags(uri: str, run_id: str) -> dict[str, str]:
    try:
        run = MlflowClient(tracking_uri=uri).get_run(run_id)
    except MlflowException as exc:
        raise _client_error(uri, run_id, exc) from exc
    if run.info.lifecycle_stage == "deleted":
        raise TrackingRunNotFound(f"MLflow run {run_id} was deleted", field="run_id")
    return dict(run.data.tags)


def _client_write(uri: str, run_id: str, tags: dict[str, str]) -> None:
    try:
        MlflowClient(tracking_uri=uri).log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    except MlflowException as exc:
        raise _client_error(uri, run_id, exc) from exc


def _client_error(uri: str, run_id: str, exc: MlflowException) -> TrackingError:
    status: int = exc.get_http_status_code()  # type: ignore[no-untyped-call]
    return _error(uri, run_id, status, str(exc.error_code), exc.message)
