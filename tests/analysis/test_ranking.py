"""Ranking finalists on weighted criteria: normalisation, weights, ties, and the input it refuses."""

from __future__ import annotations

import math

import pytest

from app.analysis.model import Criterion, RunView
from app.analysis.ranking import rank_finalists
from app.errors import InputInvalid

A = RunView("a", metrics={"auc": 0.86, "latency_ms": 40.0}, params={"size_mb": "120"})
B = RunView("b", metrics={"auc": 0.84, "latency_ms": 10.0}, params={"size_mb": "30"})
C = RunView("c", metrics={"auc": 0.85, "latency_ms": 25.0}, params={"size_mb": "60"})


def test_weighted_min_max_scores_rank_the_finalists() -> None:
    ranking = rank_finalists(
        [A, B, C],
        [
            Criterion("accuracy", 3, metric="auc"),
            Criterion("speed", 1, direction="min", metric="latency_ms"),
        ],
    )
    assert ranking.weights == {"accuracy": 0.75, "speed": 0.25}
    scores = {f.key: [s.score for s in f.scores] for f in ranking.finalists}
    assert scores["a"] == [pytest.approx(1.0), pytest.approx(0.0)]
    assert scores["b"] == [pytest.approx(0.0), pytest.approx(1.0)]
    assert scores["c"] == [pytest.approx(0.5), pytest.approx(0.5)]
    assert [(f.key, f.rank) for f in ranking.finalists] == [("a", 1), ("c", 2), ("b", 3)]
    assert [f.total for f in ranking.finalists] == pytest.approx([0.75, 0.5, 0.25])
    assert ranking.top == "a"
    assert ranking.finalists[0].scores[0].value == 0.86  # the stored value travels with the score


def test_a_numeric_parameter_can_be_a_criterion() -> None:
    ranking = rank_finalists([A, B], [Criterion("size", 1, direction="min", metric="size_mb")])
    assert ranking.top == "b" and ranking.finalists[0].scores[0].value == 30.0


def test_manual_scores_are_used_as_given() -> None:
    ranking = rank_finalists(
        [A, B],
        [
            Criterion("accuracy", 1, metric="auc"),
            Criterion("explainability", 1, scores={"a": 0.2, "b": 0.9}),
        ],
    )
    by_key = {f.key: f for f in ranking.finalists}
    assert by_key["a"].scores[1].score == 0.2 and by_key["b"].scores[1].score == 0.9
    assert by_key["a"].total == pytest.approx(0.6) and by_key["b"].total == pytest.approx(0.45)
    assert ranking.top == "a"


def test_all_equal_scores_one_for_all() -> None:
    same = [RunView("x", metrics={"auc": 0.8}), RunView("y", metrics={"auc": 0.8})]
    ranking = rank_finalists(same, [Criterion("auc", 1, metric="auc")])
    assert [f.total for f in ranking.finalists] == [1.0, 1.0]


def test_ties_go_to_the_first_criterions_raw_value_then_the_key() -> None:
    # each wins one equally weighted criterion: totals tie at 0.5; b has the better latency (first criterion)
    ranking = rank_finalists(
        [A, B],
        [
            Criterion("speed", 1, direction="min", metric="latency_ms"),
            Criterion("accuracy", 1, metric="auc"),
        ],
    )
    assert [f.key for f in ranking.finalists] == ["b", "a"]
    twins = [RunView("z", metrics={"auc": 0.8}), RunView("m", metrics={"auc": 0.8})]
    assert rank_finalists(twins, [Criterion("auc", 1, metric="auc")]).top == "m"


def test_a_single_finalist_is_a_trivial_ranking() -> None:
    ranking = rank_finalists([A], [Criterion("accuracy", 1, metric="auc")])
    assert ranking.top == "a" and ranking.finalists[0].total == 1.0


@pytest.mark.parametrize(
    ("finalists", "criteria", "field", "words"),
    [
        ([], [Criterion("auc", 1, metric="auc")], "finalists", "at least one"),
        ([A, B, A], [Criterion("auc", 1, metric="auc")], "finalists[2]", "listed twice"),
        ([A, B], [], "criteria", "at least one"),
        ([A, B], [Criterion("auc", 0, metric="auc")], "criteria[0].weight", "positive"),
        ([A, B], [Criterion("auc", -1, metric="auc")], "criteria[0].weight", "positive"),
        ([A, B], [Criterion("auc", math.nan, metric="auc")], "criteria[0].weight", "positive"),
        (
            [A, B],
            [Criterion("auc", 1, metric="auc"), Criterion("auc", 1, metric="latency_ms")],
            "criteria[1].name",
            "two criteria",
        ),
        ([A, B], [Criterion(" ", 1, metric="auc")], "criteria[0].name", "name"),
        (
            [
                A,
                B,
                RunView("d", metrics={"auc": 0.8}),
                RunView("e", metrics={"auc": 0.7}, params={"latency_ms": "fast"}),
            ],
            [Criterion("accuracy", 1, metric="auc"), Criterion("speed", 1, metric="latency_ms")],
            "criteria[1].metric",
            "d, e have no stored 'latency_ms'",
        ),
        ([A, B], [Criterion("ux", 1, scores={"a": 0.5})], "criteria[0].scores", "missing for b"),
        ([A, B], [Criterion("ux", 1, scores={"a": 0.5, "b": 1.5})], "criteria[0].scores", "b has 1.5"),
        ([A, B], [Criterion("ux", 1, scores={"a": 0.5, "b": math.nan})], "criteria[0].scores", "[0, 1]"),
        ([A, B], [Criterion("ux", 1, scores={"a": 0.5, "b": 1, "q": 1})], "criteria[0].scores", "q, which is"),
    ],
)
def test_bad_input_names_the_field(finalists: list[RunView], criteria: list[Criterion], field: str, words: str) -> None:
    with pytest.raises(InputInvalid) as raised:
        rank_finalists(finalists, criteria)
    assert raised.value.field == field
    assert words in raised.value.message


def test_a_criterion_on_the_metric_in_force_within_the_noise_is_a_noise_tie() -> None:
    criteria = [Criterion("accuracy", 3, metric="auc"), Criterion("speed", 1, direction="min", metric="latency_ms")]
    ranking = rank_finalists([A, B, C], criteria, metric="auc", believable_gain=0.03)
    assert ranking.top == "a"
    [tie] = ranking.noise_ties
    assert (tie.criterion, tie.spread, tie.believable_gain, tie.top_without) == (
        "accuracy",
        pytest.approx(0.02),
        0.03,
        "b",  # on speed alone the fastest wins: the within-noise auc gap decided the top
    )
    assert rank_finalists([A, B, C], criteria, metric="auc", believable_gain=0.01).noise_ties == ()
    assert rank_finalists([A, B, C], criteria).noise_ties == ()  # no noise given: nothing to judge
    [alone] = rank_finalists([A, B], criteria[:1], metric="auc", believable_gain=0.03).noise_ties
    assert alone.top_without is None
