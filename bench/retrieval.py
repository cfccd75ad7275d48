"""Retrieval at scale: Chroma's HNSW over `--chunks` experiment-log chunks, against exact search in numpy.

Baseline (same process, same vectors, same queries, timed one after the other for each query): exact cosine
similarity in numpy, `vectors @ q` and `argpartition` for the top 10. Labbook queries Chroma (embedded, a
`PersistentClient` folder) with the HNSW parameters it creates collections with (`app.retrieval.store.HNSW`).

The chunks are a data scientist's brain dumps, generated with a seeded random (`GENERATOR` names the version):
one to three sentences each (results with their parameters and metrics, comparisons, what was dropped and why,
leakage, features, tuning sweeps, seed noise, infrastructure, open questions, next steps) over 24 model families
and 12 datasets, in shorthand and in full words; each dump (5 chunks) belongs to one of ten projects, which lean on
their own datasets. `--queries` questions are phrased as people ask ("why did we drop the forests", "did anyone
try a cosine lr schedule"). Both are embedded as the service embeds them: `get_embedder()` over the text with its
jargon spelled out (`app.retrieval.jargon`); Chroma stores the text as written. The chunk vectors are embedded once
and cached in `bench/.cache/retrieval-<N>-<hash>.npy` (the hash names the generator's version and the embedder; a
larger cache of the same hash serves a smaller N, its first rows); an interrupted embedding resumes from a
`.partial.npy`. The embedding throughput is printed every time: of the part embedded in this run, or of a 2,000-text
sample when every vector came from the cache.

1. One collection of all N chunks, in a temporary folder, created with `configuration={"hnsw": HNSW}` and filled in
   batches of 5,000 with documents and the metadata the indexer writes (source, project, kind, day, exact tokens):
   load time, size on disk (allocated blocks, as `du`), the process's RSS before and after, and its peak.
   Queries: `collection.query(query_embeddings=<1 vector>, n_results=10)`, which returns documents, metadatas and
   distances as `VectorStore.nearest` asks, after a warm-up pass over every query: p50 and p95 of Chroma and of
   numpy, the ratio of their p95s, and recall@10: the share of Chroma's 10 whose exact similarity reaches the exact
   10th best (so equal scores count whichever of them is returned).
2. The recall-latency curve over `--ef`: for each ef_search, `collection.modify` on the persisted collection, then a
   fresh subprocess opens it (Chroma reads ef_search when it opens a collection; one folder, modified in place, so
   nothing is rebuilt) and times Chroma and numpy over the same queries as in 1; recall against the exact top 10.
   The subprocess's first query, which loads the index from disk, is printed apart. HNSW's value is always included.
3. Scoped, as Labbook stores them: the same N chunks in ten collections (one per project, about N/10 each, named by
   `collection_name`) in another folder; queries go to one project's collection, against numpy over that project's
   vectors only, printed beside the single-collection figures.

Target: Chroma's p95 at most half of exact search's p95, with recall@10 >= 0.95, at 100,000 chunks.

    .venv/bin/python bench/retrieval.py [--chunks 100000] [--queries 200] [--ef 50,100,200,400,800]
        [--skip-curve] [--skip-scoped]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.retrieval.chunks import exact_tokens
from app.retrieval.embedder import Embedder, Vectors, get_embedder
from app.retrieval.jargon import spelled_out
from app.retrieval.store import HNSW, collection_name

GENERATOR = "chunks-v1"  # change it when the generated texts change: the cache key follows it
CACHE = Path(__file__).parent / ".cache"
RATIO_TARGET, RECALL_TARGET = 0.5, 0.95
K = 10
PROJECTS = 10
DUMP = 5  # chunks of one brain dump, all in one project
BATCH = 5_000
EMBED_BLOCK = 10_000  # the embedding is saved to the partial cache after every block
SAMPLE = 2_000
TIE = 1e-5  # a returned chunk whose exact similarity is this close to the 10th best counts as one of the 10

# --- the generated brain dumps ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    names: tuple[str, ...]  # how people write it, the first in full
    plural: str
    params: dict[str, tuple[str, ...]]


def _family(names: str, plural: str, params: str) -> Family:
    """`names` split on |, `params` like "lr: 0.01 0.1; max_depth: 4 6"."""
    pairs = (p.split(":") for p in params.split(";"))
    return Family(tuple(names.split("|")), plural, {k.strip(): tuple(v.split()) for k, v in pairs})


FAMILIES = (
    _family(
        "lightgbm|lgbm|lgb|LightGBM",
        "lightgbm models",
        "num_leaves: 15 31 63 127 255; lr: 0.01 0.02 0.05 0.1; min_child_samples: 5 20 50 100; "
        "feature_fraction: 0.6 0.8 0.9; n_estimators: 500 1000 2000 5000",
    ),
    _family(
        "xgboost|xgb|XGBoost",
        "xgboost models",
        "max_depth: 4 6 8 10; eta: 0.01 0.03 0.1 0.3; subsample: 0.6 0.8 1.0; colsample_bytree: 0.5 0.7 0.9; "
        "min_child_weight: 1 5 10",
    ),
    _family("catboost|cb|CatBoost", "catboost models", "depth: 4 6 8 10; l2_leaf_reg: 1 3 10; iterations: 1000 8000"),
    _family(
        "random forest|rf|RF|the forest",
        "random forests",
        "n_estimators: 100 300 500 1000; max_depth: 8 12 20 None; min_samples_leaf: 1 5 20; max_features: sqrt 0.3",
    ),
    _family("extra trees|extratrees|ExtraTrees", "extra trees", "n_estimators: 200 500 800; max_depth: 10 16 None"),
    _family(
        "logistic regression|logreg|LR baseline|the linear model",
        "linear models",
        "C: 0.01 0.1 1 10; penalty: l1 l2 elasticnet; class_weight: balanced None",
    ),
    _family("linear svm|svm|LinearSVC", "svms", "C: 0.1 1 10; loss: hinge squared_hinge"),
    _family(
        "mlp|the MLP|a small nn|feedforward net",
        "mlps",
        "hidden: 128 256 512 1024; dropout: 0.1 0.2 0.3 0.5; lr: 1e-3 3e-4 1e-4; batch size: 256 512 1024; "
        "weight decay: 0 1e-5 1e-4",
    ),
    _family("tabnet|TabNet", "tabnet models", "n_d: 8 16 32 64; n_steps: 3 5 7; gamma: 1.3 1.5 2.0"),
    _family(
        "ft-transformer|FT-Transformer|the tabular transformer",
        "tabular transformers",
        "d_token: 96 192 256; n_blocks: 2 3 4; attention_dropout: 0.1 0.2 0.3",
    ),
    _family("lstm|LSTM|the recurrent model", "lstms", "hidden: 64 128 256; layers: 1 2 3; seq_len: 28 56 112"),
    _family(
        "temporal cnn|TCN|dilated conv net", "tcns", "kernel: 3 5 7; dilations: 1,2,4,8 1,2,4,8,16; channels: 32 64"
    ),
    _family("n-beats|NBEATS|N-BEATS", "n-beats models", "stacks: 2 3 30; lookback: 2H 3H 5H; lr: 1e-3 5e-4"),
    _family("prophet|Prophet", "prophet models", "changepoint_prior_scale: 0.01 0.05 0.5; seasonality_mode: additive"),
    _family("arima|ARIMA|sarima", "arima models", "order: (1,1,1) (2,1,2) (5,1,0); seasonal period: 7 52"),
    _family(
        "distilbert|DistilBERT|bert-base|roberta-base",
        "bert models",
        "lr: 2e-5 3e-5 5e-5; epochs: 2 3 5; warmup: 0 0.06 0.1; max_len: 128 256 512",
    ),
    _family(
        "tf-idf + logreg|tfidf baseline|bag of words model",
        "bag of words baselines",
        "ngram_range: (1,1) (1,2) (1,3); min_df: 2 5 10; C: 1 4 10",
    ),
    _family("resnet50|ResNet-50|resnet", "resnets", "lr: 0.1 0.01 3e-4; image size: 224 320 384; batch size: 32 64"),
    _family("efficientnet-b3|effnet|EfficientNet", "efficientnets", "lr: 1e-3 3e-4; image size: 300 380 456"),
    _family(
        "vit-small|ViT|vision transformer", "vision transformers", "lr: 1e-4 5e-5; patch: 16 32; layer decay: 0.65"
    ),
    _family(
        "two-tower model|two tower retriever|dual encoder",
        "two-tower models",
        "embedding dim: 64 128 256; negatives: in-batch hard mixed; temperature: 0.05 0.1",
    ),
    _family("graphsage|GraphSAGE|the gnn", "graph models", "layers: 2 3; fanout: 10,10 15,10,5 25,10; hidden: 128 256"),
    _family(
        "knn|kNN|nearest neighbours", "knn models", "k: 5 15 50; metric: cosine euclidean; weights: uniform distance"
    ),
    _family("llama-3-8b lora|lora adapter|the fine-tuned llm", "lora runs", "r: 8 16 64; alpha: 16 32; lr: 1e-4 2e-4"),
)


@dataclass(frozen=True)
class Dataset:
    name: str
    task: str
    metrics: tuple[tuple[str, float, float, int], ...]  # name, low, high, decimals
    features: tuple[str, ...]
    entity: str  # what rows of a leaky split share
    families: tuple[int, ...]  # indices into FAMILIES that fit the task


def _dataset(name: str, task: str, metrics: str, features: str, entity: str, families: Sequence[int]) -> Dataset:
    """`metrics` like "val auc 0.78 0.90 3; rmse 11 40 1" (name, low, high, decimals), `features` comma-separated."""
    parsed = []
    for metric in metrics.split(";"):
        *words, low, high, decimals = metric.split()
        parsed.append((" ".join(words), float(low), float(high), int(decimals)))
    return Dataset(name, task, tuple(parsed), tuple(f.strip() for f in features.split(",")), entity, tuple(families))


TREES = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 22)
DATASETS = (
    _dataset(
        "churn",
        "churn prediction",
        "val auc 0.78 0.90 3; f1 0.55 0.72 3; logloss 0.28 0.45 4",
        "tenure, plan_type, support_tickets_30d, last_login_days, monthly_spend, contract_end",
        "customer id",
        TREES,
    ),
    _dataset(
        "fraud",
        "card fraud detection",
        "pr auc 0.42 0.71 3; recall at 1% fpr 0.35 0.66 3; auc 0.90 0.98 3",
        "merchant_id, card_bin, amount, hour_of_day, device_id, txn_count_1h, ip_country",
        "card",
        (*TREES, 21),
    ),
    _dataset(
        "ctr",
        "click-through rate prediction",
        "auc 0.70 0.80 4; logloss 0.38 0.46 4; ndcg@10 0.30 0.45 3",
        "ad_id, user_id, position, query_category, hour, publisher",
        "user",
        (0, 1, 5, 7, 9, 20),
    ),
    _dataset(
        "demand",
        "demand forecasting",
        "mape 8 25 1; wape 0.09 0.22 3; rmse 11 40 1",
        "store_id, sku, promo_flag, holiday_calendar, lag_7, rolling_mean_28, price_change",
        "store",
        (0, 1, 2, 10, 11, 12, 13, 14),
    ),
    _dataset(
        "credit",
        "credit default scoring",
        "auc 0.72 0.81 3; ks 0.32 0.48 3; gini 0.44 0.62 3",
        "income, utilisation, bureau_score, months_on_book, delinquencies_12m, employer_type",
        "applicant",
        (0, 1, 2, 3, 5, 7, 8),
    ),
    _dataset(
        "tickets",
        "support ticket routing",
        "macro f1 0.61 0.82 3; accuracy 0.74 0.90 3; top-3 accuracy 0.88 0.97 3",
        "ticket text, product_area, customer tier, language, attachment flag",
        "customer",
        (5, 6, 15, 16, 23),
    ),
    _dataset(
        "search",
        "product search ranking",
        "ndcg@10 0.41 0.58 3; mrr 0.33 0.52 3; recall@100 0.71 0.90 3",
        "bm25 score, query length, click history, price bucket, brand match, title embedding",
        "query session",
        (0, 15, 20, 22),
    ),
    _dataset(
        "defects",
        "image defect detection",
        "map 0.52 0.78 3; recall 0.70 0.93 3; iou 0.48 0.71 3",
        "image size, lighting, camera id, line speed, defect class",
        "production batch",
        (17, 18, 19),
    ),
    _dataset(
        "housing",
        "house price regression",
        "rmse 21000 42000 0; mae 14000 29000 0; r2 0.78 0.91 3",
        "sqft, zip_code, year_built, lot size, school rating, distance to transit",
        "neighbourhood",
        (0, 1, 2, 3, 4, 5, 7, 22),
    ),
    _dataset(
        "reviews",
        "review sentiment",
        "accuracy 0.86 0.95 3; macro f1 0.80 0.93 3",
        "review text, star rating, product category, review length",
        "product",
        (5, 6, 15, 16, 23),
    ),
    _dataset(
        "readmission",
        "hospital readmission risk",
        "auc 0.66 0.77 3; brier 0.12 0.19 3; recall at top decile 0.31 0.45 3",
        "diagnosis codes, length of stay, prior admissions, age band, discharge disposition",
        "patient",
        (0, 1, 2, 3, 5, 7, 8, 9),
    ),
    _dataset(
        "speech",
        "keyword spotting",
        "wer 7 18 1; accuracy 0.88 0.97 3; false accepts per hour 0.2 1.5 2",
        "mfcc, log-mel, noise level, speaker id, clip length",
        "speaker",
        (10, 11, 17, 19),
    ),
)
PROJECT_DATASETS = ((0, 1), (1, 4), (2, 6), (3,), (4, 10), (5, 9), (6, 2), (7,), (8, 3), (9, 5, 11))

# Sentence templates by kind, with the kind's share of sentences. Slots: see `Generator.slots`.
SENTENCES: tuple[tuple[float, tuple[str, ...]], ...] = (
    (
        0.22,
        (
            "{family} with {params} got {metric} {value}, {delta} over baseline{noise}",
            "{family} {params} -> {metric} {value}{noise}",
            "reran {family} on {dataset} v{v}: {metric} {value} ({delta})",
            "tried {family} with {params}, {metric} {value}ish, didn't help vs {other}",
        ),
    ),
    (0.10, ("{family} vs {other} on {dataset}: {metric} {value} vs {value2}, {verdict}",)),
    (
        0.10,
        (
            "dropped the {plural}: {reason}",
            "giving up on {family} for {task}, {reason}",
            "not pursuing {family} further ({reason})",
            "killed the {family} branch: {reason}",
        ),
    ),
    (
        0.08,
        (
            "{encoding} on {feature} leaked through the {split}",
            "found leakage: {feature} is computed after the label date, all the {metric} gains were fake",
            "{metric} jumped to {value} which is too good, suspect {feature} leaks the {entity}",
            "fixed the leak in {feature}, {metric} back down to {value}",
            "rows of the same {entity} end up on both sides of the {split}",
        ),
    ),
    (
        0.08,
        (
            "added {feature} interactions, {metric} {delta}",
            "removing {feature} costs {gain} {metric}, keep it",
            "{feature} is the top feature by gain in {family}, suspicious",
            "log transform on {feature} helps {family} a bit ({metric} {value})",
            "rolling windows of {feature} over 7/28 days: small gain on {metric}",
            "{feature} has {pct}% missing, imputing with median vs a flag",
        ),
    ),
    (
        0.07,
        (
            "optuna sweep over {key} for {family} ({trials} trials): best {key}={keyval}, flat above it",
            "{key} barely matters for {family}, {metric} moves less than {gain}",
            "grid over {key} in {{{keyvals}}}: {metric} peaks at {keyval}",
            "switched {family} to a {schedule} lr schedule with warmup {warmup} steps, {metric} {delta}",
        ),
    ),
    (
        0.06,
        (
            "seed std on {dataset} is about {std}, so the {gain} gain from {family} is noise",
            "{seeds} seeds of {family}: {metric} {value} +- {std}",
            "variance across folds is bigger than the difference between {family} and {other}",
        ),
    ),
    (
        0.06,
        (
            "training {family} took {hours}h on {hardware}",
            "OOM at batch size {batch} on {hardware}, gradient accumulation instead",
            "cached the {dataset} features as parquet, feature build 3x faster",
            "{family} inference is {ms} ms per row, too slow for the online path",
            "the {dataset} pipeline silently dropped {pct}% of rows with null {feature}",
        ),
    ),
    (
        0.05,
        (
            "class imbalance is 1:{ratio}, tried {imbalance}, {metric} {delta}",
            "{family} probabilities are badly calibrated, isotonic brings ece from {ece} to {ece2}",
            "{imbalance} hurt precision more than it helped recall",
        ),
    ),
    (0.09, ("open q: {question}", "{question}", "q for the team: {question}")),
    (
        0.09,
        (
            "next: try {idea}",
            "tomorrow: rerun {family} with {seeds} seeds",
            "todo: {idea} on {dataset}",
            "idea: {idea}",
            "next step is {idea}, then compare against {other}",
        ),
    ),
)
REASONS = (
    "overfits the holdout",
    "train auc 0.99 and val flat, classic overfit",
    "no gain over {other} and 4x slower to train",
    "unstable across seeds, std bigger than the gain",
    "memory blows up past 2M rows",
    "risk team can't sign off on something they can't explain",
    "p99 latency too high for the serving budget",
    "it was only winning because of the leaky feature",
    "gains vanish on the out-of-time split",
    "calibration is awful and isotonic doesn't rescue it",
    "needs a GPU we don't have in prod",
    "worse on the small segments that matter most",
)
VERDICTS = (
    "basically a tie",
    "{family} wins but it's 3x slower",
    "not worth the complexity",
    "keeping {other} as the baseline",
    "difference is inside the noise band",
    "clear win, moving on with it",
)
NOISE = (
    "",
    ", within seed noise",
    ", outside seed noise for once",
    ", 3 seeds",
    " but only on one seed",
    ", best so far",
)
ENCODINGS = ("target encoding", "te", "mean encoding", "count encoding", "woe encoding", "frequency encoding")
SPLITS = ("time split", "random split", "group k-fold", "out-of-time holdout", "5-fold cv", "stratified split")
SCHEDULES = ("cosine", "one-cycle", "linear decay", "step", "exponential", "constant")
IMBALANCE = ("smote", "class weights", "focal loss", "undersampling the majority", "threshold tuning")
HARDWARE = ("the A10G box", "a single T4", "the 32-core cpu node", "my laptop", "2x A100", "the shared gpu queue")
IDEAS = (
    "monotonic constraints on {feature}",
    "dart boosting",
    "stacking {family} on top of {other}",
    "knowledge distillation into {family}",
    "pseudo labelling the unlabelled month",
    "mixup",
    "label smoothing 0.1",
    "feature selection with permutation importance",
    "adversarial validation to find the drifting features",
    "quantile transform on {feature}",
    "a {schedule} lr schedule",
    "early stopping on {metric} instead of loss",
    "swa over the last 5 epochs",
    "ema of the weights",
    "bigger batch with lr scaled linearly",
    "optuna with a pruner",
    "{imbalance} for the minority class",
    "a separate model per segment",
)
QUESTIONS = (
    "is the val split leaking by {entity}?",
    "does {family} need {feature} scaled or is it fine raw?",
    "why is {metric} on fold {fold} so much lower than the others?",
    "should we move to a {split} before trusting any of this?",
    "is the {delta} gain real or seed noise?",
    "are we sure {feature} is available at prediction time?",
    "is {family} worth the extra training time?",
    "did the label definition change between v{v} and v{v2}?",
    "why does {family} get worse with more data?",
    "what's the right threshold for {metric} given the ops capacity?",
)
QUERIES = (
    "why did we drop the {plural}",
    "why did we stop using {family}",
    "what happened with {encoding}",
    "what happened with the {split}",
    "did anyone try {idea}",
    "has anyone tried {family} on {dataset}",
    "best {metric} we got on {dataset}",
    "which {key} worked for {family}",
    "was there leakage in {feature}",
    "did {feature} leak",
    "how noisy are the seeds on {dataset}",
    "is {family} better than {other} for {task}",
    "what did we conclude about {imbalance}",
    "how long does {family} take to train",
    "calibration problems with {family}",
    "why is {dataset} {metric} so low",
    "what's the baseline for {task}",
    "did the {schedule} schedule help",
    "open questions about the {dataset} split",
    "what should we try next on {dataset}",
    "{family} overfitting",
    "memory issues training {family}",
    "is {feature} available at prediction time",
    "tuning {key} for {family}",
)


class Generator:
    """Deterministic chunk and query texts; chunk i is the same whatever the number of chunks."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def pick(self, options: Sequence[str]) -> str:
        return options[self.rng.randrange(len(options))]

    def name(self, family: Family) -> str:
        return family.names[0] if self.rng.random() < 0.45 else self.pick(family.names[1:])

    def params(self, family: Family) -> str:
        keys = self.rng.sample(sorted(family.params), min(len(family.params), self.rng.choice((1, 2, 2, 3))))
        pairs = [(k, self.pick(family.params[k])) for k in keys]
        style = self.rng.random()
        if style < 0.5:
            return " and ".join(f"{k}={v}" for k, v in pairs)
        if style < 0.8:
            return ", ".join(f"{k} {v}" for k, v in pairs)
        return " / ".join(f"{v} {k}" for k, v in pairs)

    def metric(self, dataset: Dataset) -> tuple[str, str, str]:
        """A metric of the dataset and two values of it."""
        name, low, high, decimals = dataset.metrics[self.rng.randrange(len(dataset.metrics))]
        one, two = (self.rng.uniform(low, high) for _ in range(2))
        return name, f"{one:.{decimals}f}", f"{two:.{decimals}f}"

    def slots(self, dataset: Dataset) -> dict[str, str]:
        first, second = self.rng.sample(dataset.families, 2)
        family = FAMILIES[first]
        metric, value, value2 = self.metric(dataset)
        key = self.pick(sorted(family.params))
        gain = self.rng.choice((0.001, 0.002, 0.003, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.03))
        v = self.rng.randint(2, 5)
        slots = {
            "family": self.name(family),
            "plural": family.plural,
            "other": self.name(FAMILIES[second]),
            "dataset": dataset.name,
            "task": dataset.task,
            "entity": dataset.entity,
            "params": self.params(family),
            "metric": metric,
            "value": value,
            "value2": value2,
            "gain": f"{gain:.3f}",
            "delta": f"{self.pick('+-+')}{gain:.3f}",
            "noise": self.pick(NOISE),
            "feature": self.pick(dataset.features),
            "encoding": self.pick(ENCODINGS),
            "split": self.pick(SPLITS),
            "schedule": self.pick(SCHEDULES),
            "imbalance": self.pick(IMBALANCE),
            "hardware": self.pick(HARDWARE),
            "key": key,
            "keyval": self.pick(family.params[key]),
            "keyvals": ", ".join(family.params[key]),
            "std": str(self.rng.choice((0.001, 0.002, 0.003, 0.005, 0.008))),
            "v": str(v),
            "v2": str(v + 1),
            "fold": str(self.rng.randint(1, 5)),
            "pct": str(self.rng.randint(1, 40)),
            "ms": str(self.rng.randint(2, 90)),
            "hours": str(self.rng.randint(1, 30)),
            "batch": str(self.rng.choice((256, 512, 1024, 2048))),
            "seeds": str(self.rng.choice((3, 5, 10))),
            "trials": str(self.rng.choice((30, 50, 100, 200))),
            "warmup": str(self.rng.choice((0, 100, 500, 1000))),
            "ratio": str(self.rng.choice((5, 20, 50, 200))),
            "ece": f"{self.rng.uniform(0.05, 0.15):.3f}",
            "ece2": f"{self.rng.uniform(0.01, 0.04):.3f}",
        }
        for slot, options in (("reason", REASONS), ("verdict", VERDICTS), ("idea", IDEAS), ("question", QUESTIONS)):
            slots[slot] = self.pick(options).format(**slots)
        return slots

    def sentence(self, dataset: Dataset) -> str:
        roll = self.rng.random() * sum(share for share, _ in SENTENCES)
        kind = 0
        while kind < len(SENTENCES) - 1 and roll >= SENTENCES[kind][0]:
            roll -= SENTENCES[kind][0]
            kind += 1
        return self.pick(SENTENCES[kind][1]).format(**self.slots(dataset))

    def chunks(self, count: int) -> list[str]:
        out: list[str] = []
        seen: set[str] = set()
        while len(out) < count:
            project = (len(out) // DUMP) % PROJECTS
            own = PROJECT_DATASETS[project]
            dataset = DATASETS[self.rng.choice(own) if self.rng.random() < 0.85 else self.rng.randrange(len(DATASETS))]
            text = ". ".join(self.sentence(dataset) for _ in range(self.rng.choice((1, 1, 2, 2, 2, 3))))
            if self.rng.random() < 0.3:
                text = f"{dataset.name}: {text}"
            if text not in seen:
                seen.add(text)
                out.append(text)
        return out

    def queries(self, count: int) -> list[str]:
        out: dict[str, None] = {}
        for _ in range(count * 100):
            if len(out) >= count:
                return list(out)
            slots = self.slots(DATASETS[self.rng.randrange(len(DATASETS))])
            out[self.pick(QUERIES).format(**slots)] = None
        raise SystemExit(f"only {len(out)} distinct queries can be generated")


def metadata(i: int, text: str) -> dict[str, Any]:
    """What the indexer stores with a brain dump's chunk (`app.retrieval.chunks.chunks_of`), in short."""
    day = 20260101 + (i // DUMP) % 28 + 100 * ((i // (DUMP * 28)) % 12)
    meta: dict[str, Any] = {
        "source": f"log:{i // DUMP}",
        "project": f"p{(i // DUMP) % PROJECTS}",
        "kind": "log",
        "section": "dump",
        "day_num": day,
    }
    tokens = exact_tokens(text)
    if tokens:
        meta["tokens"] = tokens
    return meta


# --- embedding and its cache --------------------------------------------------------------------------------------


def cache_key(embedder: Embedder) -> str:
    return hashlib.sha256(f"{GENERATOR}|{embedder.name}|spelled-out".encode()).hexdigest()[:10]


def embed_all(texts: list[str], embedder: Embedder) -> tuple[Vectors, float, int, str]:
    """The texts' vectors, from the cache where it has them; (vectors, texts/s, texts embedded now, where from)."""
    count, key = len(texts), cache_key(embedder)
    CACHE.mkdir(parents=True, exist_ok=True)
    final = CACHE / f"retrieval-{count}-{key}.npy"
    larger = sorted(
        (int(m.group(1)), p)
        for p in CACHE.glob(f"retrieval-*-{key}.npy")
        if (m := re.fullmatch(rf"retrieval-(\d+)-{key}\.npy", p.name)) and int(m.group(1)) >= count
    )
    if larger:
        size, path = larger[0]
        vectors = np.ascontiguousarray(np.load(path, mmap_mode="r")[:count], dtype=np.float32)
        sample = [spelled_out(t) for t in texts[:: max(1, count // SAMPLE)][:SAMPLE]]
        start = time.perf_counter()
        embedder.embed(sample)
        rate = len(sample) / (time.perf_counter() - start)
        where = f"cache {path.name}" + (f" (first {count:,} of {size:,})" if size > count else "")
        return vectors, rate, 0, where
    partial = CACHE / f"retrieval-{count}-{key}.partial.npy"
    done = np.load(partial) if partial.exists() else np.zeros((0, embedder.dim), dtype=np.float32)
    blocks, resumed = [done], len(done)
    start = time.perf_counter()
    for begin in range(resumed, count, EMBED_BLOCK):
        block = texts[begin : begin + EMBED_BLOCK]
        blocks.append(embedder.embed([spelled_out(t) for t in block]))
        so_far = np.concatenate(blocks)
        _save(partial, so_far)
        blocks = [so_far]
        now = len(so_far) - resumed
        rate = now / (time.perf_counter() - start)
        print(f"  embedded {len(so_far):,}/{count:,} ({rate:.0f} texts/s)", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - start
    vectors = np.concatenate(blocks)
    _save(final, vectors)
    partial.unlink(missing_ok=True)
    where = f"embedded now, cached as {final.name}" + (f" (resumed at {resumed:,})" if resumed else "")
    return vectors, (count - resumed) / elapsed if count > resumed else 0.0, count - resumed, where


def _save(path: Path, vectors: Vectors) -> None:
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, vectors)
    os.replace(tmp, path)


# --- measuring ----------------------------------------------------------------------------------------------------


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB."""
    current = peak = 0.0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = peak or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return current or peak, peak


def disk_mb(path: Path) -> float:
    """Allocated size of a folder, as `du` counts it."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            total += os.lstat(Path(root) / name).st_blocks * 512
    return total / 1e6


def exact_top(vectors: Vectors, query: Vectors) -> npt.NDArray[np.intp]:
    scores = vectors @ query
    top = np.argpartition(-scores, K)[:K]
    ordered: npt.NDArray[np.intp] = top[np.argsort(-scores[top])]
    return ordered


def recall(found: Sequence[int], scores: npt.NDArray[np.float32]) -> float:
    """The share of `found` whose exact score reaches the exact K-th best."""
    kth = float(np.partition(scores, -K)[-K])
    return sum(1 for i in found if scores[i] >= kth - TIE) / K


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


@dataclass
class Timings:
    chroma_ms: list[float]
    numpy_ms: list[float]
    found: list[list[str]]

    def line(self, recall_at_k: float) -> str:
        c50, c95 = percentile(self.chroma_ms, 50), percentile(self.chroma_ms, 95)
        n50, n95 = percentile(self.numpy_ms, 50), percentile(self.numpy_ms, 95)
        return (
            f"Chroma p50 {c50:6.2f} ms  p95 {c95:6.2f} ms | numpy p50 {n50:6.2f} ms  p95 {n95:6.2f} ms | "
            f"p95 ratio {c95 / n95:5.2f} | recall@{K} {recall_at_k:.3f}"
        )

    def ratio(self) -> float:
        return percentile(self.chroma_ms, 95) / percentile(self.numpy_ms, 95)


def measure(collection: Any, vectors: Vectors, queries: Vectors) -> Timings:
    """A warm-up pass, then every query once against Chroma and against numpy, one right after the other."""
    for q in queries:
        collection.query(query_embeddings=q.reshape(1, -1), n_results=K)
        exact_top(vectors, q)
    chroma_ms, numpy_ms, found = [], [], []
    for q in queries:
        start = time.perf_counter()
        got = collection.query(query_embeddings=q.reshape(1, -1), n_results=K)
        middle = time.perf_counter()
        exact_top(vectors, q)
        end = time.perf_counter()
        chroma_ms.append((middle - start) * 1000)
        numpy_ms.append((end - middle) * 1000)
        found.append(list(got["ids"][0]))
    return Timings(chroma_ms, numpy_ms, found)


def mean_recall(found: list[list[str]], index: dict[str, int], vectors: Vectors, queries: Vectors) -> float:
    values = [recall([index[i] for i in ids], vectors @ q) for ids, q in zip(found, queries, strict=True)]
    return float(np.mean(values))


def identity(project_id: int) -> str:
    """What tells a project from another with the same ID, as the service writes it: slug and creation time."""
    return f"bench-{project_id}@2026-12-01T08:00:00+00:00"


def client(path: Path) -> Any:
    import chromadb
    from chromadb.config import Settings

    return chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))


def load(collection: Any, ids: list[str], vectors: Vectors, texts: list[str], metas: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    for begin in range(0, len(ids), BATCH):
        end = begin + BATCH
        collection.add(
            ids=ids[begin:end], embeddings=vectors[begin:end], documents=texts[begin:end], metadatas=metas[begin:end]
        )
    return time.perf_counter() - start


def probe(spec: dict[str, Any]) -> None:
    """The subprocess of the curve: open the persisted collection, time it, print the result as JSON."""
    queries = np.load(spec["queries"])
    vectors = np.ascontiguousarray(np.load(spec["vectors"], mmap_mode="r")[: spec["count"]], dtype=np.float32)
    start = time.perf_counter()
    collection = client(Path(spec["db"])).get_collection(spec["collection"], embedding_function=None)
    collection.query(query_embeddings=queries[0].reshape(1, -1), n_results=K)
    first = time.perf_counter() - start
    timings = measure(collection, vectors, queries)
    hnsw = (collection.configuration or {}).get("hnsw") or {}
    result = {
        "first_query_s": first,
        "ef_search": hnsw.get("ef_search"),
        "count": collection.count(),
        "chroma_ms": timings.chroma_ms,
        "numpy_ms": timings.numpy_ms,
        "found": timings.found,
    }
    print(json.dumps(result))


def curve(
    db: Path,
    name: str,
    collection: Any,
    efs: list[int],
    files: dict[str, Any],
    check: Callable[[list[list[str]]], float],
) -> list[tuple[int, Timings, float, float]]:
    rows = []
    for ef in efs:
        collection.modify(configuration={"hnsw": {"ef_search": ef}})
        spec = {"db": str(db), "collection": name, **files}
        done = subprocess.run(
            [sys.executable, __file__, "--probe", json.dumps(spec)], capture_output=True, text=True, check=False
        )
        if done.returncode:
            raise SystemExit(f"the ef_search={ef} subprocess failed:\n{done.stderr}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        if result["ef_search"] != ef or result["count"] != files["count"]:
            raise SystemExit(f"the subprocess saw ef_search {result['ef_search']} and {result['count']} chunks")
        timings = Timings(result["chroma_ms"], result["numpy_ms"], result["found"])
        rows.append((ef, timings, check(timings.found), float(result["first_query_s"])))
    return rows


def verdict(ratio: float, recall_at_k: float) -> str:
    ok = ratio <= RATIO_TARGET and recall_at_k >= RECALL_TARGET
    parts = [
        f"p95 ratio {ratio:.2f} ({'meets' if ratio <= RATIO_TARGET else 'MISSES'})",
        f"recall@{K} {recall_at_k:.3f} ({'meets' if recall_at_k >= RECALL_TARGET else 'MISSES'})",
    ]
    return f"{', '.join(parts)} -> {'holds' if ok else 'DOES NOT HOLD'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ef", default="50,100,200,400,800", help="ef_search values of the curve, comma-separated")
    parser.add_argument("--skip-curve", action="store_true", help="no recall-latency curve")
    parser.add_argument("--skip-scoped", action="store_true", help="no ten per-project collections")
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe(json.loads(args.probe))
        return
    efs = sorted({int(x) for x in args.ef.split(",") if x.strip()} | {int(HNSW["ef_search"])})

    start = time.perf_counter()
    texts = Generator(20261203).chunks(args.chunks)
    questions = Generator(7).queries(args.queries)
    generated = time.perf_counter() - start
    embedder = get_embedder()
    vectors, rate, fresh, where = embed_all(texts, embedder)
    queries = embedder.embed([spelled_out(q) for q in questions])
    ids = [f"log:{i // DUMP}:dump:{i % DUMP}" for i in range(len(texts))]
    index = {chunk_id: i for i, chunk_id in enumerate(ids)}
    metas = [metadata(i, t) for i, t in enumerate(texts)]
    words = np.mean([len(t.split()) for t in texts])
    print(
        f"chunks: {len(texts):,} (mean {words:.0f} words, generated in {generated:.1f} s)  queries: {len(questions)}  "
        f"embedder: {embedder.name} ({vectors.shape[1]} dims)"
    )
    print(f"  e.g. {texts[0]!r}")
    print(f"       {texts[len(texts) // 2]!r}")
    print(f"  query e.g. {questions[0]!r}, {questions[1]!r}")
    sampled = f"{fresh:,} texts embedded in this run" if fresh else f"a fresh {SAMPLE:,}-text sample"
    print(f"vectors: {where}; embedding throughput {rate:.0f} texts/s ({sampled}, {os.cpu_count()} cores)")
    print(f"HNSW (app.retrieval.store): {HNSW}")

    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp:
        root = Path(tmp)
        np.save(root / "queries.npy", queries)
        vector_file = root / "vectors.npy"
        np.save(vector_file, vectors)
        before, _ = rss_mb()
        db = root / "one"
        name = collection_name(1, identity(1), embedder.name)
        collection = client(db).create_collection(name, configuration={"hnsw": dict(HNSW)}, embedding_function=None)
        loaded = load(collection, ids, vectors, texts, metas)
        after, peak = rss_mb()
        print()
        print(f"one collection of {collection.count():,} chunks:")
        print(f"  load {loaded:.1f} s ({len(ids) / loaded:,.0f} chunks/s, batches of {BATCH:,})")
        index_mb = sum(disk_mb(p) for p in db.iterdir() if p.is_dir())
        print(
            f"  on disk {disk_mb(db):.0f} MB (HNSW files {index_mb:.0f} MB, the rest SQLite: documents, metadata, log)"
        )
        print(
            f"  RSS {before:.0f} MB before Chroma, {after:.0f} MB after the load (+{after - before:.0f} MB), "
            f"peak {peak:.0f} MB"
        )
        single = measure(collection, vectors, queries)
        single_recall = mean_recall(single.found, index, vectors, queries)
        print(f"  {single.line(single_recall)}")

        rows: list[tuple[int, Timings, float, float]] = []
        if not args.skip_curve:
            files = {"queries": str(root / "queries.npy"), "vectors": str(vector_file), "count": len(ids)}
            rows = curve(db, name, collection, efs, files, lambda found: mean_recall(found, index, vectors, queries))
            print()
            print(
                f"recall-latency curve, one collection of {len(ids):,} (max_neighbors {HNSW['max_neighbors']}, "
                f"ef_construction {HNSW['ef_construction']}; each ef_search in a new process):"
            )
            for ef, timings, got, first in rows:
                mark = "  <- HNSW" if ef == HNSW["ef_search"] else ""
                print(f"  ef_search {ef:4}: {timings.line(got)} | open + first query {first:.2f} s{mark}")

        scoped: tuple[Timings, float, int] | None = None
        if not args.skip_scoped:
            scoped_db = client(root / "scoped")
            projects = np.array([(i // DUMP) % PROJECTS for i in range(len(ids))])
            scoped_load = 0.0
            chosen: Any = None
            for project in range(PROJECTS):
                rows_of = np.flatnonzero(projects == project)
                col = scoped_db.create_collection(
                    collection_name(project + 2, identity(project + 2), embedder.name),
                    configuration={"hnsw": dict(HNSW)},
                    embedding_function=None,
                )
                scoped_load += load(
                    col,
                    [ids[i] for i in rows_of],
                    vectors[rows_of],
                    [texts[i] for i in rows_of],
                    [metas[i] for i in rows_of],
                )
                if project == 0:
                    chosen = (col, rows_of)
            col, rows_of = chosen
            own = np.ascontiguousarray(vectors[rows_of])
            own_index = {ids[i]: j for j, i in enumerate(rows_of)}
            timings = measure(col, own, queries)
            got = mean_recall(timings.found, own_index, own, queries)
            scoped = (timings, got, len(rows_of))
            now, peak = rss_mb()
            print()
            print(f"scoped: {len(ids):,} chunks in {PROJECTS} collections, one per project:")
            print(
                f"  load {scoped_load:.1f} s, on disk {disk_mb(root / 'scoped'):.0f} MB, "
                f"RSS {now:.0f} MB with both folders open (peak {peak:.0f} MB)"
            )
            print(f"  {f'all {len(ids):,} in one collection:':34} {single.line(single_recall)}")
            print(f"  {f'one project, {len(rows_of):,} in its collection:':34} {timings.line(got)}")

    print()
    print(f"summary at {len(ids):,} chunks, HNSW {HNSW}:")
    print(f"  target: Chroma p95 <= {RATIO_TARGET} x exact numpy p95 with recall@{K} >= {RECALL_TARGET}")
    print(f"  {f'one collection ({len(ids):,}):':28} {verdict(single.ratio(), single_recall)}")
    if scoped:
        timings, got, size = scoped
        print(f"  {f'one project ({size:,}):':28} {verdict(timings.ratio(), got)}")
    if rows:
        meeting = [ef for ef, timings, got, _ in rows if timings.ratio() <= RATIO_TARGET and got >= RECALL_TARGET]
        print(
            f"  curve: ef_search meeting both: {', '.join(map(str, meeting)) or 'none'} (HNSW uses {HNSW['ef_search']})"
        )


if __name__ == "__main__":
    main()
