"""Read runs from an MLflow tracking server for the sync: experiments by ID or name, runs page by page through
`search_runs`, and the environment files of logged models. Returns the plain types of `mapping`, never MLflow
entities, and turns MLflow's and requests' failures into Labbook errors that name what to fix.

Authentication is MLflow's own: the client reads MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and
MLFLOW_TRACKING_PASSWORD, from the environment on every request.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import mlflow.artifacts
from mlflow.entities import ViewType
from mlflow.environment_variables import MLFLOW_TRACKING_INSECURE_TLS, MLFLOW_TRACKING_SERVER_CERT_PATH
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from app.errors import ExperimentNotFound, TrackingAuthFailed, TrackingError, TrackingUnavailable
from app.integrations.mlflow.mapping import (
    ENVIRONMENT_FILES,
    ModelRef,
    TrackedRun,
    dataset_input,
    map_run,
    parse_environment_files,
)

logger = logging.getLogger(__name__)

# Runs per search_runs request. MLflow's server allows up to 50,000; 1,000 keeps a page's memory small, and the
# server's per-run work, not the number of round trips, dominates a sync's time.
PAGE_SIZE = 1000
# Run IDs per `attributes.run_id IN (...)` filter: keeps the filter string short for proxies and the parser.
_IDS_PER_FILTER = 100
# A first request that says whether anything answers at the URI, so a server that is down fails in a second
# instead of after the MLflow client's retries with backoff (about four minutes by default).
_PROBE_TIMEOUT_S = 10.0
_AUTH_CODES = frozenset({"UNAUTHENTICATED", "PERMISSION_DENIED", "CUSTOMER_UNAUTHORIZED"})
_UNAVAILABLE_CODES = frozenset(
    {"INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE", "DEADLINE_EXCEEDED", "REQUEST_LIMIT_EXCEEDED", "RESOURCE_EXHAUSTED"}
)
_AUTH_HINT = "set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"


@dataclass(frozen=True)
class TrackedExperiment:
    experiment_id: str
    name: str


def redact_uri(uri: str) -> str:
    """The URI without a password (`http://user:***@host`), for messages and answers."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class RunReader:
    """One tracking server. Every method raises TrackingUnavailable, TrackingAuthFailed, ExperimentNotFound or
    TrackingError, never an MLflow or requests exception."""

    def __init__(self, tracking_uri: str, *, page_size: int = PAGE_SIZE) -> None:
        self.tracking_uri = tracking_uri
        self.page_size = page_size
        self._shown_uri = redact_uri(tracking_uri)
        with self._errors("connecting"):
            # MLflow checks the URI here (an unknown scheme, a retired file store): a clear 502, never a 500.
            self._client = MlflowClient(tracking_uri=tracking_uri)
        self._probed = False

    def experiment(self, ref: str) -> TrackedExperiment:
        """A linked experiment by ID or name (IDs are tried first when `ref` is a number, names otherwise)."""
        self._probe()
        lookups = (self._by_id, self._by_name) if ref.strip().isdigit() else (self._by_name, self._by_id)
        with self._errors(f"reading experiment '{ref}'"):
            for lookup in lookups:
                found = lookup(ref.strip())
                if found is None:
                    continue
                if found.lifecycle_stage != "active":
                    raise ExperimentNotFound(
                        f"MLflow experiment '{ref}' was deleted on {self._shown_uri}", field="mlflow_experiments"
                    )
                return TrackedExperiment(experiment_id=str(found.experiment_id), name=str(found.name))
        raise ExperimentNotFound(
            f"no MLflow experiment with ID or name '{ref}' on {self._shown_uri}", field="mlflow_experiments"
        )

    def runs(
        self, experiment_id: str, *, started_since_ms: int | None = None, run_ids: Sequence[str] = ()
    ) -> list[TrackedRun]:
        """The experiment's active (not deleted) runs, mapped. With `started_since_ms`: only runs that started at
        or after it, plus the runs named in `run_ids` (runs that were open at the last sync). Each run once."""
        self._probe()
        filters = [""] if started_since_ms is None else [f"attributes.start_time >= {int(started_since_ms)}"]
        ids = list(dict.fromkeys(run_ids))
        filters += [_ids_filter(ids[i : i + _IDS_PER_FILTER]) for i in range(0, len(ids), _IDS_PER_FILTER)]
        seen: dict[str, TrackedRun] = {}
        with self._errors(f"reading the runs of experiment {experiment_id}"):
            for filter_string in filters:
                for run in self._search(experiment_id, filter_string):
                    if run.info.run_id not in seen:
                        seen[run.info.run_id] = _tracked(run)
        return list(seen.values())

    def model_environment(self, model: ModelRef) -> dict[str, Any] | None:
        """The parsed environment files of a logged model ({} when it has none), or None when the model is not
        ready yet (still uploading: try again next sync)."""
        with self._errors(f"reading the environment of {model.cache_uri}"):
            location: str | None = model.artifact_uri
            if model.model_id is not None:
                logged = self._client.get_logged_model(model.model_id)
                if str(getattr(logged.status, "value", logged.status)) != "READY":
                    return None
                location = logged.artifact_location
            if not location:
                return {}
            texts = self._download_texts(location.rstrip("/"))
        return parse_environment_files(texts, where=model.cache_uri)

    # --- internals ------------------------------------------------------------------------------------------------

    def _search(self, experiment_id: str, filter_string: str) -> Iterator[Any]:
        token: str | None = None
        while True:
            page = self._client.search_runs(
                [experiment_id],
                filter_string=filter_string,
                run_view_type=ViewType.ACTIVE_ONLY,
                max_results=self.page_size,
                page_token=token,
            )
            yield from page
            token = page.token
            if not token:
                return

    def _by_id(self, ref: str) -> Any:
        try:
            return self._client.get_experiment(ref)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "BAD_REQUEST"):
                return None
            raise

    def _by_name(self, ref: str) -> Any:
        return self._client.get_experiment_by_name(ref)

    def _download_texts(self, location: str) -> dict[str, str]:
        """The environment files the model has: listed first, since a missing file is an undistinguishable 500."""
        listed = mlflow.artifacts.list_artifacts(artifact_uri=location, tracking_uri=self.tracking_uri)
        present = {PurePosixPath(f.path).name for f in listed if not f.is_dir}
        texts: dict[str, str] = {}
        with tempfile.TemporaryDirectory(prefix="labbook-model-env-") as tmp:
            for name in ENVIRONMENT_FILES:
                if name in present:
                    path = mlflow.artifacts.download_artifacts(
                        artifact_uri=f"{location}/{name}", dst_path=tmp, tracking_uri=self.tracking_uri
                    )
                    texts[name] = Path(path).read_text(encoding="utf-8", errors="replace")
        return texts

    def _probe(self) -> None:
        """GET /health once: fail fast when nothing answers. Only for http(s) URIs; a 4xx still means a server."""
        if self._probed:
            return
        scheme = urlsplit(self.tracking_uri).scheme
        if scheme in ("http", "https"):
            # MLflow's own TLS settings, so the probe trusts what the client trusts.
            cert_path = MLFLOW_TRACKING_SERVER_CERT_PATH.get()  # type: ignore[no-untyped-call]
            insecure = MLFLOW_TRACKING_INSECURE_TLS.get()  # type: ignore[no-untyped-call]
            verify: bool | str = cert_path or not insecure
            try:
                response = httpx.get(f"{self.tracking_uri.rstrip('/')}/health", timeout=_PROBE_TIMEOUT_S, verify=verify)
            except httpx.ConnectError as exc:
                if "SSL" in str(exc) or "CERTIFICATE" in str(exc).upper():
                    self._probed = True  # a TLS setup the probe cannot judge: let MLflow's client try
                    return
                raise self._unreachable(exc) from exc
            except httpx.HTTPError as exc:
                raise self._unreachable(exc) from exc
            except (UnicodeError, ValueError) as exc:  # a host name IDNA cannot encode ("a..b", a 64+ char label)
                raise TrackingError(
                    f"the tracking URI {self._shown_uri} names no valid host: {exc}", field="tracking_uri"
                ) from exc
            if response.status_code >= 500:
                raise TrackingUnavailable(
                    f"the MLflow tracking server at {self._shown_uri} answered HTTP {response.status_code}; "
                    "try again later",
                    field="tracking_uri",
                )
        self._probed = True

    def _unreachable(self, exc: Exception) -> TrackingUnavailable:
        return TrackingUnavailable(
            f"the MLflow tracking server at {self._shown_uri} does not answer ({type(exc).__name__}); "
            "check MLFLOW_TRACKING_URI or the project's tracking_uri, or try again later",
            field="tracking_uri",
        )

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except MlflowException as exc:
            raise self._translate(exc, doing) from exc
        except OSError as exc:  # requests' ConnectionError and friends, raised outside MLflow's wrapping
            raise TrackingUnavailable(f"{doing} from {self._shown_uri} failed: {exc}", field="tracking_uri") from exc

    def _translate(self, exc: MlflowException, doing: str) -> TrackingError:
        if _is_auth(exc):
            return TrackingAuthFailed(
                f"the MLflow tracking server at {self._shown_uri} refused our credentials while {doing} "
                f"(HTTP {_status(exc)}): {_AUTH_HINT}",
                field="tracking_uri",
            )
        if _is_unavailable(exc):
            return TrackingUnavailable(
                f"the MLflow tracking server at {self._shown_uri} failed while {doing}: {_short(exc.message)}",
                field="tracking_uri",
            )
        return TrackingError(
            f"MLflow refused {doing} on {self._shown_uri}: {_short(exc.message)}", field="tracking_uri"
        )


