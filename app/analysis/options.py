"""What a next run could change, read from the stored configurations (see docs/definitions.md, "Next steps").

Two kinds of option, both single changes of a stored run:
- a *step* continues a converging approach: its last gain changed one numeric key from `before` to `after`, and the
  step applies the same ratio (both positive) or the same difference to the best run's value (or, when the best has
  no such number, to the run that made the gain). Integer keys stay integers.
- a *neighbour* changes one key of the best run to a value another run of the same model family stored for it,
  best-scoring values first (another family's `max_iter` or `C` means something else).

Seeds and the keys naming the model are never changed, and a change whose configuration (seeds left out, values
normalised) was already run is no option. The documents rank and phrase these; they compute none of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from app.analysis.configs import normalise_config, normalise_value, seed_keys_of
from app.analysis.family import family_of
from app.analysis.metric import value_of
from app.analysis.model import AnalysisSettings, Approach, Findings, RunChange, RunView
from app.parsing.agent import CHANGE_PARAM
from app.parsing.fmt import fmt

NEIGHBOURS = 3
# Keys naming the model itself: changing one is a new approach, not a small change of the best.
MODEL_KEYS = frozenset(
    {"model", "model_type", "model_name", "estimator", "algorithm", "family", "arch", "architecture"}
)

StepRule = Literal["ratio", "step"]


@dataclass(frozen=True, slots=True)
class StepOption:
    """One step continuing `approach`: `key` on run `base` from `current` to `proposed`, as run `change` moved it
    from `before` to `after` against its closest earlier configuration `closest`."""

    approach: str
    key: str
    base: str
    current: str
    proposed: str
    rule: StepRule
    before: str
    after: str
    change: str
    closest: str
    normalised: str  # `proposed` in comparable form


@dataclass(frozen=True, slots=True)
class NeighbourOption:
    """`key` of the best run from `current` to `value`, which run `run` stored and scored `score` with."""

    key: str
    current: str
    value: str
    run: str
    score: float
    normalised: str  # `value` in comparable form


@dataclass(frozen=True, slots=True)
class NextOptions:
    """The options for the next run: `seed_key` names the best run's seed parameter ("seed" when it records
    none), `steps` one per converging approach (fastest-rising first), `neighbours` the best-scoring few."""

    seed_key: str = "seed"
    steps: tuple[StepOption, ...] = ()
    neighbours: tuple[NeighbourOption, ...] = ()


def next_options(runs: Mapping[str, RunView], findings: Findings, settings: AnalysisSettings) -> NextOptions:
    best = runs.get(findings.best or "")
    if best is None:
        return NextOptions()
    seen = _Seen(runs, settings)
    seeds = sorted(seed_keys_of(best.params, settings))
    converging = sorted(
        (a for a in findings.approaches if a.status == "converging"), key=lambda a: -(a.recent_gain or 0.0)
    )
    steps = (_step(runs, findings, a, best, seen, settings) for a in converging)
    return NextOptions(
        seed_key=seeds[0] if seeds else "seed",
        steps=tuple(s for s in steps if s is not None),
        neighbours=tuple(_neighbours(runs, findings, best, seen, settings)),
    )


def next_value(current: str, before: str, after: str) -> str | None:
    """`current` moved on by the step from `before` to `after`: the same ratio when both are positive, else the same
    difference. Integer keys stay integers. None when there is no step or no number."""
    c, b, a = _number(current), _number(before), _number(after)
    if c is None or b is None or a is None or a == b:
        return None
    value = c * (a / b) if _ratio_ok(before, after) else c + (a - b)
    if all(_is_int(text) for text in (current, before, after)):
        rounded = round(value)
        return str(rounded) if rounded != int(c) else None
    return fmt(value)


# -- steps -------------------------------------------------------------------------------------------------------------


def _step(
    runs: Mapping[str, RunView],
    findings: Findings,
    approach: Approach,
    best: RunView,
    seen: _Seen,
    settings: AnalysisSettings,
) -> StepOption | None:
    change = _last_gain(findings, approach)
    if change is None:
        return None
    for before, after, key in _numeric_changes(runs, change, settings):
        base = best if _number(best.params.get(key)) is not None else runs[change.key]
        proposed = next_value(base.params[key], before, after)
        if proposed is None or seen.has(base, key, proposed):
            continue
        rule: StepRule = "ratio" if _ratio_ok(before, after) else "step"
        current = base.params[key]
        closest = change.closest or ""
        return StepOption(
            approach.name,
            key,
            base.key,
            current,
            proposed,
            rule,
            before,
            after,
            change.key,
            closest,
            normalise_value(proposed),
        )
    return None


def _last_gain(findings: Findings, approach: Approach) -> RunChange | None:
    """The change of the approach's last run that raised its best-so-far, when it names its closest earlier run."""
    steps = approach.best_so_far
    for i in range(len(steps) - 1, 0, -1):
        if steps[i][1] != steps[i - 1][1]:
            change = findings.changes.get(steps[i][0])
            return change if change is not None and change.closest else None
    return None


