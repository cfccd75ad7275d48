"""The audit of a history, above all of a research agent's result log: the failures an experiment loop piles up.

An agent (or a person in a hurry) keeps changes that did not beat the best, keeps seed changes as progress, tries
the same change again, and logs changes that never took effect. Each rule holds for any history, in history order,
on the metric in force; each finding names its runs and numbers (docs/definitions.md, "Agent result logs").

A run's *reference* is its closest earlier configuration when that run is scored, else the previous scored run. The
*running best* is the best of the scored earlier runs kept (tag `status` = keep), or of all scored earlier runs when
the history has no keep verdicts.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from app.analysis.configs import normalise_value
from app.analysis.history import Step
from app.analysis.metric import gain
from app.analysis.model import Direction, Finding, Noise, RunView
from app.parsing.agent import KEEP_WORDS, change_words, read_change
from app.parsing.fmt import fmt, fmt_noise

__all__ = ["COLLAPSE_STEPS", "audit_findings", "is_kept", "typical_step"]

COLLAPSE_STEPS = 10  # a collapse is worse than its reference by at least this many typical steps


def typical_step(scored: Sequence[Step]) -> float | None:
    """The median of the non-zero absolute differences between consecutive scored runs' values; None without any."""
    moves = [
        abs(b.value - a.value)
        for a, b in zip(scored, scored[1:], strict=False)
        if a.value is not None and b.value is not None and b.value != a.value
    ]
    return statistics.median(moves) if moves else None


def is_kept(run: RunView) -> bool:
    """The run's verdict is `keep` (tag `status`, as a research agent's log writes it)."""
    return (run.tags.get("status") or "").strip().lower() in KEEP_WORDS


def kept(step: Step) -> bool:
    return is_kept(step.run)


def audit_findings(steps: Sequence[Step], noise: Noise, direction: Direction, metric: str) -> list[Finding]:
    """Every audit finding, in history order: unchanged_metric, tried_again, keep_not_best, keep_within_noise,
    collapse and seed_only_progress."""
    runs = [s for s in steps if not s.nested_parent]
    scored = [s for s in runs if s.value is not None]
    typical = typical_step(scored)
    keeps = [kept(s) for s in runs]  # each run's verdict, read once
    has_keeps = any(keep and s.value is not None for s, keep in zip(runs, keeps, strict=True))
    found: list[Finding] = []
    tried = _TriedBefore()
    previous: Step | None = None
    running: Step | None = None  # the running best
    for step, keep in zip(runs, keeps, strict=True):
        again = tried.earlier(step)
        if again is not None:
            found.append(_tried_again(step, again, metric))
        if step.value is None:
            continue
        closest = steps[step.closest] if step.closest is not None else None
        reference = closest if closest is not None and closest.value is not None else previous
        found += _unchanged(step, reference, previous, metric)
        if reference is not None and typical is not None:
            collapse = _collapse(step, reference, typical, noise, direction, metric)
            if collapse is not None:
                found.append(collapse)
        counts = keep if has_keeps else True
        beats = running is None or gain(step.value, _value(running), direction) > 0
        if has_keeps and keep and running is not None:
            found += _keep(step, running, noise, direction, metric)
        if keep and closest is not None and closest.signature == step.signature and closest.seed != step.seed:
            found.append(_seed_only(step, closest, metric))
        if counts and beats:
            running = step
        previous = step
    return found


def _value(step: Step) -> float:
    assert step.value is not None
    return step.value


class _TriedBefore:
    """The first run of each change: by its description's words and by its `key=value` assignments."""

    def __init__(self) -> None:
        self._by_words: dict[str, Step] = {}
        self._by_assignments: dict[frozenset[tuple[str, str]], Step] = {}

    def earlier(self, step: Step) -> Step | None:
        description = (step.run.tags.get("change") or "").strip()
        if not description:
            return None
        words = change_words(description)
        assignments, said = read_change(description)
        assigned = (
            frozenset((key, normalise_value(value)) for key, value in assignments.items())
            if assignments and said is None
            else None
        )
        earlier = self._by_words.get(words) if words else None
        if earlier is None and assigned is not None:
            earlier = self._by_assignments.get(assigned)
        if words:
            self._by_words.setdefault(words, step)
        if assigned is not None:
            self._by_assignments.setdefault(assigned, step)
        return earlier


def _result(step: Step, metric: str) -> str:
    return f"{metric} {fmt(step.value)}" if step.value is not None else "no result (it failed)"


def _tried_again(step: Step, earlier: Step, metric: str) -> Finding:
    earlier_change = earlier.run.tags.get("change", "").strip()
    numbers = {"earlier_value": earlier.value} if earlier.value is not None else {}
    if step.value is not None:
        numbers["value"] = step.value
    return Finding(
        "tried_again",
        f'Run {step.key} tried a change again: {earlier.key} tried "{earlier_change}" before, with '
        f"{_result(earlier, metric)}; this time {_result(step, metric)}.",
        run_ids=(step.key, earlier.key),
        numbers=numbers,
        subject=step.key,
        severity="warning",
    )


