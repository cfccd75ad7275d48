"""Options for the next run: steps continuing a converging approach and untried neighbours of the best, computed with
the project's analysis settings."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.analysis.model import AnalysisSettings
from app.analysis.options import next_options, next_value
from tests.compose.documents.fixtures import RUNS, findings


def test_a_converging_approach_continues_by_the_ratio_of_its_last_gain() -> None:
    options = next_options(RUNS, findings(), AnalysisSettings())
    assert [(s.approach, s.key, s.current, s.proposed, s.rule, s.base) for s in options.steps] == [
        ("lgbm", "num_leaves", "63", "128", "ratio", "r-lr3")
    ]


def test_neighbours_are_values_of_the_same_family_not_yet_run_with_the_best() -> None:
    options = next_options(RUNS, findings(), AnalysisSettings())
    assert [(n.key, n.value, n.run) for n in options.neighbours] == [("lr", "0.05", "r-lr1")]


def test_the_seed_key_follows_the_projects_settings() -> None:
    runs = RUNS | {"r-lr3": replace(RUNS["r-lr3"], params={**RUNS["r-lr3"].params, "rs": "7"})}
    assert next_options(runs, findings(), AnalysisSettings()).seed_key == "seed"
    assert next_options(runs, findings(), AnalysisSettings(seed_keys=("rs",))).seed_key == "rs"


def test_no_best_run_means_no_options() -> None:
    assert next_options({}, findings(best=None), AnalysisSettings()).steps == ()


@pytest.mark.parametrize(
    ("current", "before", "after", "expected"),
    [("63", "31", "63", "128"), ("0.1", "0.05", "0.1", "0.2"), ("2", "-1", "1", "4"), ("5", "5", "5", None)],
)
def test_next_value(current: str, before: str, after: str, expected: str | None) -> None:
    assert next_value(current, before, after) == expected
