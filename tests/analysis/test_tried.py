""" "Has this been tried?": proposals read against the project's own keys and values, and the verdict."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from app.analysis.model import Approach, Direction, Findings, Noise, RunView
from app.analysis.tried import match_proposal, same_value


def make_findings(
    runs: list[RunView], *, metric: str = "auc", direction: Direction = "max", approaches: tuple[Approach, ...] = ()
) -> Findings:
    return Findings(
        metric=metric,
        direction=direction,
        metric_switches=(),
        baseline=None,
        baseline_value=None,
        best=None,
        best_value=None,
        noise=Noise(source="min_effect", std=None, min_gain=0.005),
        changes={},
        approaches=approaches,
        duplicates=(),
        repro_gaps=(),
        stalled=False,
        findings=(),
        run_order=tuple(r.key for r in runs),
    )


RUNS = [
    RunView(
        "rf20",
        params={"model": "random_forest", "max_depth": "20", "class_weight": "balanced", "n_estimators": "500"},
        metrics={"auc": 0.80},
    ),
    RunView(
        "rf10",
        params={"model": "random_forest", "max_depth": "10", "class_weight": "None", "n_estimators": "500"},
        metrics={"auc": 0.82},
    ),
    RunView(
        "rf20b",
        params={"model": "random_forest", "max_depth": "20", "class_weight": "balanced", "n_estimators": "200"},
        metrics={"auc": 0.83},
    ),
    RunView(
        "lgbm-smote",
        params={
            "model": "lightgbm",
            "learning_rate": "0.0003",
            "batch_size": "64",
            "optimizer": "AdamW",
            "sampler": "smote",
        },
        metrics={"auc": 0.85},
    ),
    RunView(
        "lgbm-adam",
        params={"model": "lightgbm", "learning_rate": "0.001", "batch_size": "32", "optimizer": "adam"},
        metrics={},  # no metric: listed last
    ),
    RunView(
        "lgbm-failed",
        params={"model": "lightgbm", "learning_rate": "0.0003", "batch_size": "64", "optimizer": "adamw"},
        metrics={"auc": 0.99},
        status="FAILED",  # a failed run's number is no result
    ),
]
FINDINGS = make_findings(RUNS)


@pytest.mark.parametrize(
    ("proposal", "params", "family"),
    [
        (
            "try random forest with max_depth=20 and class_weight balanced",
            {"max_depth": "20", "class_weight": "balanced"},
            "random_forest",
        ),
        (
            "lr 3e-4, batch size 64 with adamw",
            {"learning_rate": "3e-4", "batch_size": "64", "optimizer": "AdamW"},
            None,
        ),
        ("SMOTE oversampling on lightgbm", {"sampler": "smote"}, "lightgbm"),
        ("learningRate: 0.001 and batch-size = 32", {"learning_rate": "0.001", "batch_size": "32"}, None),
        ("rf with 200 estimators", {"n_estimators": "200"}, "random_forest"),
        ("max depth of 10 on an rf model", {"max_depth": "10"}, "random_forest"),
        ("lgbm instead of random forest", {}, "lightgbm"),
        ("depth 30", {"max_depth": "30"}, None),  # a key by its last word, a value no run has
        ("Batch_Size 128", {"batch_size": "128"}, None),
        ("use the adam optimizer", {"optimizer": "adam"}, None),  # a value before its key
        ("xgboost with 1000 trees", {"n_estimators": "1000"}, "xgboost"),  # a family no run has is still one
        ("class_weight=balanced, no smote", {"class_weight": "balanced"}, None),  # what it moves away from
        ("adamw instead of adam", {"optimizer": "AdamW"}, None),
    ],
)
def test_proposals_are_read_against_stored_keys_and_values(
    proposal: str, params: dict[str, str], family: str | None
) -> None:
    config = match_proposal(proposal, RUNS, FINDINGS).proposal
    assert (dict(config.params), config.family) == (params, family)


def test_tried_lists_the_runs_with_every_proposed_value_best_first() -> None:
    match = match_proposal("try random forest with max_depth=20 and class_weight balanced", RUNS, FINDINGS)
    assert match.verdict == "tried"
    assert [r.key for r in match.exact] == ["rf20b", "rf20"]  # 0.83 before 0.80
    assert match.exact[0].matched == ("max_depth", "class_weight") and match.exact[0].value == 0.83
    assert [r.key for r in match.similar] == ["rf10"]  # the family only
    assert [(c.key, c.before, c.after) for c in match.similar[0].differing] == [
        ("max_depth", "10", "20"),
        ("class_weight", "None", "balanced"),
    ]


def test_numbers_compare_by_value_and_runs_without_the_metric_come_last() -> None:
    match = match_proposal("lr 3e-4, batch size 64 with adamw", RUNS, FINDINGS)
    assert match.verdict == "tried"
    # lgbm-failed has auc 0.99 stored, but a failed run has no result: it ranks after lgbm-smote
    assert [r.key for r in match.exact] == ["lgbm-smote", "lgbm-failed"]
    assert [r.value for r in match.exact] == [0.85, None]


def test_similar_ranks_by_keys_matched_then_value() -> None:
    match = match_proposal("lightgbm with lr 0.001 and batch size 64 and sampler smote", RUNS, FINDINGS)
    assert match.verdict == "similar"
    # lgbm-smote: family, batch size, sampler (3); lgbm-adam: family, lr (2); lgbm-failed: family, batch size (2);
    # the last two have no result, so history order decides; the random forests share nothing
    assert [r.key for r in match.similar] == ["lgbm-smote", "lgbm-adam", "lgbm-failed"]
    assert [len(r.matched) for r in match.similar] == [2, 1, 1]


def test_nothing_in_common_is_new_and_unknown_terms_are_listed() -> None:
    match = match_proposal("try a transformer with dropout=0.3 and mixup", RUNS, FINDINGS)
    assert match.verdict == "new"
    assert match.exact == () and match.similar == ()
    assert match.proposal.family == "transformer"  # a family the project does not have
    assert match.proposal.unmatched == ("dropout=0.3", "mixup")


def test_an_unknown_key_value_pair_keeps_a_match_from_being_tried() -> None:
    match = match_proposal("lightgbm, lr 3e-4 and warmup=100", RUNS, FINDINGS)
    assert match.verdict == "similar"
    assert match.proposal.unmatched == ("warmup=100",)


def test_a_family_alone_is_tried_when_a_run_has_it() -> None:
    match = match_proposal("what about a random forest?", RUNS, FINDINGS)
    assert match.verdict == "tried"
    assert [r.key for r in match.exact] == ["rf20b", "rf10", "rf20"]


def test_direction_min_puts_the_lowest_first() -> None:
    runs = [
        RunView("a", params={"lr": "0.1"}, metrics={"loss": 0.5}),
        RunView("b", params={"lr": "0.1"}, metrics={"loss": 0.3}),
    ]
    match = match_proposal("lr=0.1", runs, make_findings(runs, metric="loss", direction="min"))
    assert [r.key for r in match.exact] == ["b", "a"]


def test_key_spelled_two_ways_in_the_runs_matches_both() -> None:
    runs = [
        RunView("a", params={"batch_size": "64"}, metrics={"auc": 0.7}),
        RunView("b", params={"batchSize": "64"}, metrics={"auc": 0.8}),
    ]
    match = match_proposal("batch size 64", runs, make_findings(runs))
    assert [r.key for r in match.exact] == ["b", "a"]


def test_a_key_named_without_a_value_matches_runs_where_it_is_on() -> None:
    runs = [
        RunView("on", params={"use_smote": "True"}, metrics={"auc": 0.7}),
        RunView("off", params={"use_smote": "False"}, metrics={"auc": 0.8}),
    ]
    match = match_proposal("use smote", runs, make_findings(runs))
    assert match.proposal.params == {"use_smote": ""}
    assert [r.key for r in match.exact] == ["on"]


def test_an_ambiguous_bare_value_proposes_nothing() -> None:
    runs = [RunView("a", params={"imputer": "median", "aggregation": "median"}, metrics={"auc": 0.7})]
    match = match_proposal("median", runs, make_findings(runs))
    assert match.proposal.params == {} and match.verdict == "new"


def test_a_concept_settles_a_value_two_keys_take() -> None:
    # "standard" is an imputer's value too, but standard scaling is the scaler's
    runs = [RunView("a", params={"scaler": "standard", "imputer": "standard"}, metrics={"auc": 0.7})]
    match = match_proposal("standard", runs, make_findings(runs))
    assert match.proposal.params == {"scaler": "standard"} and match.verdict == "tried"


def test_the_approach_of_each_run_is_reported() -> None:
    approach = Approach(
        name="rf-balanced",
        source="tag",
        run_ids=("rf20", "rf20b"),
        status="active",
        computed_status="active",
        reason="",
    )
    match = match_proposal("class_weight balanced", RUNS, make_findings(RUNS, approaches=(approach,)))
    assert {r.approach for r in match.exact} == {"rf-balanced"}


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("3e-4", "0.0003", True),
        ("64", "64.0", True),
        ("AdamW", "adamw", True),
        ("random_forest", "Random Forest", True),
        ("True", "yes", True),
        ("0.1", "0.01", False),
        ("adam", "adamw", False),
    ],
)
def test_same_value(a: str, b: str, same: bool) -> None:
    assert same_value(a, b) is same


def test_ten_thousand_runs_answer_fast() -> None:
    start = datetime(2024, 1, 1)
    runs = [
        RunView(
            f"r{i}",
            params={
                "model": ("lightgbm", "xgboost", "random_forest")[i % 3],
                "learning_rate": str(round(0.001 * (1 + i % 50), 4)),
                "max_depth": str(3 + i % 10),
                "batch_size": str(2 ** (4 + i % 4)),
                "optimizer": ("adam", "adamw", "sgd")[i % 3],
                **{f"p{j}": str((i + j) % 7) for j in range(15)},
            },
            metrics={"auc": 0.7 + (i % 97) / 1000},
            when=start + timedelta(minutes=i),
        )
        for i in range(10_000)
    ]
    findings = make_findings(runs)
    # Speed is measured in bench/findings.py, not asserted here.
    match = match_proposal("lgbm, lr 0.002, max depth 4, adamw, bs 32", runs, findings)
    assert match.verdict in ("tried", "similar")
    # every lightgbm run is listed, and no run of another family
    assert len(match.exact) + len(match.similar) == len([r for r in runs if r.params["model"] == "lightgbm"])


def test_with_analyze_on_ten_thousand_runs() -> None:
    from app.analysis.findings import analyze
    from app.analysis.model import AnalysisInput
    from tests.analysis.builders import synthetic_history

    runs = synthetic_history()
    runs_by_key = {r.key: r for r in runs}
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc"))
    target = runs[42]
    proposal = f"{target.params['model']} with p0={target.params['p0']} and p1 {target.params['p1']}"
    match = match_proposal(proposal, runs, findings)
    assert match.verdict == "tried" and match.proposal.family == target.params["model"]
    assert all(
        runs_by_key[r.key].params["p0"] == target.params["p0"]
        and runs_by_key[r.key].params["p1"] == target.params["p1"]
        for r in match.exact
    )
    assert all(r.approach for r in match.exact)  # every run has an approach once analysed
    values = [r.value for r in match.exact if r.value is not None]
    assert values == sorted(values, reverse=True)


# -- proposals in a data scientist's words: concepts, directions, families ---------------------------------------------

WORDS_RUNS = [
    RunView("base", params={"model": "logistic_regression", "C": "1", "penalty": "l2"}, metrics={"auc": 0.70}),
    RunView("logreg-c01", params={"model": "logistic_regression", "C": "0.1", "penalty": "l2"}, metrics={"auc": 0.72}),
    RunView("logreg-c10", params={"model": "logistic_regression", "C": "10", "penalty": "l2"}, metrics={"auc": 0.69}),
    RunView(
        "gbm-1",
        params={"model": "lightgbm", "learning_rate": "0.1", "num_leaves": "31", "reg_lambda": "0", "reg_alpha": "0"},
        metrics={"auc": 0.80},
    ),
    RunView(
        "gbm-2",
        params={"model": "lightgbm", "learning_rate": "0.05", "num_leaves": "63", "reg_lambda": "1", "reg_alpha": "0"},
        metrics={"auc": 0.81},
    ),
    RunView(
        "gbm-3",
        params={"model": "lightgbm", "learning_rate": "0.05", "num_leaves": "31", "reg_lambda": "0", "reg_alpha": "2"},
        metrics={"auc": 0.79},
    ),
    RunView(
        "forest-1", params={"model": "random_forest", "max_depth": "8", "n_estimators": "200"}, metrics={"auc": 0.75}
    ),
    RunView(
        "forest-2", params={"model": "random_forest", "max_depth": "16", "n_estimators": "500"}, metrics={"auc": 0.77}
    ),
    RunView(
        "net-1",
        params={"model": "tabular_net", "drop_rate": "0.1", "attn_dropout": "0", "l2_reg": "0", "optimizer": "adam"},
        metrics={"auc": 0.78},
    ),
    RunView(
        "net-2",
        params={
            "model": "tabular_net",
            "drop_rate": "0.3",
            "attn_dropout": "0.1",
            "l2_reg": "1e-4",
            "optimizer": "sgd",
        },
        metrics={"auc": 0.79},
    ),
]
WORDS_FINDINGS = replace(make_findings(WORDS_RUNS), baseline="base")


def words(proposal: str) -> tuple[str, list[str], list[str]]:
    match = match_proposal(proposal, WORDS_RUNS, WORDS_FINDINGS)
    return match.verdict, [r.key for r in match.exact], [r.key for r in match.similar]


@pytest.mark.parametrize(
    ("proposal", "verdict", "exact", "similar"),
    [
        # stronger L2 is a smaller C on the logistic regression, a larger reg_lambda on lightgbm
        ("stronger L2 on the logistic regression", "tried", ["logreg-c01"], ["base", "logreg-c10"]),
        ("lightgbm with stronger L2", "tried", ["gbm-2"], ["gbm-1", "gbm-3"]),
        ("lightgbm with more L1", "tried", ["gbm-3"], ["gbm-2", "gbm-1"]),  # reg_alpha, a name listed nowhere
        ("weaker regularisation for logreg", "tried", ["logreg-c10"], ["logreg-c01", "base"]),
        ("higher C", "tried", ["logreg-c10"], ["logreg-c01", "base"]),  # C named itself: larger C
        # a value beyond the tried range, a bound beyond the tried extreme: similar, not tried
        ("C=30", "similar", [], ["logreg-c01", "base", "logreg-c10"]),
        ("C above 10", "similar", [], ["logreg-c01", "base", "logreg-c10"]),
        ("a forest deeper than any we tried", "similar", [], ["forest-2", "forest-1"]),
        ("even more dropout", "similar", [], ["net-2", "net-1"]),
        # dropout on the neural family, whatever the key is called
        ("more dropout", "tried", ["net-2"], ["net-1"]),
        ("a neural net with more dropout", "tried", ["net-2"], ["net-1"]),
        ("stronger weight decay on the network", "tried", ["net-2"], ["net-1"]),  # l2_reg
        # depth on the random forest, by a word of its name
        ("a deeper forest", "tried", ["forest-2"], ["forest-1"]),
        ("a shallower forest", "similar", [], ["forest-2", "forest-1"]),
        ("random forest with max_depth at least 16", "tried", ["forest-2"], ["forest-1"]),
        ("more trees", "tried", ["forest-2"], ["forest-1"]),
        ("a bigger forest", "tried", ["forest-2"], ["forest-1"]),
        ("more leaves on lightgbm", "tried", ["gbm-2"], ["gbm-1", "gbm-3"]),
        ("lower learning rate on lightgbm", "tried", ["gbm-2", "gbm-3"], ["gbm-1"]),
        # a family the project does not have is new, whatever it shares
        ("a graph network", "new", [], []),
        ("a graph neural network with more dropout", "new", [], []),
        # an optimiser no run used, on the key optimisers live in
        ("adamw", "similar", [], ["net-2", "net-1"]),
        # a family with a change no run carries is no exact match
        ("lightgbm with focal loss", "similar", [], ["gbm-2", "gbm-1", "gbm-3"]),
        ("random forest with more dropout", "similar", [], ["forest-2", "forest-1"]),
        ("regularizing the lightgbm more", "tried", ["gbm-2", "gbm-3"], ["gbm-1"]),  # a word's ending aside
        ("deeper trees on the random forest", "tried", ["forest-2"], ["forest-1"]),
        ("lower learning rate and more leaves on lightgbm", "tried", ["gbm-2"], ["gbm-3", "gbm-1"]),
        ("a cosine schedule on the network", "similar", [], ["net-2", "net-1"]),  # no run records a schedule
        ("lightgbm, but bigger", "similar", [], ["gbm-2", "gbm-1", "gbm-3"]),  # bigger in nothing the runs carry
    ],
)
def test_proposals_in_words_read_through_concepts(
    proposal: str, verdict: str, exact: list[str], similar: list[str]
) -> None:
    assert words(proposal) == (verdict, exact, similar)


@pytest.mark.parametrize(
    ("proposal", "concepts", "params"),
    [
        ("stronger L2 on the logistic regression", ("regularisation",), {}),
        ("more dropout", ("dropout",), {}),
        ("a deeper forest", ("depth",), {}),
        ("lightgbm with 63 leaves", ("depth",), {"num_leaves": "63"}),  # a concept's word with a value
        ("adamw on the network", ("optimiser",), {"optimizer": "adamw"}),
        ("C=30", ("regularisation",), {"C": "30"}),
        ("learning rate 0.05 on lightgbm", ("learning_rate",), {"learning_rate": "0.05"}),  # the family comes later
        ("l2 of 1e-4 on the network", ("regularisation",), {"l2_reg": "1e-4"}),
    ],
)
def test_the_concepts_read_are_reported(proposal: str, concepts: tuple[str, ...], params: dict[str, str]) -> None:
    config = match_proposal(proposal, WORDS_RUNS, WORDS_FINDINGS).proposal
    assert (config.concepts, dict(config.params)) == (concepts, params)


def test_a_key_named_as_another_family_stores_it_reads_as_the_named_familys_key() -> None:
    runs = [
        RunView("gbm", params={"model": "lightgbm", "learning_rate": "0.05"}, metrics={"auc": 0.8}),
        RunView("mlp-1", params={"model": "mlp", "lr": "0.001"}, metrics={"auc": 0.7}),
        RunView("mlp-2", params={"model": "mlp", "lr": "0.0003"}, metrics={"auc": 0.71}),
    ]
    match = match_proposal("learning_rate 0.001 for the mlp", runs, make_findings(runs))
    assert match.proposal.params == {"lr": "0.001"}
    assert [r.key for r in match.exact] == ["mlp-1"] and [r.key for r in match.similar] == ["mlp-2"]


@pytest.mark.parametrize(
    ("proposal", "concepts", "params"),
    [
        ("a lower lr on the network", ("learning_rate",), {}),
    ],
)
def test_more_concepts_read(proposal: str, concepts: tuple[str, ...], params: dict[str, str]) -> None:
    config = match_proposal(proposal, WORDS_RUNS, WORDS_FINDINGS).proposal
    assert (config.concepts, dict(config.params)) == (concepts, params)


def test_a_move_says_which_keys_it_moves_and_from_where() -> None:
    config = match_proposal("stronger L2", WORDS_RUNS, WORDS_FINDINGS).proposal
    (move,) = config.moves
    # per family: C smaller than the baseline's, reg_lambda (not reg_alpha) and l2_reg larger than the first run's
    assert dict(move.signs) == {"C": -1, "l2_reg": 1, "reg_lambda": 1}
    assert dict(move.wanted) == {"C": "< 1", "l2_reg": "> 0", "reg_lambda": "> 0"}


def test_a_family_named_never_matches_another_familys_runs() -> None:
    match = match_proposal("lightgbm with learning_rate 0.1", WORDS_RUNS, WORDS_FINDINGS)
    assert {r.key for r in match.exact + match.similar} <= {"gbm-1", "gbm-2", "gbm-3"}


def test_the_baseline_is_never_an_exact_match_of_a_change() -> None:
    runs = [
        RunView("base", params={"model": "mlp", "dropout": "0.2"}, metrics={"auc": 0.7}),
        RunView("other", params={"model": "mlp", "dropout": "0.5"}, metrics={"auc": 0.72}),
    ]
    findings = replace(make_findings(runs), baseline="base")
    match = match_proposal("add dropout", runs, findings)
    assert [r.key for r in match.exact] == ["other"] and [r.key for r in match.similar] == ["base"]


def test_no_limit_is_deeper_than_any_number() -> None:
    runs = [
        RunView("a", params={"model": "random_forest", "max_depth": "10"}, metrics={"auc": 0.7}),
        RunView("b", params={"model": "random_forest", "max_depth": "None"}, metrics={"auc": 0.72}),
    ]
    match = match_proposal("deeper trees on the random forest", runs, make_findings(runs))
    assert [r.key for r in match.exact] == ["b"]


def test_every_matching_run_is_listed() -> None:
    runs = [RunView(f"r{i}", params={"lr": "0.1", "seed": str(i)}, metrics={"auc": 0.7}) for i in range(25)]
    match = match_proposal("lr 0.1", runs, make_findings(runs))
    assert len(match.exact) == 25


FEATURE_RUNS = [
    RunView(
        "b",
        params={"model": "xgboost", "scale_pos_weight": "1", "feature_set": "base", "scaler": "none"},
        metrics={"auc": 0.7},
    ),
    RunView(
        "w",
        params={"model": "xgboost", "scale_pos_weight": "9", "feature_set": "base+lags", "scaler": "StandardScaler"},
        metrics={"auc": 0.72},
    ),
    RunView(
        "s",
        params={"model": "xgboost", "sampler": "smote", "feature_set": "base+lags+calendar", "scaler": "none"},
        metrics={"auc": 0.71},
    ),
    RunView("svm-rbf", params={"model": "SVC", "kernel": "rbf", "gamma": "0.1", "C": "1"}, metrics={"auc": 0.65}),
    RunView("svm-linear", params={"model": "SVC", "kernel": "linear", "C": "1"}, metrics={"auc": 0.66}),
]


@pytest.mark.parametrize(
    ("proposal", "verdict", "exact"),
    [
        ("add calendar features", "tried", ["s"]),  # a word of a stored feature set
        ("the lag features", "tried", ["w", "s"]),
        ("xgboost without the lag features", "tried", ["b"]),
        ("lag features but no calendar", "tried", ["w"]),
        ("upweight the positive class", "tried", ["w"]),  # class weighting, not sampling
        ("oversampling the minority", "tried", ["s"]),  # sampling, not weighting
        ("handle the class imbalance", "tried", ["w", "s"]),  # either
        ("standard scaling", "tried", ["w"]),  # "standard" for StandardScaler
        ("a polynomial kernel", "similar", []),  # a kernel no run used, on the kernel key
        ("rbf kernel", "tried", ["svm-rbf"]),
    ],
)
def test_feature_families_imbalance_scaling_and_kernels(proposal: str, verdict: str, exact: list[str]) -> None:
    match = match_proposal(proposal, FEATURE_RUNS, replace(make_findings(FEATURE_RUNS), baseline="b"))
    assert (match.verdict, [r.key for r in match.exact]) == (verdict, exact)


NLP_RUNS = [
    RunView(
        "bert-1",
        params={
            "model": "distilbert",
            "learning_rate": "5e-5",
            "hidden_dropout_prob": "0.1",
            "attention_probs_dropout_prob": "0.1",
            "warmup_ratio": "0",
            "lr_scheduler_type": "linear",
            "per_device_train_batch_size": "16",
        },
        metrics={"f1": 0.80},
    ),
    RunView(
        "bert-2",
        params={
            "model": "distilbert",
            "learning_rate": "3e-5",
            "hidden_dropout_prob": "0.2",
            "attention_probs_dropout_prob": "0.1",
            "warmup_ratio": "0.1",
            "lr_scheduler_type": "cosine",
            "per_device_train_batch_size": "32",
        },
        metrics={"f1": 0.82},
    ),
    RunView("tfidf", params={"model": "LogisticRegression", "C": "1.0"}, metrics={"f1": 0.74}),
]


@pytest.mark.parametrize(
    ("proposal", "verdict", "exact"),
    [
        ("lower learning rate for the transformer", "tried", ["bert-2"]),  # the project's one transformer
        ("more dropout", "tried", ["bert-2"]),  # hidden_dropout_prob, attention_probs_dropout_prob
        ("does warmup matter?", "tried", ["bert-2"]),
        ("a cosine schedule", "tried", ["bert-2"]),
        ("bigger batch size", "tried", ["bert-2"]),  # a key named with a direction
        ("weaker regularisation on the logistic regression", "similar", []),  # C went no higher than 1
        ("a gnn", "new", []),
    ],
)
def test_a_transformer_history_in_words(proposal: str, verdict: str, exact: list[str]) -> None:
    match = match_proposal(proposal, NLP_RUNS, replace(make_findings(NLP_RUNS, metric="f1"), baseline="tfidf"))
    assert (match.verdict, [r.key for r in match.exact]) == (verdict, exact)


def test_a_direction_moves_the_word_it_qualifies_not_one_further_on() -> None:
    match = match_proposal("larger batch with warmup", NLP_RUNS, make_findings(NLP_RUNS, metric="f1"))
    (move,) = match.proposal.moves
    assert dict(move.signs) == {"warmup_ratio": 0}  # warmup on; "larger" qualifies "batch", which no key is
