"""The demo's MLflow history: the runs of `app.demo.story`, trained for real and logged to a tracking server, so
Labbook has a believable story to sync. The three finalists' models are logged and each registered as a version of
the registered model `breast-cancer-classifier` (so a selection decision can tag the version it chose).

Runs are written with `MlflowClient.create_run` + `log_batch` + `set_terminated` at explicit times, so the history
reads chronologically over three days; only the model logging needs the fluent API.
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from typing import Any

import mlflow
import mlflow.sklearn
from mlflow.data.http_dataset_source import HTTPDatasetSource
from mlflow.data.numpy_dataset import from_numpy
from mlflow.entities import DatasetInput, InputTag, Metric, Param
from mlflow.tracking import MlflowClient

from app.demo.story import (
    AUTHOR,
    DATA_SOURCE,
    DATA_VERSION,
    EXPERIMENT,
    HARDWARE,
    REGISTERED_MODEL,
    SESSION_START,
    SPLIT,
    Data,
    Spec,
    load_data,
    story,
    train,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoggedStory:
    experiment_id: str
    runs: int
    created: bool  # False: the experiment already had runs, nothing was logged


def session_days(today: date) -> tuple[date, date, date]:
    """The three sessions: the three days before `today`, so a fresh demo reads as last week's work."""
    return (today - timedelta(days=3), today - timedelta(days=2), today - timedelta(days=1))


def git_commit(day: int) -> str:
    """A fixed, plausible 40-hex commit per session."""
    return hashlib.sha1(f"labbook-demo-session-{day}".encode()).hexdigest()


