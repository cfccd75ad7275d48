"""What to run next, shared by `next_experiments` and the phase summary's plan.

Candidates, in priority order: a baseline when none is declared; seed repeats of the current best when the noise is
unknown; for each converging approach, one small change from the current best continuing the direction of that
approach's last gain (the same ratio for a positive numeric key, else the same step); then untried single-change
neighbours of the best (values other runs stored for one key). When the history has stalled or every approach is
plateaued, exhausted or abandoned, the pivot argument adds a reframing / time-box suggestion ahead of more runs.
Each candidate's cost is the median `duration_s` of similar runs (its approach's last runs with a duration); the
top 3 that fit the run budget, the hours budget and the time left to the deadline are kept, the rest are dropped
with the reason.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from app.analysis.approaches import family_of
from app.analysis.configs import normalise_config, normalise_value, seed_keys_of
from app.analysis.model import AnalysisSettings, Approach, Findings, RunChange, RunView
from app.compose.contract import DocContext
from app.compose.documents.common import approach_by_run, value_of
from app.compose.documents.pivot import low_roi, pivot_of
from app.compose.documents.render import cite
from app.compose.documents.schemas import (
    ChangeRule,
    Cost,
    Evidence,
    LowRoi,
    ParamProposal,
    Pivot,
    PlanRequest,
    Suggestion,
)
from app.parsing.fmt import fmt

TOP = 3
SIMILAR_RUNS = 20  # the cost estimate looks at this many of the most recent similar runs
NEIGHBOURS = 3
SEED_REPEATS = 2
_SETTINGS = AnalysisSettings()
# Keys naming the model itself: changing one is a new approach, not a small change of the best.
FAMILY_KEYS = frozenset(
    {"model", "model_type", "model_name", "estimator", "algorithm", "family", "arch", "architecture"}
)


@dataclass(frozen=True)
class Plan:
    priorities: list[Suggestion]
    dropped: list[Suggestion]
    low_roi: list[LowRoi]
    pivot: Pivot


def make_plan(ctx: DocContext, findings: Findings, request: PlanRequest) -> Plan:
    pivot = pivot_of(findings)
    candidates = list(_candidates(ctx, findings, pivot))
    kept, dropped = _fit(candidates, request)
    return Plan(kept, dropped, low_roi(findings), pivot)


def plan_request(
    ctx: DocContext,
    *,
    target: float | None,
    deadline: date | None,
    budget_runs: int | None,
    budget_hours: float | None,
) -> PlanRequest:
    deadline = deadline or ctx.deadline
    return PlanRequest(
        target=target if target is not None else ctx.target_value,
        deadline=deadline,
        budget_runs=budget_runs,
        budget_hours=budget_hours,
        days_left=(deadline - ctx.today).days if deadline else None,
    )


# -- the candidates ----------------------------------------------------------------------------------------------------


def _candidates(ctx: DocContext, findings: Findings, pivot: Pivot) -> Iterator[Suggestion]:
    if findings.baseline is None:
        yield _baseline(ctx, findings)
    if pivot.pivot:
        yield _reframe(pivot)
    best = ctx.runs.get(findings.best or "")
    if best is None:
        return
    if findings.noise.source == "min_effect":
        yield _seed_repeats(ctx, findings, best)
    seen = seen_configs(ctx.runs)
    proposed: set[tuple[str, str]] = set()
    converging = [a for a in findings.approaches if a.status == "converging"]
    for approach in sorted(converging, key=lambda a: -(a.recent_gain or 0.0)):
        suggestion = _continue(ctx, findings, approach, best, seen)
        if suggestion is not None and _change_id(suggestion) not in proposed:
            proposed.add(_change_id(suggestion))
            yield suggestion
    for suggestion in _neighbours(ctx, findings, best, seen):
        if _change_id(suggestion) not in proposed:
            yield suggestion


def _change_id(s: Suggestion) -> tuple[str, str]:
    change = s.changes[0]
    return change.param, normalise_value(change.proposed)


def _baseline(ctx: DocContext, findings: Findings) -> Suggestion:
    why = next((f.message for f in findings.of_kind("missing_baseline")), "No baseline run is declared.")
    return Suggestion(
        rank=None,
        kind="baseline",
        title="Run a simple baseline first",
        why=f"{why} Every gain is judged against it, so it comes before any tuning.",
        cost=_cost(ctx, findings, None, runs=1),
        evidence=Evidence(),
    )


def _reframe(pivot: Pivot) -> Suggestion:
    return Suggestion(
        rank=None,
        kind="reframe",
        title="Reframe the problem or time-box the current line",
        why=pivot.argument,
        cost=Cost(runs=0, seconds_per_run=None),
        evidence=pivot.evidence,
    )


def _seed_repeats(ctx: DocContext, findings: Findings, best: RunView) -> Suggestion:
    seeds = sorted(seed_keys_of(best.params, _SETTINGS))
    key = seeds[0] if seeds else "seed"
    value = findings.best_value
    return Suggestion(
        rank=None,
        kind="seed_repeats",
        title=f"Repeat the current best {cite(best.key)} with new seeds",
        why="The noise is unknown (no runs differ only in seed), so no gain can be told from luck yet; "
        f"{SEED_REPEATS} more seeds give, with the best itself, {SEED_REPEATS + 1} runs for a first estimate.",
        approach=_approach_name(findings, best.key),
        base=best.key,
        changes=[
            ParamProposal(
                param=key, current=best.params.get(key) or best.seed, proposed="new", rule="new_seed", base=best.key
            )
        ],
        cost=_cost(ctx, findings, best.key, runs=SEED_REPEATS),
        evidence=Evidence(run_ids=[best.key], numbers={findings.metric: value} if value is not None else {}),
    )


def _continue(ctx: DocContext, findings: Findings, approach: Approach, best: RunView, seen: Seen) -> Suggestion | None:
    step = _last_gain(findings, approach)
    if step is None:
        return None
    change = step
    for before, after, key in _numeric_changes(ctx, change):
        base = best if _number(best.params.get(key)) is not None else ctx.runs[change.key]
        proposed = next_value(base.params[key], before, after)
        if proposed is None or _already_run(seen, base, key, proposed):
            continue
        rule: ChangeRule = "ratio" if _ratio_ok(before, after) else "step"
        closest = change.closest or ""
        return Suggestion(
            rank=None,
            kind="continue",
            title=f"Continue {approach.name}: {key} {base.params[key]} → {proposed} on {cite(base.key)}",
            why=f"{approach.name} is converging (its best-so-far rose {fmt(approach.recent_gain or 0.0)} over its last "
            f"runs); its last gain, {cite(change.key)}, changed {key} {before} → {after} against {cite(closest)}, "
            f"so the next {'step of the same ratio' if rule == 'ratio' else 'step of the same size'} continues it.",
            approach=approach.name,
            base=base.key,
            changes=[
                ParamProposal(
                    param=key,
                    current=base.params[key],
                    proposed=proposed,
                    rule=rule,
                    base=base.key,
                    from_runs=[closest, change.key],
                )
            ],
            cost=_cost(ctx, findings, base.key, runs=1),
            evidence=Evidence(run_ids=[closest, change.key, base.key], numbers=_recent(approach)),
        )
    return None


def _recent(approach: Approach) -> dict[str, float]:
    return {"recent_gain": approach.recent_gain} if approach.recent_gain is not None else {}


def _last_gain(findings: Findings, approach: Approach) -> RunChange | None:
    """The change of the approach's last run that raised its best-so-far, when it names its closest earlier run."""
    steps = approach.best_so_far
    for i in range(len(steps) - 1, 0, -1):
        if steps[i][1] != steps[i - 1][1]:
            change = findings.changes.get(steps[i][0])
            return change if change is not None and change.closest else None
    return None


