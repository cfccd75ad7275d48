"""The one metric-switch detector: announcements however phrased, mentions that announce nothing, names as written
mapped to the project's metrics, and the composer's warning agreeing with what the service records."""

from __future__ import annotations

import pytest

from app.compose.log_entry.composer import compose_log_entry
from app.compose.log_entry.declarations import announced_metric_switch
from app.compose.log_entry.facts import ProjectFacts, RunFacts
from app.compose.log_entry.metric_switch import default_direction, read_switch, resolve_metric, same_words

KNOWN = [
    "val_auc",
    "val_f1",
    "val_recall",
    "val_precision",
    "val_pr_auc",
    "val_mae",
    "val_rmse",
    "ndcg_5",
    "mrr",
    "val_balanced_accuracy",
    "top_1_accuracy",
    "val_log_loss",
    "ece",
    "map_10",
]
ALIASES = {"average precision": "val_pr_auc"}


@pytest.mark.parametrize(
    ("text", "metric"),
    [
        ("Starting this week we judge every model by MAE, not RMSE.", "val_mae"),
        ("MRR is our new north star.", "mrr"),
        ("The team agreed that balanced accuracy becomes the main metric.", "val_balanced_accuracy"),
        ("We're moving the primary metric over to recall, since missed positives cost most.", "val_recall"),
        ("From here on, precision is the headline metric for the ranking stage.", "val_precision"),
        ("average precision replaced AUC as our yardstick after the offsite", "val_pr_auc"),
        ("Given how rare fraud is, we now optimise for PR AUC", "val_pr_auc"),
        ("New primary metric: NDCG@5.", "ndcg_5"),
        ("Top-1 accuracy is what matters from now on because users only see one answer.", "top_1_accuracy"),
        ("going forward the key metric is MAP@10 (was MRR)", "map_10"),
        ("We decided to select models on ECE from the next release on.", "ece"),
        ("primary metric for the churn project is now F1", "val_f1"),
        ("Log loss is out; we rank runs by macro F1 now.", "macro_f1"),  # not recorded: kept as written
        ("I would propose that we switch our primary metric from AUC to F1 for the remaining runs.", "val_f1"),
        ("We no longer optimise RMSE. MAE is what we track going forward.", "val_mae"),
        ("We drop AUC as the yardstick. The team optimises recall.", "val_recall"),
    ],
)
def test_an_announcement_is_read_however_phrased(text: str, metric: str) -> None:
    switch = announced_metric_switch(text, known_metrics=KNOWN, aliases=ALIASES)
    assert switch is not None and switch.metric == metric


@pytest.mark.parametrize(
    "text",
    [
        "MAE improved from 3.1 to 2.9.",
        "We report AUC, F1 and precision in every review.",
        "AUC is still our primary metric.",
        "Should the main metric be recall instead?",
        "Maybe we should optimise for recall at some point.",
        "The primary metric (AUC) went up to 0.91.",
        "macro F1 stays the yardstick.",
        "Not sure whether recall or precision should be the main metric.",
        "the new features helped recall a lot",
        "we optimised the learning rate schedule",
        "I wonder if we should switch the main metric to F1",
        "Precision dropped after we switched to the new sampler.",
        "The RMSE is dominated by three stores; MAE is more robust.",
        "nobody wants to change the primary metric now",
        "we keep optimising AUC for now",
        "new best F1 0.71 on the rerun",
        "ranked the runs by AUC to pick finalists",
        "now we judge on the holdout set",
        "The main metric moved to 0.82 today",
        "Someone proposed switching the main metric to recall.",
        "Precision dropped with the new sampler. We optimise recall with class weights.",
    ],
)
def test_a_mention_announces_nothing(text: str) -> None:
    assert announced_metric_switch(text, known_metrics=KNOWN, aliases=ALIASES) is None


def test_the_reason_before_or_after_the_metric() -> None:
    before = announced_metric_switch(
        "Accuracy is useless at a 0.3% fraud rate, so PR AUC is our primary metric from now on.",
        known_metrics=KNOWN,
        aliases={},
    )
    after = announced_metric_switch("main metric is now MAE because misses hurt", known_metrics=KNOWN, aliases={})
    assert before is not None and before.reason == "Accuracy is useless at a 0.3% fraud rate"
    assert after is not None and (after.metric, after.direction, after.reason) == ("val_mae", "min", "misses hurt")


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("PR AUC", "val_pr_auc"),  # separators and the validation split
        ("average precision", "val_pr_auc"),  # an alias
        ("Top-1 accuracy", "top_1_accuracy"),
        ("catalogue MRR", "mrr"),  # the longest known ending
        ("recall@20", "recall@20"),  # unknown: as written
        ("weighted F2", "weighted_f2"),
    ],
)
def test_a_metric_is_mapped_to_the_one_the_project_records(written: str, meant: str) -> None:
    assert resolve_metric(written, known_metrics=KNOWN, aliases=ALIASES) == meant


@pytest.mark.parametrize(
    ("metric", "direction"),
    [("val_log_loss", "min"), ("wape", "min"), ("recall@5%fpr", "max"), ("error_rate", "min"), ("ndcg_5", "max")],
)
def test_default_direction(metric: str, direction: str) -> None:
    assert default_direction(metric) == direction


def _entry(text: str, primary: str = "val_auc", direction: str = "max") -> list[str]:
    runs = [RunFacts("r1", "r1", "r1", metrics={m: 0.5 for m in KNOWN})]
    entry = compose_log_entry(text, runs=runs, project=ProjectFacts(primary_metric=primary, metric_direction=direction))
    return [w.code for w in entry.warnings]


def test_the_composer_warns_once_exactly_when_the_service_would_record() -> None:
    assert _entry("this sprint we optimise PR-AUC, not accuracy") == ["metric_switch_announced"]
    assert _entry("recall@10 is the number we care about now. From today the main metric is recall.") == [
        "metric_switch_announced"
    ]
    assert _entry("from now on the primary metric is AUC", primary="val_auc") == []  # already in force
    assert _entry("we report AUC and F1") == []


@pytest.mark.parametrize(
    ("written", "known", "expected"),
    [
        ("recall@5", ["recall_at_5", "recall_at_50"], "recall_at_5"),
        ("hit rate@10", ["val_hit_rate_at_10"], "val_hit_rate_at_10"),
        ("precision in the top decile", ["top_decile_precision"], "top_decile_precision"),
        ("Gini coefficient", ["gini", "auc"], "gini"),
        ("false positive rate", ["val_fpr", "test_fpr"], "val_fpr"),
        ("brier score", ["brier", "brier_skill"], "brier"),
    ],
)
def test_a_metric_in_other_words_is_the_one_the_project_records(written: str, known: list[str], expected: str) -> None:
    assert resolve_metric(written, known_metrics=known, aliases={}) == expected


def test_two_metrics_in_other_words_are_no_answer() -> None:
    assert same_words("f1 macro", ["val_macro_f1", "test_macro_f1", "dev_macro_f1"]) is None
    assert same_words("mean absolute error", ["mae", "val_mae"]) is None


def test_the_words_before_the_phrase_complete_a_known_metric() -> None:
    found = read_switch(
        [(1, "from now on the primary metric is word error rate, not CER")],
        known_metrics=["val_wer", "val_cer"],
        aliases={},
    )
    assert found is not None and found.metric == "val_wer"