def count_runs(tracking_uri: str, *, experiment: str = EXPERIMENT) -> int:
    """Runs in the demo experiment; 0 when it does not exist."""
    client = MlflowClient(tracking_uri=tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return 0
    return len(client.search_runs([found.experiment_id], max_results=1000))


def log_story(tracking_uri: str, *, today: date, experiment: str = EXPERIMENT) -> LoggedStory:
    """Train and log every run of the story, unless the experiment already has runs."""
    client = MlflowClient(tracking_uri=tracking_uri)
    existing = client.get_experiment_by_name(experiment)
    if existing is not None and client.search_runs([existing.experiment_id], max_results=1):
        return LoggedStory(existing.experiment_id, count_runs(tracking_uri, experiment=experiment), created=False)
    experiment_id = existing.experiment_id if existing else client.create_experiment(experiment, tags=_EXP_TAGS)
    data = load_data()
    run_ids: dict[str, str] = {}
    ends: dict[str, int] = {}
    clock = _Clock(session_days(today))
    with _quiet_fluent(tracking_uri):
        for spec in story():
            run_ids[spec.name], ends[spec.name] = _log_run(client, experiment_id, spec, data, clock, run_ids)
        for spec in story():
            if spec.parent:  # a sweep's parent ends with its last child
                ends[spec.parent] = max(ends[spec.parent], ends[spec.name])
        for name, end_ms in ends.items():
            client.set_terminated(run_ids[name], status="FINISHED", end_time=end_ms)
    logger.info("mlflow.demo.logged", extra={"experiment_id": experiment_id, "runs": len(run_ids)})
    return LoggedStory(experiment_id, len(run_ids), created=True)


_EXP_TAGS = {
    "mlflow.note.content": "Breast-cancer (WDBC) classifier: beat the logistic-regression baseline on validation "
    "AUC. Labbook's demo.",
    "team": "diagnostics-ml",
}


class _Clock:
    """Start times: each session starts at SESSION_START and each run starts a few minutes after the last."""

    def __init__(self, days: tuple[date, date, date]) -> None:
        self.days = days
        self.next_ms: dict[int, int] = {}

    def start(self, day: int) -> int:
        if day not in self.next_ms:
            self.next_ms[day] = int(datetime.combine(self.days[day], SESSION_START, tzinfo=UTC).timestamp() * 1000)
        started = self.next_ms[day]
        self.next_ms[day] += 7 * 60_000 + day * 60_000  # later sessions run a little slower: more to think about
        return started


def _log_run(
    client: MlflowClient, experiment_id: str, spec: Spec, data: Data, clock: _Clock, run_ids: dict[str, str]
) -> tuple[str, int]:
    """Create, train and log one run; returns its ID and end time (terminated later, once sweeps are known)."""
    start_ms = clock.start(spec.day)
    run = client.create_run(experiment_id, start_time=start_ms, run_name=spec.name, tags=_tags(spec, run_ids))
    run_id = run.info.run_id
    params = [Param(k, str(v)) for k, v in _params(spec).items()]
    seconds = 0.0
    metrics: list[Metric] = []
    if spec.metrics:
        model, scores = train(spec, data)
        seconds = scores["train_seconds"]
        metrics = [Metric(k, v, start_ms + 1000, 0) for k, v in scores.items()]
    client.log_batch(run_id, metrics=metrics, params=params)
    if spec.log_dataset:
        client.log_inputs(run_id, datasets=[_dataset_input(data)])
    if spec.metrics and spec.log_model:
        _register(client, run_id, _log_model(run_id, model, data), spec)
    # Wall time: loading the data and scoring add a couple of seconds to the fit itself.
    return run_id, start_ms + 2000 + int(seconds * 1000)


def _params(spec: Spec) -> dict[str, Any]:
    params = {"model": _MODEL_NAMES[spec.model], "scaler": "standard" if spec.scaled else "none", **spec.params}
    return params | {"data_version": DATA_VERSION, "split": SPLIT, "hardware": HARDWARE}


_MODEL_NAMES = {
    "logreg": "LogisticRegression",
    "knn": "KNeighborsClassifier",
    "svc": "SVC",
    "rf": "RandomForestClassifier",
    "hgb": "HistGradientBoostingClassifier",
}


def _tags(spec: Spec, run_ids: dict[str, str]) -> dict[str, str]:
    tags = {"mlflow.source.name": "train.py", "mlflow.source.type": "LOCAL", "mlflow.user": AUTHOR}
    tags |= {"approach": spec.approach, **spec.tags}
    if spec.committed:
        tags["mlflow.source.git.commit"] = git_commit(spec.day)
    if spec.parent:
        tags["mlflow.parentRunId"] = run_ids[spec.parent]
    if spec.model == "logreg" and not spec.scaled:
        tags["note"] = "lbfgs hit max_iter=100 before converging (features unscaled)"
    return tags


def _dataset_input(data: Data) -> DatasetInput:
    source = HTTPDatasetSource(DATA_SOURCE)  # type: ignore[no-untyped-call]
    dataset = from_numpy(data.x_train, targets=data.y_train, source=source, name=DATA_VERSION)
    return DatasetInput(dataset._to_mlflow_entity(), tags=[InputTag("mlflow.data.context", "training")])


def _log_model(run_id: str, model: Any, data: Data) -> Any:
    # Explicit requirements: inferring them loads the model in a subprocess, which takes seconds per model.
    requirements = [f"{name}=={version(name)}" for name in ("mlflow", "scikit-learn", "numpy", "scipy")]
    with mlflow.start_run(run_id=run_id), warnings.catch_warnings():
        # mlflow.pyfunc, imported on first use, warns about its own type hints: noise, not about our model.
        warnings.filterwarnings("ignore", message=".*Any type hint is inferred as AnyType", category=UserWarning)
        return mlflow.sklearn.log_model(
            model,
            name="model",
            pip_requirements=requirements,
            # skops refuses tree node storage unless told to trust it; these models were trained just above.
            skops_trusted_types=_TRUSTED_TREE_TYPES,
            input_example=data.x_val[:2],
        )


def _register(client: MlflowClient, run_id: str, info: Any, spec: Spec) -> None:
    """A finalist's logged model becomes the next version of REGISTERED_MODEL (created with the first one)."""
    if not client.search_registered_models(filter_string=f"name='{REGISTERED_MODEL}'"):
        description = "WDBC malignant/benign classifier: the demo's finalists, one version each."
        client.create_registered_model(REGISTERED_MODEL, description=description)
    client.create_model_version(
        REGISTERED_MODEL,
        source=info.model_uri,
        run_id=run_id,
        model_id=info.model_id,
        tags={"approach": spec.approach},
        description=f"Finalist {spec.name}.",
        await_creation_for=0,  # a tracking server's registry makes it READY at once; waiting only logs a line
    )


_TRUSTED_TREE_TYPES = [
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
]


@contextmanager
def _quiet_fluent(tracking_uri: str) -> Iterator[None]:
    """Point the fluent API (model logging) at the demo server, without its "🏃 View run" lines on stdout."""
    previous = os.environ.get("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT")
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    mlflow.set_tracking_uri(tracking_uri)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", None)
        else:
            os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = previous
