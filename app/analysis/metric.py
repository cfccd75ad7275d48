"""The metric in force and how values compare on it."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from datetime import date

from app.analysis.model import UNSCORED_STATUSES, Direction, MetricSwitch, RunView

__all__ = ["UNSCORED_STATUSES", "gain", "metric_in_force", "value_of"]


def metric_in_force(
    primary: str, direction: Direction, switches: Sequence[MetricSwitch], on: date | None = None
) -> tuple[str, Direction]:
    """The metric of the latest switch effective on or before `on` (any switch when `on` is None), else `primary`.
    Switches on the same day apply in the order given."""
    current: MetricSwitch | None = None
    for switch in switches:
        if on is not None and switch.effective > on:
            continue
        if current is None or switch.effective >= current.effective:
            current = switch
    return (current.metric, current.direction) if current is not None else (primary, direction)


# Whether `a` beats `b`, `gain(a, b, direction) > 0`, as one comparison: for floats a - b > 0 is a > b (the
# difference of two floats is 0 only when they are equal).
BEATS: dict[Direction, Callable[[float, float], bool]] = {"max": operator.gt, "min": operator.lt}


def gain(a: float, b: float, direction: Direction) -> float:
    """How much better `a` is than `b`: positive when `a` is better, whichever way the metric points."""
    return a - b if direction == "max" else b - a


def value_of(run: RunView, metric: str) -> float | None:
    """The run's value on `metric`, or None when the run failed, was killed, or has no finite value for it."""
    return run.score(metric)
