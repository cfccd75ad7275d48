"""What changed for a run, a setup sentence, a parameter value in prose, and a number stated once."""

from __future__ import annotations

import pytest

from app.compose.log_entry.composer import ProjectFacts, RunFacts, compose_log_entry
from app.compose.log_entry.grounding import check_grounding

PROJECT = ProjectFacts("val_auc")
RUNS = [
    RunFacts("a1b2c3d4", "a1b2c3d4", "lgbm-base", {"val_auc": 0.85}, {"model": "lightgbm", "lr": "0.1", "l2": "0"}),
    RunFacts("b2c3d4e5", "b2c3d4e5", "lgbm-l2", {"val_auc": 0.851}, {"model": "lightgbm", "lr": "0.1", "l2": "1"}),
    RunFacts("c3d4e5f6", "c3d4e5f6", "lgbm-lr", {"val_auc": 0.86}, {"model": "lightgbm", "lr": "0.05", "l2": "1"}),
    RunFacts("d4e5f6a7", "d4e5f6a7", None, {"val_auc": 0.84}, {}),
]


def changes(text: str) -> dict[str, str]:
    entry = compose_log_entry(text, runs=RUNS, project=PROJECT)
    assert check_grounding(entry, text=text, runs=RUNS).score == 1.0
    return {e.run_id: e.change for e in entry.experiments if e.run_id}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # an observation, not a change: the closest earlier configuration differs in l2
        ("l2 make no difference (b2c3d4e5)", "l2 0 -> 1 (vs lgbm-base)"),
        ("best so far is c3d4e5f6, auc .86", "lr 0.1 -> 0.05 (vs lgbm-l2)"),
        ("see http://mlflow/#/experiments/1/runs/c3d4e5f6", "lr 0.1 -> 0.05 (vs lgbm-l2)"),
        ("c3d4e5f6 got 0.86", "lr 0.1 -> 0.05 (vs lgbm-l2)"),
    ],
)
def test_words_that_are_not_a_change_give_the_parameter_diff(text: str, expected: str) -> None:
    assert changes(text)["c3d4e5f6" if "c3d4e5f6" in text else "b2c3d4e5"] == expected


def test_the_diff_is_against_the_run_the_sentence_compares_it_with() -> None:
    found = changes("a lower lr is a win: c3d4e5f6 .86 vs a1b2c3d4 .85")
    assert found["c3d4e5f6"] == "l2 0 -> 1, lr 0.1 -> 0.05 (vs lgbm-base)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("smaller lr (c3d4e5f6): auc .86", "smaller lr"),
        ("lgbm-lr wins on log loss, 0.86", "lr 0.1 -> 0.05 (vs lgbm-l2)"),
        ("MASE up, worse than plain lgbm lags (0.86, run c3d4e5f6)", "plain lgbm lags"),
    ],
)
def test_words_that_say_a_change_are_kept(text: str, expected: str) -> None:
    assert changes(text)["c3d4e5f6"] == expected


def test_without_parameters_the_words_the_observation_is_about_stay() -> None:
    assert changes("mixup helps: d4e5f6a7 .84")["d4e5f6a7"] == "mixup"


@pytest.mark.parametrize(
    "text",
    [
        "we use 5-fold CV on the 2024 data so the numbers are comparable",
        "trained on 8 GPUs so it is fast",
        "all runs evaluated on the March holdout because prod data lags",
    ],
)
def test_a_setup_sentence_is_not_a_conclusion_nor_a_trial(text: str) -> None:
    entry = compose_log_entry(text, runs=RUNS, project=PROJECT)
    assert entry.conclusions == []
    assert [item.text for item in entry.observations] == [text]
    assert entry.experiments == []


def test_a_setup_sentence_with_an_outcome_is_still_a_conclusion() -> None:
    entry = compose_log_entry("using 5-fold CV the lower lr is clearly better", runs=RUNS, project=PROJECT)
    assert len(entry.conclusions) == 1