def _numeric_changes(ctx: DocContext, change: RunChange) -> Iterator[tuple[str, str, str]]:
    run = ctx.runs.get(change.key)
    seeds = seed_keys_of(run.params, _SETTINGS) if run else frozenset()
    for c in change.vs_closest:
        if c.key not in seeds and _number(c.before) is not None and _number(c.after) is not None:
            yield c.before or "", c.after or "", c.key


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


def _ratio_ok(before: str, after: str) -> bool:
    b, a = _number(before), _number(after)
    return b is not None and a is not None and b > 0 and a > 0


def _neighbours(ctx: DocContext, findings: Findings, best: RunView, seen: Seen) -> Iterator[Suggestion]:
    """Single changes of the best to a value another run stored for the same key, best-scoring values first."""
    seeds = seed_keys_of(best.params, _SETTINGS)
    options: list[tuple[float, str, str, RunView]] = []
    for key, current in best.params.items():
        if key in seeds or key.strip().lower() in FAMILY_KEYS:
            continue
        for value, run, score in _stored_alternatives(ctx, findings, key, current, family=family_of(best)):
            if not _already_run(seen, best, key, value):
                options.append((score, key, value, run))
    sign = 1.0 if findings.direction == "max" else -1.0
    options.sort(key=lambda o: -sign * o[0])
    for score, key, value, run in options[:NEIGHBOURS]:
        yield Suggestion(
            rank=None,
            kind="neighbour",
            title=f"Try {key} = {value} on the best {cite(best.key)}",
            why=f"Untried single change from the best: {cite(run.key)} ran {key} = {value} and scored "
            f"{findings.metric} {fmt(score)}, but never together with the best's other settings.",
            approach=_approach_name(findings, best.key),
            base=best.key,
            changes=[
                ParamProposal(
                    param=key,
                    current=best.params[key],
                    proposed=value,
                    rule="stored_value",
                    base=best.key,
                    from_runs=[run.key],
                )
            ],
            cost=_cost(ctx, findings, best.key, runs=1),
            evidence=Evidence(run_ids=[run.key, best.key], numbers={findings.metric: score}),
        )


