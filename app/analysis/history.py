"""The history as the analysis walks it: runs in order, each with its configuration, seed, session and value."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from app.analysis.configs import ClosestFinder, normalise_config, normalise_value, seed_keys_of
from app.analysis.family import family_of
from app.analysis.metric import value_of
from app.analysis.model import AnalysisSettings, RunView

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Step:
    """One run in history order. `config` is normalised without seeds; `signature` is equal for equal configurations
    (and only for them) within one history; `value` is the metric in force (None: not scored, because the run failed,
    was killed or lacks the metric); `closest` indexes the closest earlier step."""

    index: int
    run: RunView
    config: dict[str, str]
    signature: int
    seed: str | None
    session: date | None
    family: str | None
    value: float | None
    closest: int | None

    @property
    def key(self) -> str:
        return self.run.key


def history_order(runs: Sequence[RunView]) -> list[RunView]:
    """Runs by time; runs without a time after those with one; ties keep the given order."""
    indexed = sorted(enumerate(runs), key=lambda pair: (pair[1].when is None, _instant(pair[1].when), pair[0]))
    return [run for _, run in indexed]


def _instant(when: datetime | None) -> float:
    """Seconds since the epoch; a naive time is read as UTC so naive and aware times sort together."""
    if when is None:
        return 0.0
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return (aware - _EPOCH).total_seconds()


def build_history(runs: Sequence[RunView], metric: str, settings: AnalysisSettings) -> list[Step]:
    finder = ClosestFinder()
    steps = []
    for i, run in enumerate(history_order(runs)):
        seed_keys = seed_keys_of(run.params, settings)
        config = normalise_config(run.params, seed_keys)
        family = family_of(run)
        closest, signature = finder.add(config.items(), family)
        seed, session, value = seed_of(run, seed_keys), session_of(run), value_of(run, metric)
        steps.append(Step(i, run, config, signature, seed, session, family, value, closest))
    return steps


def seed_of(run: RunView, seed_keys: frozenset[str]) -> str | None:
    """The run's seed, normalised: its `seed` field, else the first seed parameter (by key); None when unset."""
    if value := normalise_value(run.seed or ""):
        return value
    for key in sorted(seed_keys):
        if value := normalise_value(run.params[key]):
            return value
    return None


def session_of(run: RunView) -> date | None:
    """The calendar day a run belongs to: its session, else the day of its time."""
    if run.session is not None:
        return run.session
    return run.when.date() if run.when is not None else None
