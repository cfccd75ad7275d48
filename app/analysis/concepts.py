"""A small vocabulary of ML concepts, mapped to a project's own parameter names and model families.

People ask about concepts ("stronger L2", "more dropout", "a deeper forest", "class weighting"), runs store
parameters (`C`, `reg_lambda`, `attn_dropout`, `max_depth`, `scale_pos_weight`). A concept here is read from a
proposal by its words, and finds its parameters among the project's keys by their word parts (`_SUBTOKEN_RE` splits
"reg_alpha", "l2Reg", "attn-dropout" alike), so a key spelled in a way no one listed still maps. A parameter can be
*inverse* to its concept's strength: a larger `C` is weaker regularisation, a larger `keep_prob` less dropout, a
larger `min_child_samples` a shallower tree.

Model families are sorted into kinds (neural, tree, linear, kernel) by their name's parts and by the parameters their
runs set (a family whose runs set dropout or epochs is neural), so a concept bound to a kind ("dropout" to neural
families, "depth" to trees and networks) reads the parameters of that kind first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

FamilyKind = Literal["neural", "tree", "linear", "kernel", "other"]
Sign = Literal[1, -1]  # +1: a larger value is more of the concept; -1: a larger value is less (C, keep_prob)

_SUBTOKEN_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def parts_of(text: str) -> tuple[str, ...]:
    """The lowercase word parts of a key or phrase: "reg_lambda" -> ("reg", "lambda"), "l2Reg" -> ("l2", "reg")."""
    found = [p.lower() for p in _SUBTOKEN_RE.findall(text)]
    merged: list[str] = []
    for part in found:  # "l2", "l1": a letter and its digit are one part
        if merged and part.isdigit() and len(merged[-1]) == 1 and merged[-1].isalpha():
            merged[-1] += part
        else:
            merged.append(part)
    return tuple(merged)


@dataclass(frozen=True, slots=True)
class Role:
    """How one parameter carries a concept."""

    sign: Sign = 1
    aspect: str | None = None  # a finer part of the concept ("l2", "leaves", "warmup", "bagging")
    neutral: float | None = 0.0  # the numeric value that means "off" (1 for weights and fractions), None: none
    unlimited: bool = False  # a value <= 0 or "none" means no limit (max_depth=-1): larger than any number


@dataclass(frozen=True, slots=True)
class Concept:
    name: str
    words: frozenset[str]  # normalised phrases (parts joined) that name the concept in a proposal
    role: Callable[[tuple[str, ...]], Role | None]  # a stored key's parts -> its role, or None
    kinds: tuple[FamilyKind, ...] = ()  # family kinds the concept belongs to, first preferred; () any
    aspects: tuple[tuple[str, str], ...] = ()  # (normalised word, aspect): the word narrows to that aspect
    values: tuple[str, ...] = ()  # normalised values that only this concept's parameters take ("adamw", "smote")
    loose_aspects: bool = False  # a family with no key of the aspect reads all the concept's keys ("L2": C)


def _has(parts: tuple[str, ...], *words: str) -> bool:
    return all(w in parts for w in words)


def _any(parts: tuple[str, ...], words: Iterable[str]) -> bool:
    return any(w in parts for w in words)


_SCHEDULE_PARTS = frozenset("scheduler schedule sched warmup decay gamma step steps milestones patience factor".split())
_SCHEDULE_PARTS |= frozenset("cosine annealing onecycle cycle min final end start".split())


def _regularisation(p: tuple[str, ...]) -> Role | None:
    if _any(p, ("ratio", "type", "kind", "norm")) or _any(p, _SCHEDULE_PARTS - {"decay"}):
        return None  # l1_ratio mixes the penalties, penalty_type names one: neither is a strength
    if p and p[-1] == "c" and len(p) <= 3:
        return Role(sign=-1)  # C, svc__C: the inverse of the strength
    if _has(p, "weight", "decay") or "wd" in p or "l2" in p or "lambda" in p or "ridge" in p:
        return Role(aspect="l2")
    if "l1" in p or "lasso" in p or _has(p, "reg", "alpha"):
        return Role(aspect="l1")
    if "alpha" in p and not _any(p, ("focal", "smoothing", "learning", "lr", "dirichlet", "prior")):
        return Role()
    if _any(p, ("reg", "regularization", "regularisation", "regularizer", "penalty")):
        return Role()
    return None


def _learning_rate(p: tuple[str, ...]) -> Role | None:
    if _any(p, _SCHEDULE_PARTS):
        return None
    if _has(p, "learning", "rate") or "lr" in p or "eta" in p or "shrinkage" in p or "learningrate" in p:
        return Role()
    return None


def _schedule(p: tuple[str, ...]) -> Role | None:
    if "warmup" in p:
        return Role(aspect="warmup")
    if _any(p, ("scheduler", "schedule", "sched", "annealing", "onecycle")):
        return Role(aspect="schedule", neutral=None)
    if _any(p, ("lr", "learning")) and _any(p, ("decay", "gamma", "step", "milestones", "factor", "patience")):
        return Role(aspect="schedule", neutral=None)
    return None


def _depth(p: tuple[str, ...]) -> Role | None:
    if "depth" in p:
        return Role(aspect="depth", unlimited=True)
    if "layers" in p or _has(p, "num", "layer") or _has(p, "n", "layer"):
        return Role(aspect="depth", neutral=None)
    if "leaves" in p or _has(p, "leaf", "nodes"):
        return Role(aspect="leaves", unlimited=True)
    if "min" in p and _any(p, ("child", "leaf", "split")):
        return Role(sign=-1, aspect="leaves", neutral=None)  # a larger minimum leaf: a shallower tree
    return None


def _ensemble(p: tuple[str, ...]) -> Role | None:
    if _any(p, ("estimators", "trees", "iterations", "rounds")) or _has(p, "boost", "round"):
        return Role(aspect="size", neutral=None)
    if _has(p, "n", "models") or _has(p, "num", "models"):
        return Role(aspect="size", neutral=None)
    if "bagging" in p and "freq" in p:
        return Role(aspect="bagging")
    if _any(p, ("bagging", "subsample", "colsample")) or _has(p, "feature", "fraction") or _has(p, "max", "samples"):
        return Role(aspect="bagging", neutral=1.0, sign=-1)  # a smaller fraction: more bagging
    if _has(p, "max", "features"):
        return Role(aspect="bagging", neutral=1.0, sign=-1)  # a smaller fraction: more bagging
    if "bootstrap" in p:
        return Role(aspect="bagging")
    if _any(p, ("stacking", "stack", "stacked", "blend", "blending", "voting", "meta")):
        return Role(aspect="stacking", neutral=None)
    return None


def _kernel(p: tuple[str, ...]) -> Role | None:
    if _any(p, _SCHEDULE_PARTS - {"gamma"}) or _any(p, ("lr", "learning", "focal")):
        return None
    if "kernel" in p:
        return Role(aspect="kernel", neutral=None)
    if "gamma" in p or "degree" in p or "coef0" in p:
        return Role(aspect="gamma" if "gamma" in p else "degree", neutral=None)
    return None


def _dropout(p: tuple[str, ...]) -> Role | None:
    if "dropout" in p or (("drop" in p) and _any(p, ("rate", "prob", "p", "path", "ratio"))):
        return Role()
    if _has(p, "keep", "prob"):
        return Role(sign=-1, neutral=1.0)
    return None


def _optimiser(p: tuple[str, ...]) -> Role | None:
    if _any(p, ("optimizer", "optimiser", "optim", "opt", "solver")) and not _any(p, _SCHEDULE_PARTS):
        return Role(neutral=None)
    return None


def _scaling(p: tuple[str, ...]) -> Role | None:
    if _any(p, ("pos", "weight", "factor", "loss")):
        return None  # scale_pos_weight is class weighting
    if _any(p, ("scaler", "scaling", "scale", "normalize", "normalise", "normalization", "normalisation")):
        return Role(neutral=None)
    if _any(p, ("standardize", "standardise", "standardization", "standardisation", "preprocessor")):
        return Role(neutral=None)
    return None


def _imbalance(p: tuple[str, ...]) -> Role | None:
    if _has(p, "class", "weight") or _has(p, "class", "weights"):
        return Role(aspect="weighting", neutral=None)
    if "pos" in p and "weight" in p:
        return Role(aspect="weighting", neutral=1.0)
    if _any(p, ("unbalance", "unbalanced", "imbalance", "imbalanced", "balanced", "balance")):
        return Role(aspect="weighting")
    if _any(p, ("smote", "adasyn", "sampler", "oversample", "undersample", "oversampling", "undersampling")):
        return Role(aspect="sampling")
    if _any(p, ("resample", "resampling", "resampler")) or _has(p, "sampling", "strategy"):
        return Role(aspect="sampling")
    return None


def _features(p: tuple[str, ...]) -> Role | None:
    if _any(p, ("fraction", "colsample", "importance")) or (
        _any(p, ("max", "min")) and _any(p, ("feature", "features"))
    ):
        return None  # feature_fraction, max_features sample columns per tree: an ensemble setting
    if _any(p, ("feature", "features", "feat", "feats", "featureset")):
        return Role(neutral=None)
    return None


def _words(text: str) -> frozenset[str]:
    return frozenset("".join(parts_of(w)) for w in text.split(","))


CONCEPTS: tuple[Concept, ...] = (
    Concept(
        "regularisation",
        _words(
            "regularisation, regularization, regularise, regularize, regularizer, regularised, regularized, reg,"
            "penalty, penalisation, penalization, l1, l2, weight decay, ridge, lasso, shrink"
        ),
        _regularisation,
        aspects=(("l2", "l2"), ("weightdecay", "l2"), ("ridge", "l2"), ("l1", "l1"), ("lasso", "l1")),
        loose_aspects=True,
    ),
    Concept("learning_rate", _words("learning rate, learning rates, lr, eta, step size, shrinkage"), _learning_rate),
    Concept(
        "schedule",
        _words("schedule, scheduler, lr schedule, warmup, warm up, warm-up, decay, annealing, cosine, one cycle"),
        _schedule,
        aspects=(
            ("warmup", "warmup"),
            ("warm", "warmup"),
            ("schedule", "schedule"),
            ("scheduler", "schedule"),
            ("lrschedule", "schedule"),
            ("decay", "schedule"),
            ("annealing", "schedule"),
            ("cosine", "schedule"),
            ("onecycle", "schedule"),
        ),
        values=("cosine", "onecycle", "linear warmup", "step", "exponential", "plateau", "reducelronplateau"),
    ),
    Concept(
        "depth",
        _words("depth, deep, deeper, shallow, shallower, tree depth, leaves, leaf, layers, num layers"),
        _depth,
        kinds=("tree", "neural"),
        aspects=(("leaves", "leaves"), ("leaf", "leaves")),
    ),
    Concept(
        "ensemble",
        _words(
            "ensemble, ensembles, ensembling, estimators, trees, boosting rounds, rounds, iterations, bagging, bagged,"
            "bootstrap, subsampling, subsample, stacking, stacked, stack, blend, blending, voting"
        ),
        _ensemble,
        kinds=("tree",),
        aspects=(
            ("bagging", "bagging"),
            ("bagged", "bagging"),
            ("bootstrap", "bagging"),
            ("subsampling", "bagging"),
            ("subsample", "bagging"),
            ("stacking", "stacking"),
            ("stacked", "stacking"),
            ("stack", "stacking"),
            ("blend", "stacking"),
            ("blending", "stacking"),
            ("voting", "stacking"),
            ("estimators", "size"),
            ("trees", "size"),
            ("rounds", "size"),
            ("iterations", "size"),
        ),
    ),
    Concept(
        "kernel",
        _words("kernel, kernels, gamma"),
        _kernel,
        kinds=("kernel",),
        aspects=(("gamma", "gamma"), ("kernel", "kernel"), ("kernels", "kernel")),
        values=("rbf", "poly", "polynomial", "sigmoid", "laplacian"),
    ),
    Concept("dropout", _words("dropout, dropouts, drop out, drop rate, drop path"), _dropout, kinds=("neural",)),
    Concept(
        "optimiser",
        _words("optimizer, optimiser, optimizers, optimisers, optim, solver"),
        _optimiser,
        values=tuple(
            "adam adamw sgd rmsprop adagrad adadelta adamax nadam radam lamb lion lbfgs liblinear saga sag newtoncg"
            " momentum nesterov".split()
        ),
    ),
    Concept(
        "scaling",
        _words(
            "scaling, scaler, scale, standardise, standardize, standardisation, standardization, standardised,"
            "standardized, normalise, normalize, normalisation, normalization, normalised, normalized, z score"
        ),
        _scaling,
        values=("standard", "standardscaler", "minmax", "minmaxscaler", "robust", "robustscaler", "quantile"),
    ),
    Concept(
        "imbalance",
        _words(
            "imbalance, imbalanced, unbalanced, class imbalance, class weight, class weights, class weighting,"
            "reweight, reweighting, re weighting, rebalance, rebalancing, balanced, balancing, oversampling,"
            "oversample, undersampling, undersample, resampling, resample, smote, adasyn, pos weight, upweight,"
            "upweighting, minority, minority class"
        ),
        _imbalance,
        aspects=(
            ("classweight", "weighting"),
            ("classweights", "weighting"),
            ("classweighting", "weighting"),
            ("reweight", "weighting"),
            ("reweighting", "weighting"),
            ("upweight", "weighting"),
            ("upweighting", "weighting"),
            ("posweight", "weighting"),
            ("oversampling", "sampling"),
            ("oversample", "sampling"),
            ("undersampling", "sampling"),
            ("undersample", "sampling"),
            ("resampling", "sampling"),
            ("resample", "sampling"),
            ("smote", "sampling"),
            ("adasyn", "sampling"),
        ),
        values=("balanced", "balancedsubsample", "smote", "adasyn", "oversample", "undersample", "randomoversampler"),
    ),
    Concept(
        "features",
        _words("features, feature, feature set, feature sets, feature family, feature group, feature groups"),
        _features,
    ),
)
CONCEPT_BY_NAME = {c.name: c for c in CONCEPTS}
MAX_CONCEPT_WORDS = 3

# Directions: a word that moves a concept (or a named parameter) up or down; some also name their concept.
UP_WORDS = frozenset(
    "more higher larger bigger greater stronger heavier deeper longer increase increased increasing raise raised"
    " raising up double doubled extra boost boosted bump bumped".split()
)
DOWN_WORDS = frozenset(
    "less fewer lower smaller weaker lighter shallower shorter decrease decreased decreasing reduce reduced reducing"
    " cut halve halved down lessen".split()
)
IMPLIED_CONCEPT = {"deeper": "depth", "shallower": "depth"}
# Words after "than" (or before a direction) that put it beyond anything tried: "deeper than any", "even more dropout".
BEYOND_WORDS = frozenset("any anything ever before previously tried all even further yet".split())
ANCHOR_UP = frozenset("above over beyond exceeding past atleast".split())  # "at least", ">=" read as "atleast"
ANCHOR_DOWN = frozenset("below under beneath atmost".split())


def role_of(concept: Concept, key: str) -> Role | None:
    return concept.role(parts_of(key))


def concept_of_key(key: str) -> tuple[Concept, Role] | None:
    """The first concept a stored key carries, with its role ("reg_lambda" -> regularisation, l2)."""
    parts = parts_of(key)
    for concept in CONCEPTS:
        if (role := concept.role(parts)) is not None:
            return concept, role
    return None


def stem(normalised: str) -> str:
    """A word without its ending and with one spelling: "standardising", "standardize", "standardised" alike."""
    word = normalised.replace("iz", "is")
    for ending in ("ations", "ation", "ings", "ing", "ers", "er", "ed", "es", "s", "e"):
        if word.endswith(ending) and len(word) - len(ending) >= (3 if ending == "s" else 4):
            return word[: -len(ending)]
    return word


def concept_named(normalised: str) -> tuple[Concept, str | None] | None:
    """The concept a normalised phrase names, and the aspect it narrows to ("l2" -> regularisation, "l2"), the
    phrase's word endings aside ("regularizing" = "regularisation")."""
    for concept in CONCEPTS:
        if normalised in concept.words:
            return concept, dict(concept.aspects).get(normalised)
    stemmed = stem(normalised)
    if len(stemmed) >= 4:
        for concept in CONCEPTS:
            for word in sorted(concept.words):
                if stem(word) == stemmed:
                    return concept, dict(concept.aspects).get(word)
    return None