def _unchanged(step: Step, reference: Step | None, previous: Step | None, metric: str) -> list[Finding]:
    others = [reference] if reference is previous else [reference, previous]
    for other in (s for s in others if s is not None):
        if other.value == step.value and (other.signature != step.signature or other.seed != step.seed):
            if other is reference:
                what, why = "its closest earlier configuration", "the change may not have taken effect"
            else:  # not the state it built on: the run before it, often a discarded sibling
                what = "the run before it"
                why = "the result may be that run's read again (a stale log) or the change may not have taken effect"
            return [
                Finding(
                    "unchanged_metric",
                    f"Run {step.key} has exactly the {metric} of {what}, {other.key} ({fmt(_value(step))}), though "
                    f"its change differs: {why}.",
                    run_ids=(step.key, other.key),
                    numbers={"value": _value(step)},
                    subject=step.key,
                    severity="warning",
                )
            ]
    return []


def _collapse(
    step: Step, reference: Step, typical: float, noise: Noise, direction: Direction, metric: str
) -> Finding | None:
    loss = -gain(_value(step), _value(reference), direction)
    if loss < COLLAPSE_STEPS * typical or loss <= noise.min_gain:
        return None
    return Finding(
        "collapse",
        f"Run {step.key} collapsed: {metric} {fmt(_value(step))} against {fmt(_value(reference))} for {reference.key}, "
        f"{fmt(loss)} worse, {loss / typical:.0f} times the typical step between runs ({fmt(typical)}). "
        "Whatever it changed broke the model; do not retry it as it was.",
        run_ids=(step.key, reference.key),
        numbers={"value": _value(step), "reference_value": _value(reference), "loss": loss, "typical_step": typical},
        subject=step.key,
        severity="warning",
    )


def _keep(step: Step, running: Step, noise: Noise, direction: Direction, metric: str) -> list[Finding]:
    g = gain(_value(step), _value(running), direction)
    numbers = {"value": _value(step), "running_best": _value(running), "gain": g}
    if g <= 0:
        traded = _trade_offs(step.run, running.run, metric)
        why = f"; it has {' and '.join(traded)}: a trade-off, if that was the reason" if traded else ""
        return [
            Finding(
                "keep_not_best",
                f"Run {step.key} was kept with {metric} {fmt(_value(step))}, which does not beat the running best "
                f"{fmt(_value(running))} ({running.key}){why}.",
                run_ids=(step.key, running.key),
                numbers=numbers,
                subject=step.key,
                severity="warning",
            )
        ]
    if g <= noise.min_gain:
        return [
            Finding(
                "keep_within_noise",
                f"Run {step.key} was kept for beating the running best {fmt(_value(running))} ({running.key}) by "
                f"{fmt(g)} on {metric}, no more than the believable gain {fmt_noise(noise.min_gain)}: not a "
                "believable improvement.",
                run_ids=(step.key, running.key),
                numbers=numbers | {"believable_gain": noise.min_gain},
                subject=step.key,
                severity="warning",
            )
        ]
    return []


_COST_PARTS = frozenset("memory mem vram gb mb runtime duration latency time seconds sec secs params size".split())
_SPEED_PARTS = ("per_sec", "per_s", "throughput", "tok_s", "sps", "fps", "mfu")


def _trade_offs(run: RunView, best: RunView, metric: str) -> list[str]:
    """What a run kept without beating the best does better on the log's other columns: less memory or time, more
    throughput ("lower memory_gb (49.8 vs 52.3)"), from the stored values of both runs."""
    found = []
    pairs = [
        (name, run.metrics[name], best.metrics[name]) for name in run.metrics if name != metric and name in best.metrics
    ]
    if run.duration_s is not None and best.duration_s is not None:
        pairs.append(("duration (s)", run.duration_s, best.duration_s))
    for name, mine, theirs in pairs:
        lowered = name.lower()
        if any(part in lowered for part in _SPEED_PARTS):
            if mine > theirs:
                found.append(f"higher {name} ({fmt(mine)} vs {fmt(theirs)})")
        elif _COST_PARTS.intersection(lowered.replace("(", " ").replace(")", " ").replace("_", " ").split()):
            if mine < theirs:
                found.append(f"lower {name} ({fmt(mine)} vs {fmt(theirs)})")
    return found


def _seed_only(step: Step, closest: Step, metric: str) -> Finding:
    numbers = {"value": _value(step)}
    if closest.value is not None:
        numbers["reference_value"] = closest.value
    return Finding(
        "seed_only_progress",
        f"Run {step.key} was kept with {metric} {fmt(_value(step))}, yet only its seed differs from {closest.key} "
        f"({_result(closest, metric)}): a seed is not an improvement.",
        run_ids=(step.key, closest.key),
        numbers=numbers,
        subject=step.key,
        severity="warning",
    )
