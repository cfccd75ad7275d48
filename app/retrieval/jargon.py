"""ML shorthand spelled out before embedding, on both sides: a dump that says "RF" and a query that says "random
forest" (or the other way round) meet. A general sentence model knows the words, rarely the team's abbreviations.
Only the embedded text carries the expansion; the stored and shown text is the person's own."""

from __future__ import annotations

import re

JARGON: dict[str, str] = {
    "rf": "random forest",
    "gbm": "gradient boosting",
    "gbdt": "gradient boosted trees",
    "xgb": "xgboost gradient boosting",
    "lgbm": "lightgbm gradient boosting",
    "lgb": "lightgbm gradient boosting",
    "cb": "catboost",
    "lr": "learning rate",
    "bs": "batch size",
    "wd": "weight decay",
    "reg": "regularization",
    "aug": "augmentation",
    "augs": "augmentations",
    "fe": "feature engineering",
    "te": "target encoding",
    "ohe": "one-hot encoding",
    "cv": "cross-validation",
    "hp": "hyperparameter",
    "hpo": "hyperparameter optimization tuning",
    "hparams": "hyperparameters",
    "lstm": "lstm recurrent network",
    "cnn": "convolutional network",
    "gnn": "graph neural network",
    "nn": "neural network",
    "mlp": "neural network multilayer perceptron",
    "logreg": "logistic regression",
    "svm": "support vector machine",
    "knn": "nearest neighbours",
    "pca": "principal components",
    "ft": "fine-tuning",
    "lora": "lora low-rank adapter fine-tuning",
    "ema": "exponential moving average",
    "oof": "out-of-fold",
    "val": "validation",
    "eval": "evaluation",
    "ckpt": "checkpoint",
    "tfidf": "tf-idf bag of words",
    "bpe": "tokenizer",
    "smote": "oversampling",
    "thr": "threshold",
    "thresh": "threshold",
    "calib": "calibration",
    "imb": "imbalance",
    "feat": "feature",
    "feats": "features",
    "params": "parameters",
    "perf": "performance",
    "exp": "experiment",
    "exps": "experiments",
    "prev": "previous",
    "w/": "with",
    "w/o": "without",
    "abt": "about",
    "wht": "what",
    "lb": "leaderboard",
    "ap": "average precision",
    "auc": "auc area under the curve",
    "f1": "f1 score",
    "mae": "mean absolute error",
    "rmse": "root mean squared error",
    "mape": "percentage error",
    "wer": "word error rate",
    "iou": "intersection over union",
    "ndcg": "ndcg ranking quality",
    "ctr": "click-through rate",
    "rag": "retrieval augmented generation",
    "llm": "large language model",
}
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9/]*")


def spelled_out(text: str) -> str:
    """`text` with the meanings of its shorthand appended once each, e.g. "RF overfit" -> "RF overfit (random
    forest)"; unchanged when it has none."""
    found = dict.fromkeys(JARGON[w.lower()] for w in _TOKEN.findall(text) if w.lower() in JARGON)
    return f"{text} ({'; '.join(found)})" if found else text