def _stored_alternatives(
    ctx: DocContext, findings: Findings, key: str, current: str, *, family: str | None
) -> Iterator[tuple[str, RunView, float]]:
    """Each other value stored for `key` by a run of the same model family (another family's `max_iter` or `C`
    means something else), with the best-scoring run that has it and its score."""
    best_by_value: dict[str, tuple[str, RunView, float]] = {}
    for run in ctx.runs.values():
        if family is not None and family_of(run) != family:
            continue
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


Seen = frozenset[frozenset[tuple[str, str]]]


def seen_configs(runs: Mapping[str, RunView]) -> Seen:
    """Every run's normalised configuration (seeds left out), computed once per plan."""
    return frozenset(_config(r.params) for r in runs.values())


def _config(params: Mapping[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset(normalise_config(params, seed_keys_of(params, _SETTINGS)).items())


def _already_run(seen: Seen, base: RunView, key: str, value: str) -> bool:
    return _config({**base.params, key: value}) in seen


# -- cost, budget and deadline -----------------------------------------------------------------------------------------


def _cost(ctx: DocContext, findings: Findings, base: str | None, *, runs: int) -> Cost:
    approach = approach_by_run(findings).get(base or "")
    keys = approach.run_ids if approach else findings.run_order or tuple(ctx.runs)
    timed = [k for k in keys if k in ctx.runs and ctx.runs[k].duration_s is not None][-SIMILAR_RUNS:]
    if not timed:
        return Cost(runs=runs, seconds_per_run=None)
    return Cost(runs=runs, seconds_per_run=median_duration(ctx.runs, timed), from_runs=timed)


def median_duration(runs: Mapping[str, RunView], keys: Sequence[str]) -> float:
    return float(statistics.median(runs[k].duration_s or 0.0 for k in keys))


def _fit(candidates: Sequence[Suggestion], request: PlanRequest) -> tuple[list[Suggestion], list[Suggestion]]:
    kept: list[Suggestion] = []
    dropped: list[Suggestion] = []
    used_runs, used_s = 0, 0.0
    for candidate in candidates:
        need_s = (candidate.cost.seconds_per_run or 0.0) * candidate.cost.runs
        reason = _over(request, len(kept), used_runs + candidate.cost.runs, used_s + need_s)
        if reason:
            dropped.append(candidate.model_copy(update={"dropped_because": reason}))
            continue
        used_runs, used_s = used_runs + candidate.cost.runs, used_s + need_s
        kept.append(candidate.model_copy(update={"rank": len(kept) + 1}))
    return kept, dropped


def _over(request: PlanRequest, n_kept: int, runs: int, seconds: float) -> str:
    if n_kept >= TOP:
        return f"below the top {TOP}"
    if request.budget_runs is not None and runs > request.budget_runs:
        return f"over the budget of {request.budget_runs} runs"
    if request.budget_hours is not None and seconds / 3600 > request.budget_hours:
        return f"over the budget of {fmt(request.budget_hours)} hours at the estimated cost"
    if request.days_left is not None and request.days_left < 0:
        return "the deadline has passed"
    if request.days_left is not None and seconds > (request.days_left + 1) * 86400:
        return f"does not fit in the {request.days_left} days left before the deadline at the estimated cost"
    return ""


# -- small helpers -----------------------------------------------------------------------------------------------------


def _approach_name(findings: Findings, key: str) -> str | None:
    approach = approach_by_run(findings).get(key)
    return approach.name if approach else None


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text.strip())
    except ValueError:
        return None


def _is_int(text: str) -> bool:
    return text.strip().lstrip("+-").isdigit()
