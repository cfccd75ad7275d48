"""Does a run need a seed to be reproduced? Not when its estimator, as its parameters configure it, draws no random
numbers: refitting it on the same data and code gives the same model whatever the seed.

A run is **deterministic** when its model family (`family.py: family_of`) is one of `DETERMINISTIC_FAMILIES` and
none of its parameters turns randomness on (`_RANDOM_WHEN`): a stochastic solver (`sag`, `saga`, `sgd`, `adam`),
random coordinate selection, Platt scaling's internal cross-validation (`probability=true`), a random dummy
strategy, liblinear's dual coordinate descent, liblinear's L1 coordinate descent (`solver=liblinear` with
`penalty=l1` or a non-zero `l1_ratio`: it permutes the features at random), shuffling. Every other run, a run
without a family included, needs a seed: forests, boosting (bagging, feature subsampling), SGD, neural nets,
Prophet (it samples its intervals), and anything Labbook cannot name.
"""

from __future__ import annotations

from app.analysis.configs import normalise_value
from app.analysis.family import family_of
from app.analysis.model import RunView

# Families that fit without random numbers, as `canonical_family` spells them, separators removed.
DETERMINISTIC_FAMILIES = frozenset(
    {
        # linear models with closed-form or fixed-order solvers
        "logisticregression",
        "linearregression",
        "ols",
        "ridge",
        "kernelridge",
        "lasso",
        "elasticnet",
        "lars",
        "lassolars",
        "bayesianridge",
        "ard",
        "ardregression",
        "huberregressor",
        "huber",
        "quantileregressor",
        "poissonregressor",
        "gammaregressor",
        "tweedieregressor",
        "isotonicregression",
        "plsregression",
        "lineardiscriminantanalysis",
        "lda",
        "quadraticdiscriminantanalysis",
        "qda",
        # kernel machines solved exactly (libsvm), nearest neighbours, naive Bayes
        "svm",
        "nusvc",
        "nusvr",
        "kneighbors",
        "knn",
        "radiusneighbors",
        "nearestcentroid",
        "naivebayes",
        "gaussiannb",
        "multinomialnb",
        "bernoullinb",
        "complementnb",
        "categoricalnb",
        # reference predictors and classical forecasting fitted by deterministic optimisation
        "dummy",
        "majority",
        "mostfrequent",
        "mean",
        "constant",
        "naive",
        "seasonalnaive",
        "drift",
        "exponentialsmoothing",
        "ets",
        "holtwinters",
        "simpleexpsmoothing",
        "theta",
        "arima",
        "sarima",
        "sarimax",
        "autoarima",
    }
)
# Parameter values that make an otherwise deterministic family draw random numbers: (key, normalised values).
_RANDOM_WHEN: tuple[tuple[str, frozenset[str]], ...] = (
    ("solver", frozenset({"sag", "saga", "sgd", "adam"})),
    ("selection", frozenset({"random"})),
    ("probability", frozenset({"true", "1", "1.0", "yes"})),
    ("strategy", frozenset({"stratified", "uniform"})),
    ("dual", frozenset({"true", "1", "1.0", "yes"})),
    ("shuffle", frozenset({"true", "1", "1.0", "yes"})),
)


def needs_seed(run: RunView) -> bool:
    """True unless the run's estimator is deterministic as configured (see the module docstring)."""
    family = family_of(run)
    if family is None or family.replace("_", "") not in DETERMINISTIC_FAMILIES:
        return True
    params = {key.strip().lower(): normalise_value(value) for key, value in run.params.items()}
    for key, values in _RANDOM_WHEN:
        value = params.get(key)
        if value is not None and value.lower() in values:
            return True
    return _liblinear_l1(params)


def _liblinear_l1(params: dict[str, str]) -> bool:
    """liblinear's L1 solver visits the features in a random order."""
    if (params.get("solver") or "").lower() != "liblinear":
        return False
    ratio = params.get("l1_ratio") or "0"
    return (params.get("penalty") or "").lower() == "l1" or ratio.lower() not in ("0", "0.0", "none", "null")