def _tracked(run: Any) -> TrackedRun:
    """An MLflow Run entity as plain values (the per-run cost of a sync: keep it to attribute reads)."""
    info, data = run.info, run.data
    inputs = run.inputs.dataset_inputs if run.inputs is not None else ()
    outputs = run.outputs.model_outputs if run.outputs is not None else ()
    return map_run(
        run_id=info.run_id,
        experiment_id=str(info.experiment_id),
        run_name=info.run_name,
        status=info.status,
        start_time_ms=info.start_time,
        end_time_ms=info.end_time,
        artifact_uri=info.artifact_uri,
        user_id=info.user_id,
        params=data.params,
        metrics=data.metrics,
        tags=data.tags,
        datasets=[_dataset(d) for d in inputs] if inputs else (),
        model_ids=[o.model_id for o in outputs] if outputs else (),
    )


def _dataset(dataset_input_: Any) -> dict[str, Any]:
    dataset = dataset_input_.dataset
    context = next((t.value for t in dataset_input_.tags or () if t.key == "mlflow.data.context"), None)
    return dataset_input(
        name=dataset.name,
        digest=dataset.digest,
        source_type=dataset.source_type,
        source=dataset.source,
        context=context,
    )


def _ids_filter(ids: Sequence[str]) -> str:
    quoted = ", ".join("'" + run_id.replace("'", "") + "'" for run_id in ids)
    return f"attributes.run_id IN ({quoted})"


def _is_auth(exc: Exception) -> bool:
    if not isinstance(exc, MlflowException):
        return False
    return exc.error_code in _AUTH_CODES or _status(exc) in (401, 403)


def _status(exc: MlflowException) -> int:
    status: int = exc.get_http_status_code()  # type: ignore[no-untyped-call]
    return status


def _is_unavailable(exc: Exception) -> bool:
    if isinstance(exc, MlflowException):
        return exc.error_code in _UNAVAILABLE_CODES
    return False


def _short(message: str, limit: int = 300) -> str:
    text = " ".join(message.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
