"""The demo's MLflow history: three working sessions on scikit-learn's bundled breast-cancer data (WDBC), trained
for real and logged to a tracking server, so Labbook has a believable story to sync.

The story (numbers are whatever the models score; the split and seeds are fixed, so they repeat):
day 1, a logistic-regression baseline on raw features (lbfgs stops before converging), two distance-based models
on unscaled features that are a dead end, then scaling plus a C sweep as nested runs, whose gains flatten;
day 2, a random-forest sweep that stays flat below the linear model, seed repeats, and one run that changes two
things at once; day 3, histogram gradient boosting, a small sweep, five seed repeats that show the seed noise, and
one run started from a scratch copy, so it has no git commit. Three finalists carry a logged model, each registered
as a version of the registered model `breast-cancer-classifier` (so a selection decision can tag the version it
chose).

Runs are written with `MlflowClient.create_run` + `log_batch` + `set_terminated` at explicit times, so the history
reads chronologically over three days; only the model logging needs the fluent API.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from importlib.metadata import version
from typing import Any

import mlflow
import mlflow.sklearn
import numpy as np
from mlflow.data.http_dataset_source import HTTPDatasetSource
from mlflow.data.numpy_dataset import from_numpy
from mlflow.entities import DatasetInput, InputTag, Metric, Param
from mlflow.tracking import MlflowClient
from sklearn.datasets import load_breast_cancer  # type: ignore[import-untyped]
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier  # type: ignore[import-untyped]
from sklearn.exceptions import ConvergenceWarning  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score  # type: ignore[import-untyped]
from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]
from sklearn.neighbors import KNeighborsClassifier  # type: ignore[import-untyped]
from sklearn.pipeline import make_pipeline  # type: ignore[import-untyped]
from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]
from sklearn.svm import SVC  # type: ignore[import-untyped]

logger = logging.getLogger(__name__)

EXPERIMENT = "breast-cancer-demo"
REGISTERED_MODEL = "breast-cancer-classifier"
AUTHOR = "maya.chen"
DATA_VERSION = "wdbc-v1"
# Where WDBC comes from; scikit-learn bundles a copy, so nothing is downloaded.
DATA_SOURCE = "https://archive.ics.uci.edu/dataset/17/breast+cancer+wisconsin+diagnostic"
SPLIT = "stratified 80/20, random_state=0"
HARDWARE = "2 vCPU laptop"
# Each session starts at this time of day (UTC); runs follow each other a few minutes apart.
SESSION_START = day_time(9, 30)


@dataclass(frozen=True)
class Spec:
    """One run of the story. `model` and `params` build the estimator; the rest is what MLflow records about it."""

    name: str
    day: int  # 0, 1, 2: the session
    model: str  # logreg | knn | svc | rf | hgb
    params: dict[str, Any]
    approach: str
    scaled: bool = False
    parent: str | None = None  # the name of the parent run (a sweep)
    tags: dict[str, str] = field(default_factory=dict)
    committed: bool = True  # False: started from a scratch copy, so no git commit was recorded
    log_model: bool = False  # a finalist: its model (and so its environment) is logged
    log_dataset: bool = False
    metrics: bool = True  # a sweep's parent run trains nothing


HGB = {"learning_rate": 0.1, "max_iter": 200, "max_leaf_nodes": 15, "max_features": 0.5}
C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


def story() -> list[Spec]:
    """The runs in the order they were started."""
    return [*_day_one(), *_day_two(), *_day_three()]


def _day_one() -> list[Spec]:
    sweep = "logreg-scaled-C-sweep"
    return [
        Spec(
            "baseline-logreg",
            0,
            "logreg",
            {"C": 1.0, "max_iter": 100},
            "baseline",
            tags={"baseline": "true"},
            log_dataset=True,
        ),
        Spec("knn-raw-k5", 0, "knn", {"n_neighbors": 5}, "distance-based, unscaled"),
        Spec("svc-rbf-raw", 0, "svc", {"C": 1.0, "kernel": "rbf"}, "distance-based, unscaled"),
        Spec(
            sweep,
            0,
            "logreg",
            {"C_grid": ",".join(map(str, C_GRID)), "max_iter": 1000},
            "logreg-scaled",
            scaled=True,
            tags={"sweep": "C"},
            metrics=False,
        ),
        *(
            Spec(
                f"logreg-scaled-C{c:g}",
                0,
                "logreg",
                {"C": c, "max_iter": 1000},
                "logreg-scaled",
                scaled=True,
                parent=sweep,
                log_model=c == 1.0,
                log_dataset=c == 1.0,
            )
            for c in C_GRID
        ),
    ]


def _day_two() -> list[Spec]:
    def rf(name: str, tags: dict[str, str] | None = None, **params: Any) -> Spec:
        base = {"n_estimators": 200, "max_depth": 8, "random_state": 0}
        return Spec(name, 1, "rf", base | params, "random-forest", tags=tags or {})

    return [
        *(rf(f"rf-n{n}-d8", n_estimators=n) for n in (25, 50, 100)),
        Spec(
            "rf-n200-d8",
            1,
            "rf",
            {"n_estimators": 200, "max_depth": 8, "random_state": 0},
            "random-forest",
            log_model=True,
            log_dataset=True,
        ),
        rf("rf-n400-d8", n_estimators=400),
        *(rf(f"rf-n200-d{d}", max_depth=d) for d in (3, 5)),
        rf("rf-n200-dnone", max_depth=None),
        *(rf(f"rf-n200-d8-seed{s}", {"seed_repeat_of": "rf-n200-d8"}, random_state=s) for s in (1, 2)),
        rf("rf-n200-d8-minleaf5", min_samples_leaf=5),
        rf("rf-balanced-maxfeat0.5", max_features=0.5, class_weight="balanced"),
    ]


def _day_three() -> list[Spec]:
    def hgb(name: str, tags: dict[str, str] | None = None, committed: bool = True, **params: Any) -> Spec:
        params = HGB | {"random_state": 0} | params
        return Spec(name, 2, "hgb", params, "hist-gradient-boosting", tags=tags or {}, committed=committed)

    return [
        hgb("hgb-lr0.03", learning_rate=0.03),
        Spec(
            "hgb-lr0.1", 2, "hgb", HGB | {"random_state": 0}, "hist-gradient-boosting", log_model=True, log_dataset=True
        ),
        hgb("hgb-lr0.3", learning_rate=0.3),
        *(hgb(f"hgb-lr0.1-leaves{n}", max_leaf_nodes=n) for n in (7, 31)),
        hgb("hgb-lr0.1-l2-1", l2_regularization=1.0),
        *(hgb(f"hgb-lr0.1-seed{s}", {"seed_repeat_of": "hgb-lr0.1"}, random_state=s) for s in (1, 2, 3, 4)),
        hgb("hgb-lr0.05-iter400", learning_rate=0.05, max_iter=400),
        hgb("hgb-all-features", committed=False, max_features=1.0),
        # Back to the linear model, the one to beat: two single changes to the finalist.
        *(
            Spec(
                f"logreg-scaled-C1-{suffix}",
                2,
                "logreg",
                {"C": 1.0, "max_iter": 1000} | change,
                "logreg-scaled",
                scaled=True,
            )
            for suffix, change in (
                ("balanced", {"class_weight": "balanced"}),
                ("l1", {"l1_ratio": 1.0, "solver": "liblinear"}),
            )
        ),
    ]


# --- Training ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Data:
    x_train: np.ndarray[Any, Any]
    x_val: np.ndarray[Any, Any]
    y_train: np.ndarray[Any, Any]
    y_val: np.ndarray[Any, Any]


def load_data() -> Data:
    """WDBC, bundled with scikit-learn (no download), split once: stratified 80/20, random_state=0."""
    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
    return Data(x_train, x_val, y_train, y_val)


def build_model(spec: Spec) -> Any:
    params = spec.params
    estimator: Any
    if spec.model == "logreg":
        estimator = LogisticRegression(**params)
    elif spec.model == "knn":
        estimator = KNeighborsClassifier(**params)
    elif spec.model == "svc":
        estimator = SVC(**params)
    elif spec.model == "rf":
        estimator = RandomForestClassifier(**params)
    else:
        estimator = HistGradientBoostingClassifier(**params)
    return make_pipeline(StandardScaler(), estimator) if spec.scaled else estimator


def train(spec: Spec, data: Data) -> tuple[Any, dict[str, float]]:
    """Fit on the training split, score on the validation split."""
    model = build_model(spec)
    started = time.perf_counter()
    with warnings.catch_warnings():
        # The baseline's lbfgs stops at max_iter=100 on raw features: part of the story, recorded as a tag.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(data.x_train, data.y_train)
    seconds = time.perf_counter() - started
    scores = model.decision_function(data.x_val) if spec.model == "svc" else model.predict_proba(data.x_val)[:, 1]
    predicted = model.predict(data.x_val)
    metrics = {
        "val_auc": roc_auc_score(data.y_val, scores),
        "val_f1": f1_score(data.y_val, predicted),
        "val_recall": recall_score(data.y_val, predicted),
        "val_precision": precision_score(data.y_val, predicted),
        "train_seconds": seconds,
    }
    return model, {k: round(float(v), 4) for k, v in metrics.items()}


# --- Logging ----------------------------------------------------------------------------------------------------------


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
