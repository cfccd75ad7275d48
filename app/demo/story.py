"""The demo's story: three working sessions on scikit-learn's bundled breast-cancer data (WDBC), as the runs a data
scientist started, and how each run is trained and scored. `app.demo.runs` logs them to MLflow.

The story (numbers are whatever the models score; the split and seeds are fixed, so they repeat):
day 1, a logistic-regression baseline on raw features (lbfgs stops before converging), two distance-based models
on unscaled features that are a dead end, then scaling plus a C sweep as nested runs, whose gains flatten;
day 2, a random-forest sweep that stays flat below the linear model, seed repeats, and one run that changes two
things at once; day 3, histogram gradient boosting, a small sweep, five seed repeats that show the seed noise, and
one run started from a scratch copy, so it has no git commit. Three finalists carry a logged model.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from datetime import time as day_time
from typing import Any

import numpy as np
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
