"""Configurations: normalised values, diffs, seed keys, and the closest earlier configuration."""

from __future__ import annotations

import random

import pytest

from app.analysis.configs import (
    Config,
    closest_earlier,
    config_diff,
    distance,
    normalise_config,
    normalise_value,
    seed_keys_of,
)
from app.analysis.model import AnalysisSettings, ParamChange


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("0.10", "0.1"),
        ("0.1", "1e-1"),
        ("1", "1.0"),
        (" adam ", "adam"),
        ("True", "true"),
        ("FALSE", "false"),
        ("None", ""),
        ("nan", "null"),
        ("-0", "0"),
        ("+3", "3"),
    ],
)
def test_equal_values_normalise_alike(a: str, b: str) -> None:
    assert normalise_value(a) == normalise_value(b)


@pytest.mark.parametrize(("a", "b"), [("0.1", "0.01"), ("Adam", "adam"), ("1", "true"), ("1e-3", "1e-4")])
def test_different_values_stay_different(a: str, b: str) -> None:
    assert normalise_value(a) != normalise_value(b)


def test_seed_keys_match_case_insensitively() -> None:
    params = {"Random_State": "1", "SEED": "2", "seeds_file": "x", "lr": "0.1"}
    assert seed_keys_of(params, AnalysisSettings()) == frozenset({"Random_State", "SEED"})


def test_normalised_config_drops_seeds_and_unset_values() -> None:
    assert normalise_config({"lr": "0.10", "seed": "3", "dropout": "None", "opt": " Adam"}, {"seed"}) == {
        "lr": "0.1",
        "opt": "Adam",
    }


@pytest.mark.parametrize(
    ("before", "after", "ignore", "expected"),
    [
        ({"lr": "0.10"}, {"lr": "1e-1"}, (), ()),
        ({"lr": "0.1"}, {"lr": "0.2"}, (), (ParamChange("lr", "0.1", "0.2"),)),
        ({"lr": "0.1"}, {"lr": "0.1", "depth": "3"}, (), (ParamChange("depth", None, "3"),)),
        ({"lr": "0.1", "depth": "3"}, {"lr": "0.1"}, (), (ParamChange("depth", "3", None),)),
        (
            {"seed": "1", "b": "x"},
            {"seed": "2", "a": "y"},
            ("seed",),
            (ParamChange("a", None, "y"), ParamChange("b", "x", None)),
        ),
        ({"depth": "None"}, {}, (), ()),
        ({"depth": "None"}, {"depth": "4"}, (), (ParamChange("depth", "None", "4"),)),
    ],
)
def test_config_diff(
    before: dict[str, str], after: dict[str, str], ignore: tuple[str, ...], expected: tuple[ParamChange, ...]
) -> None:
    assert config_diff(before, after, ignore=ignore) == expected


def cfg(**params: str) -> Config:
    return frozenset(params.items())


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([cfg(a="1")], [None]),
        ([cfg(a="1", b="1"), cfg(a="2", b="2"), cfg(a="1", b="1")], [None, 0, 0]),  # exact match beats the recent
        ([cfg(a="1", b="1"), cfg(a="9", b="9"), cfg(a="1", b="2")], [None, 0, 0]),  # one value changed
        ([cfg(a="1"), cfg(z="9"), cfg(a="1", b="2")], [None, 0, 0]),  # one key added
        ([cfg(a="1", b="2"), cfg(z="9"), cfg(a="1")], [None, 0, 0]),  # one key removed
        ([cfg(a="1", b="1"), cfg(a="1", b="2"), cfg(a="1", b="3")], [None, 0, 1]),  # tie: the most recent
        ([cfg(a="1", b="1", c="1"), cfg(a="5", b="5", c="5"), cfg(a="2", b="2", c="1")], [None, 0, 0]),  # two changes
    ],
)
def test_closest_earlier(history: list[Config], expected: list[int | None]) -> None:
    assert closest_earlier(history, [None] * len(history)) == expected


def test_closest_earlier_matches_brute_force_on_small_histories() -> None:
    rng = random.Random(3)
    keys = ["a", "b", "c", "d", "e"]
    history = [
        frozenset((k, str(rng.randint(1, 3))) for k in keys if rng.random() < 0.8) for _ in range(100)
    ]  # within the search window, so the closest is exact
    found = closest_earlier(history, [None] * len(history))
    for i in range(1, len(history)):
        best = min(distance(history[i], history[j]) for j in range(i))
        assert distance(history[i], history[found[i]]) == best, i  # type: ignore[index]
        if best <= 1:  # the hash maps decide ties: the most recent
            assert found[i] == max(j for j in range(i) if distance(history[i], history[j]) == best)


def test_distance_counts_keys_not_items() -> None:
    assert distance(cfg(a="1", b="1"), cfg(a="2", c="1")) == 3
