"""Numbers stated as results, kept as written; parameters, units and versions are not results."""

from __future__ import annotations

import pytest

from app.compose.log_entry.stated import PARAM_WORDS, find_stated, metric_name_pattern

METRIC_RE = metric_name_pattern(["val_auc"])


def stated(text: str) -> list[tuple[str | None, float | None, float | None, float | None, bool, str]]:
    found = find_stated(text, 1, metric_re=METRIC_RE, param_words=PARAM_WORDS, masked=[])
    return [(m.name, m.value, m.low, m.high, m.approximate, m.text) for m in (f.metric for f in found)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("auc .93ish", [("auc", 0.93, None, None, True, ".93ish")]),
        ("f1 between 0.81 and 0.84", [("f1", None, 0.81, 0.84, False, "between 0.81 and 0.84")]),
        ("f1 0.81-0.84", [("f1", None, 0.81, 0.84, False, "0.81-0.84")]),
        (".858 vs .861.", [(None, 0.858, None, None, False, ".858"), (None, 0.861, None, None, False, ".861")]),
        ("auc .858 vs .861", [("auc", 0.858, None, None, False, ".858"), ("auc", 0.861, None, None, False, ".861")]),
        ("val auc=0.861", [("val_auc", 0.861, None, None, False, "0.861")]),
        ("recall ~0.7", [("recall", 0.7, None, None, True, "~0.7")]),
        ("93% acc", [("acc", 0.93, None, None, False, "93%")]),
        ("ndcg@10 0.412", [("ndcg_10", 0.412, None, None, False, "0.412")]),
        ("recall@10% was 0.35", [("recall_10", 0.35, None, None, False, "0.35")]),
        (
            "rmse went from 12.1 to 11.8",
            [("rmse", 12.1, None, None, False, "12.1"), ("rmse", 11.8, None, None, False, "11.8")],
        ),
        ("lgbm 0.86", [(None, 0.86, None, None, False, "0.86")]),
    ],
)
def test_results_are_kept_as_written(text: str, expected: list[tuple[object, ...]]) -> None:
    assert stated(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "lr 0.1 on lgbm",
        "dropout=0.3",
        "max_depth=0.5",
        "2x slower, took 3.5 h",
        "python 3.11 and sklearn 1.5",
        "ran 3 seeds for 20 epochs",
        "v0.2 of the features",
        "subsample 0.8",
    ],
)
def test_parameters_units_and_versions_are_not_results(text: str) -> None:
    assert stated(text) == []


def test_project_parameter_keys_are_not_results() -> None:
    found = find_stated(
        "min_gain 0.05 then auc .9", 1, metric_re=METRIC_RE, param_words=PARAM_WORDS | {"min_gain"}, masked=[]
    )
    assert [f.metric.text for f in found] == [".9"]


def test_masked_spans_are_not_read() -> None:
    found = find_stated("run 0.861 here", 1, metric_re=METRIC_RE, param_words=PARAM_WORDS, masked=[range(4, 9)])
    assert found == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("top-1 roughly 78-80% on IR", [("top_1", None, 0.78, 0.8, True, "roughly 78-80%")]),
        ("p@50 ~0.73-0.75 over 3 seeds", [("p_50", None, 0.73, 0.75, True, "~0.73-0.75")]),
    ],
)
def test_hedged_and_percent_ranges(text: str, expected: list[tuple[object, ...]]) -> None:
    assert stated(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PSI is ugly (>0.25 on 3 of them)", []),
        ("mape ~13%, the business wants < 12%", ["~13%"]),
        ("target was 0.9, got 0.87", ["0.87"]),
        ("deepar => 13.8, worse", ["13.8"]),
        ("segformer -> .902 dice", [".902"]),
    ],
)
def test_bounds_and_targets_are_not_results_but_arrows_are_not_bounds(text: str, expected: list[str]) -> None:
    assert [t for *_, t in stated(text)] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("recall at 5% FPR is ca. 0.61", ["ca. 0.61"]),
        ("cum regret ~1,850 over the 14d", ["~1,850"]),
        ("regret 1,420. best so far", ["1,420"]),
        ("autogluon across 3 seeds was 0.310-0.315.", ["0.310-0.315"]),
        ("auc is at 0.86 now", ["0.86"]),
    ],
)
def test_operating_points_thousands_and_sentence_ends(text: str, expected: list[str]) -> None:
    assert [t for *_, t in stated(text)] == expected
