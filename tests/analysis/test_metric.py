"""The metric in force, gains, scored values, and the shared number format."""

from __future__ import annotations

from datetime import date

import pytest

from app.analysis.metric import gain, metric_in_force, value_of
from app.analysis.model import MetricSwitch, RunView
from app.parsing.fmt import fmt

SWITCHES = (
    MetricSwitch("f1", "max", date(2024, 3, 5), "ships a yes/no flag"),
    MetricSwitch("log_loss", "min", date(2024, 3, 9), "calibration matters"),
)


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (date(2024, 3, 4), ("auc", "max")),
        (date(2024, 3, 5), ("f1", "max")),
        (date(2024, 3, 8), ("f1", "max")),
        (date(2024, 3, 9), ("log_loss", "min")),
        (None, ("log_loss", "min")),
    ],
)
def test_metric_in_force(on: date | None, expected: tuple[str, str]) -> None:
    assert metric_in_force("auc", "max", SWITCHES, on) == expected


def test_no_switch_keeps_the_primary_metric() -> None:
    assert metric_in_force("rmse", "min", ()) == ("rmse", "min")


@pytest.mark.parametrize(("a", "b", "direction", "expected"), [(0.9, 0.8, "max", 0.1), (0.8, 0.9, "min", 0.1)])
def test_gain_is_positive_when_better(a: float, b: float, direction: str, expected: float) -> None:
    assert gain(a, b, direction) == pytest.approx(expected)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        (RunView("a", metrics={"auc": 0.9}), 0.9),
        (RunView("a", metrics={"auc": 0.9}, status="FINISHED"), 0.9),
        (RunView("a", metrics={"auc": 0.9}, status="failed"), None),
        (RunView("a", metrics={"auc": 0.9}, status="KILLED"), None),
        (RunView("a", metrics={"f1": 0.9}), None),
        (RunView("a", metrics={"auc": float("nan")}), None),
    ],
)
def test_value_of_scores_only_finished_runs_with_the_metric(run: RunView, expected: float | None) -> None:
    assert value_of(run, "auc") == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.91234, "0.9123"),
        (12.3456, "12.35"),
        (3.0, "3"),
        (-0.0, "0"),
        (1234.5, "1234"),
        (5400.0, "5400"),
        (0.00001234, "1.234e-05"),
        (-0.0042, "-0.0042"),
    ],
)
def test_fmt(value: float, text: str) -> None:
    assert fmt(value) == text
