"""A run's model family: the model a parameter or tag names ("RandomForestClassifier" -> "random_forest"), so that
runs of one estimator group together whatever spelling their table or tracking code used."""

from __future__ import annotations

import re
from functools import lru_cache

from app.analysis.model import RunView

# Parameter or tag keys naming the model family, in order of preference (MLflow autologging writes the last two).
FAMILY_KEYS = (
    "model_family",
    "model_type",
    "model",
    "model_name",
    "model_class",
    "estimator",
    "algorithm",
    "algo",
    "classifier",
    "regressor",
    "learner",
    "arch",
    "architecture",
    "estimator_name",
    "estimator_class",
)
FAMILY_KEYSET = frozenset(FAMILY_KEYS)
# Family spellings (lowercase, separators removed) -> one name.
FAMILY_ALIASES = {
    "rf": "random_forest",
    "randomforest": "random_forest",
    "lr": "logistic_regression",
    "logreg": "logistic_regression",
    "logistic": "logistic_regression",
    "logisticregression": "logistic_regression",
    "xgb": "xgboost",
    "xgboost": "xgboost",
    "lgb": "lightgbm",
    "lgbm": "lightgbm",
    "lightgbm": "lightgbm",
    "lightgbmboost": "lightgbm",
    "cat": "catboost",
    "catboost": "catboost",
    "gb": "gradient_boosting",
    "gbm": "gradient_boosting",
    "gbdt": "gradient_boosting",
    "gradientboosting": "gradient_boosting",
    "histgb": "hist_gradient_boosting",
    "histgbm": "hist_gradient_boosting",
    "histgradientboosting": "hist_gradient_boosting",
    "svc": "svm",
    "svr": "svm",
    "svm": "svm",
    "linearsvc": "linear_svm",
    "knn": "k_neighbors",
    "kneighbors": "k_neighbors",
    "dt": "decision_tree",
    "decisiontree": "decision_tree",
    "et": "extra_trees",
    "extratrees": "extra_trees",
    "nb": "naive_bayes",
    "gaussiannb": "naive_bayes",
    "mlp": "mlp",
    "dummy": "dummy",
}
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SUFFIX_RE = re.compile(r"_?(?:classifier|regressor|clf)$")


def family_of(run: RunView) -> str | None:
    """The run's model family from a model parameter or tag ("RandomForestClassifier" -> "random_forest"), or
    None when no run parameter or tag names one."""
    for source in (run.params, run.tags):
        for key in named_keys(tuple(source), FAMILY_KEYS):
            if (value := source[key].strip()) and value.lower() not in ("none", "null", "nan"):
                return canonical_family(value)
    return None


@lru_cache(maxsize=4096)
def named_keys(keys: tuple[str, ...], names: tuple[str, ...]) -> tuple[str, ...]:
    """The keys matching `names` (stripped, case-insensitively), in the order of `names`; where several keys match
    one name, the last. Cached per key list: a project's runs share a handful of them."""
    by_name = {key.strip().lower(): key for key in keys}
    return tuple(by_name[name] for name in names if name in by_name)


@lru_cache(maxsize=4096)
def canonical_family(value: str) -> str:
    name = value.split("(")[0].strip()
    if "." in name and " " not in name:
        name = name.rsplit(".", 1)[-1]  # sklearn.ensemble.RandomForestClassifier
    snake = _CAMEL_RE.sub("_", name).lower()
    snake = re.sub(r"[^a-z0-9]+", "_", snake).strip("_")
    snake = _SUFFIX_RE.sub("", snake) or snake
    return FAMILY_ALIASES.get(snake.replace("_", ""), snake)