def concept_of_value(canonical: str) -> Concept | None:
    """The concept whose parameters alone take this value ("adamw" -> optimiser, "smote" -> imbalance)."""
    for concept in CONCEPTS:
        if canonical in concept.values:
            return concept
    return None


# -- model families by kind --------------------------------------------------------------------------------------------

_NEURAL_PARTS = frozenset(
    "mlp net nets network networks neural nn dnn cnn rnn lstm gru transformer transformers bert roberta gpt resnet"
    " tabnet perceptron attention conv convolutional autoencoder gnn gcn gat sage unet vit ft tabtransformer"
    " saint node".split()
)
_TREE_PARTS = frozenset(
    "forest forests tree trees boost boosting boosted gbm gbdt gbt xgboost xgb lightgbm lgbm lgb catboost extra"
    " gradient".split()
)
_LINEAR_PARTS = frozenset("logistic linear ridge lasso elastic elasticnet sgd regression logreg glm".split())
_KERNEL_PARTS = frozenset("svm svc svr kernel rbf gaussian process".split())
_NEURAL_KEY_PARTS = frozenset("dropout epochs epoch layers hidden units optimizer optimiser warmup".split())


def family_kind(family: str | None, keys: Iterable[str] = ()) -> FamilyKind:
    """A family's kind by its name's parts, else by the keys its runs set (dropout, epochs, hidden: neural)."""
    if family is None:
        return "other"
    parts = set(parts_of(family)) | {"".join(parts_of(family))}
    for kind, words in (
        ("kernel", _KERNEL_PARTS),
        ("tree", _TREE_PARTS),
        ("neural", _NEURAL_PARTS),
        ("linear", _LINEAR_PARTS),
    ):
        if parts & words:
            return kind  # type: ignore[return-value]
    key_parts = {p for key in keys for p in parts_of(key)}
    if key_parts & _NEURAL_KEY_PARTS:
        return "neural"
    return "other"