@pytest.mark.parametrize(
    "text",
    [
        "smoothness around 0.1 seems fine",
        "a mixing weight of 0.3 for the aux loss",
        "shrinkage 0.05 and temperature set to 0.7",
        "lr of 3e-4 looks stable",
    ],
)
def test_a_parameter_value_in_prose_is_not_a_stated_metric(text: str) -> None:
    entry = compose_log_entry(text, runs=RUNS, project=PROJECT)
    assert [m.text for e in entry.experiments for m in e.stated] == []


def test_a_result_beside_a_parameter_value_is_still_stated() -> None:
    entry = compose_log_entry("label smoothing 0.1 helped: auc 0.861", runs=RUNS, project=PROJECT)
    assert [m.text for e in entry.experiments for m in e.stated] == ["0.861"]


def test_a_number_said_twice_is_stated_once() -> None:
    text = "auc for lgbm-lr was 0.86 I think yeah 0.86"
    entry = compose_log_entry(text, runs=RUNS, project=PROJECT)
    assert [m.text for e in entry.experiments for m in e.stated] == ["0.86"]


def test_the_same_number_for_two_runs_is_stated_for_each() -> None:
    text = "lgbm-lr auc .86, lgbm-l2 auc .86"
    entry = compose_log_entry(text, runs=RUNS, project=PROJECT)
    assert {e.run_id: [m.text for m in e.stated] for e in entry.experiments} == {
        "c3d4e5f6": [".86"],
        "b2c3d4e5": [".86"],
    }


def test_the_same_number_on_two_lines_is_stated_for_each_line() -> None:
    text = "lgbm-lr auc .86\nlgbm-lr auc .86 again on the rerun"
    entry = compose_log_entry(text, runs=RUNS, project=PROJECT)
    assert [(m.line, m.text) for e in entry.experiments for m in e.stated] == [(1, ".86"), (2, ".86")]


MIXED = [
    RunFacts(
        "e1000001",
        "e1000001",
        "svc-a",
        {"val_auc": 0.8},
        {"estimator": "SVC", "C": "10", "kernel": "poly", "seed": "0"},
    ),
    RunFacts("e1000002", "e1000002", "lin-a", {"val_auc": 0.79}, {"estimator": "LinearSVC", "C": "1", "seed": "0"}),
    RunFacts("e1000003", "e1000003", "svc-b", {"val_auc": 0.81}, {"estimator": "SVC", "C": "1", "seed": "0"}),
    RunFacts("e1000004", "e1000004", "svc-c", {"val_auc": 0.82}, {"estimator": "SVC", "C": "1", "seed": "7"}),
    RunFacts("e1000005", "e1000005", "svc-d", {"val_auc": 0.82}, {"estimator": "SVC", "C": "1", "seed": "7"}),
]


def mixed_changes(text: str) -> dict[str, str]:
    entry = compose_log_entry(text, runs=MIXED, project=PROJECT)
    assert check_grounding(entry, text=text, runs=MIXED).score == 1.0
    return {e.run_id: e.change for e in entry.experiments if e.run_id}


def test_the_closest_configuration_is_of_the_same_model_family() -> None:
    # lin-a is one key away (the estimator), svc-a two: svc-b's change is read against the run of its own family
    assert mixed_changes("svc-b came in at 0.81")["e1000003"] == "C 10 -> 1, kernel poly -> unset (vs svc-a)"


def test_a_seed_repeat_reads_seed_only() -> None:
    assert mixed_changes("svc-c 0.82")["e1000004"] == "seed only: seed 0 -> 7 (vs svc-b)"


def test_a_run_of_the_very_same_configuration_says_so() -> None:
    assert mixed_changes("svc-d 0.82")["e1000005"] == "same configuration (vs svc-c)"


def test_without_a_run_of_its_family_the_closest_of_any_family_is_taken() -> None:
    expected = "C 10 -> 1, estimator SVC -> LinearSVC, kernel poly -> unset (vs svc-a)"
    assert mixed_changes("lin-a 0.79")["e1000002"] == expected