def _numeric_changes(
    runs: Mapping[str, RunView], change: RunChange, settings: AnalysisSettings
) -> Iterator[tuple[str, str, str]]:
    run = runs.get(change.key)
    seeds = seed_keys_of(run.params, settings) if run else frozenset()
    for c in change.vs_closest:
        if c.key not in seeds and _number(c.before) is not None and _number(c.after) is not None:
            yield c.before or "", c.after or "", c.key


def _ratio_ok(before: str, after: str) -> bool:
    b, a = _number(before), _number(after)
    return b is not None and a is not None and b > 0 and a > 0


# -- neighbours --------------------------------------------------------------------------------------------------------


def _neighbours(
    runs: Mapping[str, RunView], findings: Findings, best: RunView, seen: _Seen, settings: AnalysisSettings
) -> list[NeighbourOption]:
    """Single changes of the best to a value another run stored for the same key, best-scoring values first."""
    seeds = seed_keys_of(best.params, settings)
    family = family_of(best)
    # the runs of the best's family, read once for every key of the best
    kin = {k: run for k, run in runs.items() if family is None or family_of(run) == family}
    # The audit has judged these values already: a collapse, a change tried again (both tries), one that may not
    # have taken effect. Proposing them again would contradict "what to tell the agent next".
    judged = {f.subject for f in findings.of_kind("collapse")} | {
        f.subject for f in findings.of_kind("unchanged_metric")
    }
    judged |= {key for f in findings.of_kind("tried_again") for key in f.run_ids}
    options: list[NeighbourOption] = []
    for key, current in best.params.items():
        if key in seeds or key.strip().lower() in MODEL_KEYS or (key == CHANGE_PARAM and "change" in best.tags):
            continue  # an agent log's `change` is a description in words, not a setting to move
        for value, run, score in _stored_alternatives(kin, findings, key, current):
            if run.key in judged:
                continue
            if not seen.has(best, key, value):
                options.append(NeighbourOption(key, current, value, run.key, score, normalise_value(value)))
    sign = 1.0 if findings.direction == "max" else -1.0
    options.sort(key=lambda o: -sign * o.score)
    return options[:NEIGHBOURS]


def _stored_alternatives(
    runs: Mapping[str, RunView], findings: Findings, key: str, current: str
) -> Iterator[tuple[str, RunView, float]]:
    """Each other value stored for `key` by one of `runs` (those of the best's model family), with the best-scoring
    run that has it and its score."""
    best_by_value: dict[str, tuple[str, RunView, float]] = {}
    for run in runs.values():
        raw = run.params.get(key)
        score = value_of(run, findings.metric)
        if raw is None or score is None or normalise_value(raw) in ("", normalise_value(current)):
            continue
        norm = normalise_value(raw)
        held = best_by_value.get(norm)
        better = held is None or (score > held[2] if findings.direction == "max" else score < held[2])
        if better:
            best_by_value[norm] = (raw, run, score)
    yield from best_by_value.values()


# -- configurations already run ----------------------------------------------------------------------------------------


class _Seen:
    """Every run's normalised configuration (seeds left out), computed once."""

    def __init__(self, runs: Mapping[str, RunView], settings: AnalysisSettings) -> None:
        self._settings = settings
        self._configs = frozenset(self._config(r.params) for r in runs.values())

    def has(self, base: RunView, key: str, value: str) -> bool:
        return self._config({**base.params, key: value}) in self._configs

    def _config(self, params: Mapping[str, str]) -> frozenset[tuple[str, str]]:
        return frozenset(normalise_config(params, seed_keys_of(params, self._settings)).items())


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text.strip())
    except ValueError:
        return None


def _is_int(text: str) -> bool:
    return text.strip().lstrip("+-").isdigit()