# Family phrases people use for a kind of model ("a neural net", "boosted trees") or a family no project may have
# ("a graph network"); the kind is what families of the project it may name.
KIND_WORDS: dict[str, FamilyKind] = {
    "neuralnet": "neural",
    "neuralnetwork": "neural",
    "neuralnetworks": "neural",
    "neuralnets": "neural",
    "nn": "neural",
    "dnn": "neural",
    "deepnet": "neural",
    "network": "neural",
    "net": "neural",
    "treemodel": "tree",
    "treemodels": "tree",
    "treebased": "tree",
    "boostedtrees": "tree",
    "treeensemble": "tree",
    "linearmodel": "linear",
    "linearmodels": "linear",
}
# Model families named by their usual phrase: a proposal naming one the project lacks is new, whatever it shares.
KNOWN_FAMILIES: dict[str, str] = {
    "graphnetwork": "graph_neural_network",
    "graphneuralnetwork": "graph_neural_network",
    "graphnet": "graph_neural_network",
    "gnn": "graph_neural_network",
    "gcn": "graph_neural_network",
    "gat": "graph_neural_network",
    "transformer": "transformer",
    "tabtransformer": "transformer",
    "fttransformer": "transformer",
    "lstm": "lstm",
    "gru": "gru",
    "rnn": "rnn",
    "cnn": "cnn",
    "convnet": "cnn",
    "resnet": "resnet",
    "tabnet": "tabnet",
    "mlp": "mlp",
    "perceptron": "mlp",
    "naivebayes": "naive_bayes",
    "knn": "k_neighbors",
    "nearestneighbors": "k_neighbors",
    "nearestneighbours": "k_neighbors",
    "gaussianprocess": "gaussian_process",
    "elasticnet": "elastic_net",
    "svm": "svm",
    "supportvectormachine": "svm",
    "isolationforest": "isolation_forest",
    "autoencoder": "autoencoder",
}
# A family word and the marks of the families it covers ("transformer": a distilbert, a roberta).
FAMILY_MARKS: dict[str, tuple[str, ...]] = {
    "transformer": ("transformer", "bert", "gpt", "t5", "llama", "vit", "xlnet", "electra", "bart", "mistral"),
    "cnn": ("cnn", "resnet", "conv", "efficientnet", "vgg", "densenet", "mobilenet"),
    "rnn": ("rnn", "lstm", "gru"),
    "boostedtrees": ("boost", "gbm", "gbdt", "gbt", "lgb", "xgb"),
}
