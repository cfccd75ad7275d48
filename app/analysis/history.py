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
    was killed or lacks the metric); `closest` indexes the closest earlier step. A `nested_parent` is a sweep's parent
    run (another run names it in `parent_run_id`): it is never scored, never anyone's closest earlier configuration and
    has none itself, so a search's space and a copy of its best child's metric are neither a result nor a change."""

    index: int
    run: RunView
    config: dict[str, str]
    signature: int
    seed: str | None
    session: date | None
    family: str | None
    value: float | None
    closest: int | None
    nested_parent: bool = False

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
    """The runs in history order. Nested parents get their signatures from a finder of their own (negated, so they
    never equal a run's), which keeps them out of every other run's closest earlier configuration."""
    parents = nested_parents(runs)
    finder, parent_finder = ClosestFinder(), ClosestFinder()
    at: list[int] = []  # the finder's index -> the step's
    steps = []
    for i, run in enumerate(history_order(runs)):
        seed_keys = seed_keys_of(run.params, settings)
        config = normalise_config(run.params, seed_keys)
        family = family_of(run)
        seed, session = seed_of(run, seed_keys), session_of(run)
        if (run.run_id or run.key) in parents:
            signature = -1 - parent_finder.add(config.items(), family)[1]
            steps.append(Step(i, run, config, signature, seed, session, family, None, None, nested_parent=True))
            continue
        found, signature = finder.add(config.items(), family)
        closest = at[found] if found is not None else None
        at.append(i)
        if signature != len(at) - 1 and list(first := steps[at[signature]].config) == list(config):
            config = first  # the same configuration, keys in the same order: one dict for its runs
        steps.append(Step(i, run, config, at[signature], seed, session, family, value_of(run, metric), closest))
    return steps


def nested_parents(runs: Sequence[RunView]) -> frozenset[str]:
    """The run IDs (or keys) of the runs another run of the history names as its parent (`mlflow.parentRunId`)."""
    named = {run.parent_run_id for run in runs if run.parent_run_id}
    return frozenset(ident for run in runs if (ident := run.run_id or run.key) in named)


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
