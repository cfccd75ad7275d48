"""Best-so-far per approach, approach statuses, and stalls, all on the metric in force.

`threshold` is the believable gain of one run over another (`Noise.min_gain`: 1.645 x seed sd x sqrt(2) where
seed repeats exist, else the minimum effect), the rule every gain is read by (docs/definitions.md):
- exhausted: no run of the approach beats the reference by more than the believable gain;
- converging: it does, and its best-so-far rose by more than the believable gain over its last `recent_runs` runs;
- plateaued: it does, but its best-so-far rose by no more than the believable gain over those runs;
- active: fewer than `recent_runs + 1` scored runs, too few to judge a trend.
The reference is the baseline, or without a scored baseline the first scored run of the whole history (the reason
says which). A person's mark overrides the reported status; the computed one is kept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.analysis.approaches import assign_approaches
from app.analysis.history import Step
from app.analysis.metric import BEATS, gain
from app.analysis.model import (
    Approach,
    ApproachMark,
    ApproachSource,
    ApproachStatus,
    Direction,
    Finding,
)
from app.parsing.fmt import fmt, fmt_noise

_SOURCE_RANK: dict[ApproachSource, int] = {"override": 0, "tag": 1, "inferred": 2}


@dataclass(frozen=True, slots=True)
class Judge:
    """What an approach is judged with."""

    metric: str
    direction: Direction
    threshold: float  # the believable gain of one run over another
    recent_runs: int
    reference: Step | None  # the baseline when scored, else the first scored run
    reference_is_baseline: bool
    seed_sd: float | None = None  # the pooled seed sd the believable gain comes from; None without seed repeats


def best_so_far(steps: Sequence[Step], direction: Direction) -> list[tuple[str, float]]:
    """(run key, best value so far) after each scored step; the best changes only on a strict improvement."""
    out: list[tuple[str, float]] = []
    beats = BEATS[direction]
    for step in steps:
        if step.value is None:
            continue
        if not out or beats(step.value, out[-1][1]):
            out.append((step.key, step.value))
        else:
            out.append(out[-1])
    return out


def summarise_approaches(
    steps: Sequence[Step],
    judge: Judge,
    overrides: Mapping[str, str],
    marks: Mapping[str, ApproachMark],
    baseline: str | None,
) -> list[Approach]:
    members: dict[str, list[tuple[Step, ApproachSource]]] = {}
    for step, (name, source, _) in zip(steps, assign_approaches(steps, overrides, baseline), strict=True):
        members.setdefault(name, []).append((step, source))
    return [_approach(name, runs, judge, marks.get(name)) for name, runs in members.items()]


def _approach(
    name: str, runs: Sequence[tuple[Step, ApproachSource]], judge: Judge, mark: ApproachMark | None
) -> Approach:
    steps = [step for step, _ in runs]
    curve = best_so_far(steps, judge.direction)
    status, reason, _ = judge_approach(curve, judge)
    best = curve[-1] if curve else None
    ref = judge.reference
    return Approach(
        name=name,
        source=min((source for _, source in runs), key=_SOURCE_RANK.__getitem__),
        run_ids=tuple(step.key for step in steps),
        status=mark.status if mark is not None else status,
        computed_status=status,
        reason=mark.reason if mark is not None else reason,
        best=best[0] if best else None,
        best_value=best[1] if best else None,
        gain_vs_baseline=gain(best[1], ref.value, judge.direction) if best and ref and ref.value is not None else None,
        recent_gain=_recent_gain(curve, judge),
        best_so_far=tuple(curve),
        family=_family(steps),
        changed_keys=_varied_keys([step for step in steps if not step.nested_parent]),  # a search's keys are not swept
        mark=mark,
    )


def _family(steps: Sequence[Step]) -> str | None:
    """The runs' most common family; a sweep's parent (whose `algo` names a search, not a model) counts only when
    the approach holds nothing else."""
    results = [step for step in steps if not step.nested_parent] or steps
    return Counter(step.family for step in results).most_common(1)[0][0]


def _recent_gain(curve: Sequence[tuple[str, float]], judge: Judge) -> float | None:
    if len(curve) < judge.recent_runs + 1:
        return None
    return gain(curve[-1][1], curve[-1 - judge.recent_runs][1], judge.direction)


def _varied_keys(steps: Sequence[Step]) -> tuple[str, ...]:
    """Parameters (seeds aside) whose values differ between the approach's runs (a run lacking one differs from
    those that have it): what it swept."""
    if not steps:
        return ()
    table = steps[0].table
    configs = {id(step.items): step.items for step in steps}.values()  # one per configuration: steps share them
    every = set().union(*configs)  # the items any run has
    same = every.intersection(*configs)  # the items every run has
    return tuple(sorted(set(map(table.keys.__getitem__, every)) - set(map(table.keys.__getitem__, same))))


def versus_baseline(g: float) -> dict[str, float]:
    """A gain over the baseline as a number a person reads without a sign: `gain_vs_baseline` when the line is
    ahead or level, else `shortfall_vs_baseline`, how far behind it is."""
    return {"gain_vs_baseline": g} if g >= 0 else {"shortfall_vs_baseline": -g}


def _gain_words(g: float, against: str) -> str:
    return f"a gain of {fmt(g)} over {against}" if g >= 0 else f"{fmt(-g)} worse than {against}"


def judge_approach(curve: Sequence[tuple[str, float]], judge: Judge) -> tuple[ApproachStatus, str, dict[str, float]]:
    """The computed status, the reason in words, and the numbers the reason states."""
    if not curve:
        return "active", f"no run of it has a {judge.metric} value yet", {}
    n, (best_key, best_value), ref = len(curve), curve[-1], judge.reference
    assert ref is not None and ref.value is not None  # a scored run exists, so a reference does
    g = gain(best_value, ref.value, judge.direction)
    numbers: dict[str, float] = {"n_runs": n, "best_value": best_value, "believable_gain": judge.threshold}
    numbers |= {"seed_sd": judge.seed_sd} if judge.seed_sd is not None else {}
    numbers |= {"reference_value": ref.value, **versus_baseline(g), "recent_runs": judge.recent_runs}
    head = f"best {judge.metric} {fmt(best_value)} (run {best_key}) over {n} scored run{'' if n == 1 else 's'}"
    against = (
        f"the baseline {ref.key} ({fmt(ref.value)})"
        if judge.reference_is_baseline
        else f"the first scored run {ref.key} ({fmt(ref.value)}), as no scored baseline exists"
    )
    if n < judge.recent_runs + 1:
        numbers["needed"] = judge.recent_runs + 1
        why = f"too few to judge a trend ({judge.recent_runs + 1} scored runs needed)"
        return "active", f"{head}, {_gain_words(g, against)}: {why}", numbers
    recent = numbers["recent_gain"] = gain(best_value, curve[-1 - judge.recent_runs][1], judge.direction)
    thr = f"the believable gain {fmt_noise(judge.threshold)} ({_sd_words(judge)})"
    if g < 0:
        return "exhausted", f"{head} is {_gain_words(g, against)}: no gain over it", numbers
    if g <= judge.threshold:
        return "exhausted", f"{head} is {_gain_words(g, against)}, not more than {thr}", numbers
    if recent > judge.threshold:
        trend = f"its best-so-far rose by {fmt(recent)} over its last {judge.recent_runs} runs"
        return "converging", f"{head} beats {against} by {fmt(g)}, more than {thr}, and {trend}", numbers
    trend = (
        f"its best-so-far rose only {fmt(recent)} over its last {judge.recent_runs} runs, within that gain"
        if recent > 0
        else f"its best-so-far has not risen over its last {judge.recent_runs} runs"
    )
    return "plateaued", f"{head} beats {against} by {fmt(g)}, more than {thr}, but {trend}", numbers


def approach_finding(approach: Approach, judge: Judge) -> Finding:
    curve = list(approach.best_so_far)
    _, reason, numbers = judge_approach(curve, judge)
    if approach.mark is not None:
        by = f" by {approach.mark.by}" if approach.mark.by else ""
        text = (
            f"Approach {approach.name} is marked {approach.mark.status}{by}: {approach.mark.reason}. "
            f"Computed status: {approach.computed_status}; {reason}."
        )
    else:
        text = f"Approach {approach.name} is {approach.status}: {reason}."
    lead = [approach.best, judge.reference.key if judge.reference and "reference_value" in numbers else None]
    run_ids = tuple(dict.fromkeys(key for key in (*lead, *approach.run_ids) if key is not None))
    return Finding("approach_status", text, run_ids, numbers, subject=approach.name)


def find_stall(steps: Sequence[Step], judge: Judge, sessions: int) -> Finding | None:
    """A stall: at least `sessions + 1` sessions with scored runs, and the best-so-far rose by no more than the
    believable gain over the last `sessions` of them."""
    scored = [s for s in steps if s.value is not None and s.session is not None]
    days = sorted({s.session for s in scored if s.session is not None})
    if sessions < 1 or len(days) < sessions + 1:
        return None
    window = days[-sessions:]
    before = best_so_far([s for s in scored if s.session is not None and s.session < window[0]], judge.direction)
    after = best_so_far(scored, judge.direction)
    (before_key, before_value), (best_key, best_value) = before[-1], after[-1]
    rise = gain(best_value, before_value, judge.direction)
    if rise > judge.threshold:
        return None
    recent = [s.key for s in scored if s.session is not None and s.session >= window[0]]
    return Finding(
        "stall",
        f"No gain beyond noise on {judge.metric} over the last {sessions} sessions ({window[0].isoformat()} to "
        f"{window[-1].isoformat()}, {len(recent)} runs): the best rose by {fmt(rise)}, from {fmt(before_value)} "
        f"(run {before_key}) to {fmt(best_value)} (run {best_key}), not more than the believable gain "
        f"{fmt(judge.threshold)} ({_sd_words(judge)}). More runs of the same kind are unlikely to change that: "
        "reframe the problem (the features, the data, the target or the metric), or set a time box for the current "
        "approaches and stop them when it ends; any further runs should be ones that can show a gain above the noise.",
        run_ids=tuple(dict.fromkeys([best_key, before_key, *recent])),
        numbers={
            "sessions": sessions,
            "runs": len(recent),
            "rise": rise,
            "best_before_value": before_value,
            "best_value": best_value,
            "believable_gain": judge.threshold,
        }
        | ({"seed_sd": judge.seed_sd} if judge.seed_sd is not None else {}),
        severity="warning",
    )


def _sd_words(judge: Judge) -> str:
    return f"seed sd {fmt_noise(judge.seed_sd)}" if judge.seed_sd is not None else "the configured minimum effect"
