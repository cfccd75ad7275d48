"""The history as the analysis walks it: runs in order, each with its configuration, seed, session and value."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from app.analysis.configs import ClosestFinder, Items, ItemTable, normalise_value, seed_keys_of
from app.analysis.family import family_of
from app.analysis.metric import value_of
from app.analysis.model import AnalysisSettings, RunView

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Step:
    """One run in history order. `items` is its configuration (normalised, without seeds) as sorted item numbers of
    `table` (`config` spells it out); `signature` is equal for equal configurations (and only for them) within one
    history; `value` is the metric in force (None: not scored, because the run failed, was killed or lacks the
    metric); `closest` indexes the closest earlier step. A `nested_parent` is a sweep's parent run (another run names
    it in `parent_run_id`): it is never scored, never anyone's closest earlier configuration and has none itself, so
    a search's space and a copy of its best child's metric are neither a result nor a change."""

    index: int
    run: RunView
    key: str  # the run's key
    items: tuple[int, ...]  # shared by the steps of one configuration
    table: ItemTable
    signature: int
    seed: str | None
    session: date | None
    family: str | None
    value: float | None
    closest: int | None
    nested_parent: bool = False

    @property
    def config(self) -> dict[str, str]:
        """The configuration as a dict, built on each call (in item order)."""
        return self.table.config(self.items)


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
    never equal a run's), which keeps them out of every other run's closest earlier configuration; both finders
    share one `Items`, so every step's items compare with every other's."""
    parents = nested_parents(runs)
    numbering = Items(settings.seed_keys)
    finder, parent_finder = ClosestFinder(numbering), ClosestFinder(numbering)
    of_params, numbered, table = numbering.of_params, numbering.numbered, numbering.table
    at: list[int] = []  # the finder's index -> the step's
    steps = []
    for i, run in enumerate(history_order(runs)):
        known = len(numbered)
        items = of_params(run.params)
        family = family_of(run)
        seed, session = _seed(run, settings), session_of(run)
        if (run.run_id or run.key) in parents:
            signature = -1 - parent_finder.add_items(items, family, known)[1]
            ordered = parent_finder.ids[-1]
            steps.append(Step(i, run, run.key, ordered, table, signature, seed, session, family, None, None, True))
            continue
        found, signature = finder.add_items(items, family, known)
        closest = at[found] if found is not None else None
        at.append(i)
        value = value_of(run, metric)
        steps.append(Step(i, run, run.key, finder.ids[-1], table, at[signature], seed, session, family, value, closest))
    return steps


def nested_parents(runs: Sequence[RunView]) -> frozenset[str]:
    """The run IDs (or keys) of the runs another run of the history names as its parent (`mlflow.parentRunId`)."""
    named = {run.parent_run_id for run in runs if run.parent_run_id}
    return frozenset(ident for run in runs if (ident := run.run_id or run.key) in named)


def _seed(run: RunView, settings: AnalysisSettings) -> str | None:
    """`seed_of`, reading the seed keys only for a run without a `seed` field."""
    if run.seed and (value := normalise_value(run.seed)):
        return value
    return seed_of(run, seed_keys_of(run.params, settings))


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
