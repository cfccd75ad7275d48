"""Declarations in a brain dump: an announced primary-metric switch, and the run declared as the baseline."""

from __future__ import annotations

import pytest

from app.compose.log_entry.composer import compose_log_entry
from app.compose.log_entry.declarations import announced_metric_switch, declared_baselines
from app.compose.log_entry.facts import ProjectFacts, RunFacts
from app.compose.log_entry.schema import Experiment, Item, LogEntry

KNOWN = ("auc", "f1", "pr_auc", "roc_auc", "val_loss", "balanced_accuracy")
ALIASES = {"ROC AUC": "roc_auc", "average precision": "pr_auc"}


@pytest.mark.parametrize(
    ("text", "metric", "direction", "reason"),
    [
        (
            "primary metric is F1 from today, because the clinic ships a yes/no flag",
            "f1",
            None,
            "the clinic ships a yes/no flag",
        ),
        (
            "switching our main metric to recall@5%FPR since the ops team caps false alarms",
            "recall@5%fpr",
            None,
            "the ops team caps false alarms",
        ),
        (
            "from now on we optimise PR-AUC instead of ROC-AUC: positives are rare",
            "pr_auc",
            None,
            "positives are rare",
        ),
        ("new north star metric: val_loss (lower is better)", "val_loss", "min", ""),
        (
            "Primary metric becomes balanced accuracy, as classes are skewed",
            "balanced_accuracy",
            None,
            "classes are skewed",
        ),
        ("we changed the primary metric from auc to F1 because of the new contract", "f1", None, "of the new contract"),
        ("F1 is our new primary metric - the threshold is fixed in prod", "f1", None, "the threshold is fixed in prod"),
        ("going forward the target metric is RMSE since big misses cost most", "rmse", "min", "big misses cost most"),
        ("from today we minimise latency_p95", "latency_p95", "min", ""),
        ("Moving the headline metric to MAE", "mae", "min", ""),
        ("main metric is now average precision", "pr_auc", None, ""),
        ("key metric now is NDCG@10 since ranking is what ships", "ndcg@10", None, "ranking is what ships"),
        ("we use WER as the main metric from now on", "wer", "min", ""),
        ("switch primary metric to accuracy (higher is better)", "accuracy", "max", ""),
        ("the primary metric is now logloss; calibration matters for pricing", "logloss", "min", ""),
        ("optimize for F1 from today", "f1", None, ""),
    ],
)
def test_announced_switches_are_read(text: str, metric: str, direction: str | None, reason: str) -> None:
    switch = announced_metric_switch(text, known_metrics=KNOWN, aliases=ALIASES)
    assert switch is not None
    assert (switch.metric, switch.direction, switch.reason) == (metric, direction, reason)
    assert switch.line == 1 and switch.sentence == text


def test_the_line_sentence_and_a_reason_sentence_after() -> None:
    text = "ok so today:\n- ran the lgbm sweep. From now on the main metric is F1. Reason: the clinic needs a flag.\n"
    switch = announced_metric_switch(text, known_metrics=KNOWN, aliases={})
    assert switch is not None
    assert (switch.line, switch.sentence) == (2, "From now on the main metric is F1.")
    assert switch.reason == "the clinic needs a flag"


@pytest.mark.parametrize(
    "text",
    [
        "F1 went up",
        "metric looks good",
        "we report AUC and F1",
        "primary metric stays auc",
        "primary metric is auc",
        "the primary metric is still auc, not changing it",
        "should we switch the primary metric to F1?",
        "switch the main metric to F1?",
        "maybe make F1 the main metric from now on",
        "we are not switching the main metric to F1",
        "from now on we optimise the pipeline for speed",
        "new best auc 0.86 on the primary metric",
        "changed the learning rate to 0.01, auc now 0.85",
        "primary metric remains roc_auc for now",
        "thinking about moving the main metric to recall",
        "metric is the same as before",
        "our key metric (auc) improved to 0.86 with the new features",
        "the primary metric: auc 0.86 (new best)",
        "primary metric is auc, new best 0.86 from the lgbm run",
        "we switched to lightgbm and the main metric went up",
    ],
)
def test_no_switch_is_announced(text: str) -> None:
    assert announced_metric_switch(text, known_metrics=KNOWN, aliases=ALIASES) is None


# -- declared baselines ----------------------------------------------------------------------------------------------

RUN = "5c6d70a1e2f34b5c8d9e0f1a2b3c4d5e"
OTHER = "aa11bb22cc33dd44ee55ff6600112233"
RUNS = [
    RunFacts(RUN, RUN, "logreg", metrics={"auc": 0.80}),
    RunFacts(OTHER, OTHER, "lgbm-v2", metrics={"auc": 0.84}),
]
PROJECT = ProjectFacts(primary_metric="auc")


def baselines(text: str) -> list[str]:
    return declared_baselines(compose_log_entry(text, runs=RUNS, project=PROJECT))


@pytest.mark.parametrize(
    "text",
    [
        "5c6d70a1 is our baseline",
        "baseline: run 5c6d70a1",
        "using the logreg run as baseline",
        "5c6d70a1 is the baseline",
        "Baseline is 5c6d70a1 (auc 0.80)",
        "the baseline = 5c6d70a1",
        "logreg (auc .80) is our new baseline",
        "set 5c6d70a1 as the baseline for everything after",
        "new baseline: logreg",
        "our baseline is run 5c6d70a1, simple and fast",
        "baseline run 5c6d70a1 with default params",
        f"{RUN} is the baseline",
        "treating logreg as our baseline from now on",
        "5c6d70a1 becomes the official baseline",
        "- baseline (5c6d70a1): plain logistic regression",
        "lgbm-v2 got 0.84 and 5c6d70a1 is our baseline",
    ],
)
def test_a_run_declared_as_the_baseline(text: str) -> None:
    assert baselines(text) == [RUN]


@pytest.mark.parametrize(
    "text",
    [
        "lgbm-v2 beat the baseline by 2pt",
        "5c6d70a1 compared to baseline is +0.02",
        "5c6d70a1 vs baseline: +2pt",
        "5c6d70a1 is 2pt above the baseline",
        "5c6d70a1 is better than the baseline",
        "is 5c6d70a1 our baseline?",
        "5c6d70a1 is not the baseline",
        "5c6d70a1 improves on the baseline: run it again",
        "should 5c6d70a1 be the baseline",
        "we need a baseline before 5c6d70a1",
        "5c6d70a1 beats the baseline",
        "the logreg run, a baseline-free approach, got 0.80",
        "no baseline yet; 5c6d70a1 got 0.80",
        "gain over the baseline (5c6d70a1) is small",
        "compared to the baseline: 5c6d70a1 is +0.01",
        "maybe 5c6d70a1 is the baseline",
    ],
)
def test_no_run_declared(text: str) -> None:
    assert baselines(text) == []


def test_only_the_declared_run_of_two_in_a_sentence() -> None:
    assert baselines("lgbm-v2 is our baseline, and 5c6d70a1 beat it") == [OTHER]


def test_declared_in_a_hand_built_entry_by_item_run_ids() -> None:
    entry = LogEntry(
        tldr="",
        conclusions=[Item(text="abc123de is our baseline", run_ids=["abc123def456"])],
        experiments=[
            Experiment(ref="run-x", run_id="name:run-x", change="", context="run-x as baseline", line=2),
        ],
    )
    assert declared_baselines(entry) == ["name:run-x", "abc123def456"]
