"""What to run next, shared by `next_experiments` and the phase summary's plan.

Candidates, in priority order: seed repeats of the best and the runner-up when the best's lead over the runner-up is
within the noise (which is better is not known, and everything after builds on it); a baseline when none is
declared; seed repeats of the current best when the noise is unknown; for each converging approach, one small
change from the current best continuing the direction of that approach's last gain (the same ratio for a positive
numeric key, else the same step); then untried single-change neighbours of the best (values other runs stored for
one key). When the history has stalled or every approach is plateaued, exhausted or abandoned, the pivot argument
adds a reframing / time-box suggestion ahead of more runs.
Each candidate's cost is the median `duration_s` of similar runs (its approach's last runs with a duration); the
top 3 that fit the run budget, the hours budget and the time left to the deadline are kept, the rest are dropped
with the reason.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from app.analysis.determinism import needs_seed
from app.analysis.model import Approach, BestLead, Findings, RunView
from app.analysis.options import NeighbourOption, StepOption
from app.compose.contract import DocContext
from app.compose.documents.chosen import latest_selection
from app.compose.documents.common import approach_by_run, gain
from app.compose.documents.listening import listen
from app.compose.documents.pivot import low_roi, pivot_of, reframe_why
from app.compose.documents.render import cite, cites
from app.compose.documents.schemas import (
    Cost,
    Evidence,
    LowRoi,
    ParamProposal,
    Pivot,
    PlanRequest,
    Suggestion,
)
from app.parsing.fmt import fmt, fmt_noise

TOP = 3
SIMILAR_RUNS = 20  # the cost estimate looks at this many of the most recent similar runs
SEED_REPEATS = 2


@dataclass(frozen=True)
class Plan:
    priorities: list[Suggestion]
    dropped: list[Suggestion]
    low_roi: list[LowRoi]
    pivot: Pivot
    more: list[Suggestion] = field(default_factory=list)
    target_met: bool | None = None


def make_plan(ctx: DocContext, findings: Findings, request: PlanRequest) -> Plan:
    met = target_met(findings, request)
    pivot = pivot_of(ctx, findings, target_met=bool(met))
    computed = list(_candidates(ctx, findings, pivot, met=bool(met), target=request.target))
    ranked, dropped = listen(ctx, findings, computed, cost=lambda base, runs: _cost(ctx, findings, base, runs=runs))
    kept, more, over = _fit(ranked, request)
    picked = latest_selection(ctx.entries)
    return Plan(kept, dropped + over, low_roi(findings, picked[0] if picked else None), pivot, more, met)


def target_met(findings: Findings, request: PlanRequest) -> bool | None:
    if request.target is None or findings.best_value is None:
        return None
    return gain(findings.best_value, request.target, findings.direction) >= 0


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


def _candidates(
    ctx: DocContext, findings: Findings, pivot: Pivot, *, met: bool, target: float | None = None
) -> Iterator[Suggestion]:
    lead = findings.best_lead
    runner = ctx.runs.get(lead.runner_up or "") if lead is not None and lead.beyond_noise is False else None
    best = ctx.runs.get(findings.best or "")
    if lead is not None and runner is not None and best is not None:
        yield _confirm_lead(ctx, findings, lead, best, runner)  # before anything is built on an unproven best
    if findings.baseline is None:
        yield _baseline(ctx, findings)
    if pivot.pivot and not met:
        yield _reframe(ctx, findings, pivot)
    if best is None:
        return
    if met:
        chosen = _chosen(ctx, findings)
        yield from harden(
            ctx, findings, chosen or best, repeats=runner is None, chosen=chosen is not None, target=target
        )
    elif findings.noise.source == "min_effect" and runner is None:
        yield _seed_repeats(ctx, findings, best)
    proposed: set[tuple[str, str]] = set()
    approaches = {a.name: a for a in findings.approaches}
    # a step whose own gain is within the noise is no direction to continue (it is listed as low return)
    unproven = {f.subject for f in findings.of_kind("within_noise")}
    for step in ctx.options.steps:
        if step.change in unproven:
            continue
        if (step.key, step.normalised) not in proposed:
            proposed.add((step.key, step.normalised))
            yield _continue(ctx, findings, approaches[step.approach], step)
    for option in ctx.options.neighbours:
        if (option.key, option.normalised) not in proposed:
            yield _neighbour(ctx, findings, best, option)


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


def _reframe(ctx: DocContext, findings: Findings, pivot: Pivot) -> Suggestion:
    title, why = reframe_why(ctx, findings)
    return Suggestion(
        rank=None,
        kind="reframe",
        title=title,
        why=why,
        cost=Cost(runs=0, seconds_per_run=None),
        evidence=pivot.evidence,
    )


def _chosen(ctx: DocContext, findings: Findings) -> RunView | None:
    """The run the latest selection decision chose, when it is stored and scored on the metric in force: hardening
    is about the model the team will hand over, not another run the metric happens to rank first."""
    picked = latest_selection(ctx.entries)
    run = ctx.runs.get(picked[0]) if picked else None
    return run if run is not None and run.key != findings.best and findings.metric in run.metrics else None


def harden(
    ctx: DocContext,
    findings: Findings,
    best: RunView,
    *,
    repeats: bool,
    chosen: bool = False,
    target: float | None = None,
) -> Iterator[Suggestion]:
    """Confirm-and-harden advice once the target is met, for the chosen model when a decision records one, else the
    best: repeats of it (new seeds, or new cross-validation folds for an estimator that is deterministic as
    configured; unless its configuration has seed repeats), a check on a held-out set (unless it records one), and a
    look at its errors."""
    group = next((g for g in findings.noise.groups if best.key in g.run_ids), None)
    value = best.metrics.get(findings.metric) if chosen else findings.best_value
    numbers = {findings.metric: value} if value is not None else {}
    who = "the chosen model" if chosen else "the best"
    met = f"The target is met by {cite(best.key)}"
    margin = gain(value, target, findings.direction) if value is not None and target is not None else None
    if margin is not None and 0 <= margin <= findings.noise.min_gain:
        # "meets the target" by less than a believable gain: a repeat may land on the other side of it
        met += f" by {fmt(margin)}, within the believable gain, so a repeat may fall short of it"
        numbers = numbers | {"target_margin": margin}
    if repeats:
        s = _seed_repeats(ctx, findings, best)
        believable = fmt_noise(findings.noise.min_gain)
        if needs_seed(best):
            title = f"Confirm {who} {cite(best.key)} with new seeds"
            why = (
                f"{met}; {SEED_REPEATS} more seeds of its configuration show whether "
                f"it holds beyond the luck of one seed (believable gain {believable})."
            )
        else:
            title = f"Confirm {who} {cite(best.key)} with repeated cross-validation"
            why = (
                f"{met}. It is deterministic as configured: new seeds would give the same score. Repeated k-fold "
                "cross-validation (new folds) shows whether it holds beyond the luck of one validation split "
                f"(believable gain {believable})."
            )
            s = s.model_copy(update={"changes": [], "cost": _cost(ctx, findings, best.key, runs=1)})
        s = s.model_copy(
            update={
                "kind": "harden",
                "title": title,
                "why": why,
                "evidence": Evidence(run_ids=[best.key], numbers=numbers),
            }
        )
        if needs_seed(best) and group is not None and len(group.run_ids) > SEED_REPEATS:
            runs = list(group.run_ids)
            s = s.model_copy(
                update={
                    "dropped_because": f"already tried: its configuration has {len(runs)} seeds{cites(runs)}",
                    "evidence": Evidence(run_ids=runs, numbers=numbers),
                }
            )
        yield s
    held = next((m for m in best.metrics if {"test", "holdout", "heldout", "oot"} & set(_words(m))), None)
    check = Suggestion(
        rank=None,
        kind="harden",
        title=f"Check {who} {cite(best.key)} on a held-out set",
        why=f"Every choice so far was made on {findings.metric}; a test split none of the runs tuned on (big "
        "enough to tell the believable gain from noise) shows whether the result carries over.",
        approach=_approach_name(findings, best.key),
        base=best.key,
        cost=Cost(runs=0, seconds_per_run=None),
        evidence=Evidence(run_ids=[best.key], numbers=numbers),
    )
    if held is not None:
        reason = f"already checked: {who} records {held} {fmt(best.metrics[held])}"
        check = check.model_copy(update={"dropped_because": reason})
    yield check
    yield Suggestion(
        rank=None,
        kind="harden",
        title=f"Look at the errors of {who} {cite(best.key)}",
        why="Where it is wrong (by class, segment or confidence) says whether the errors that remain are ones that "
        "matter, and what data or features would fix them.",
        approach=_approach_name(findings, best.key),
        base=best.key,
        cost=Cost(runs=0, seconds_per_run=None),
        evidence=Evidence(run_ids=[best.key], numbers=numbers),
    )


def _words(text: str) -> list[str]:
    return [w for w in "".join(c if c.isalnum() else " " for c in text.lower()).split()]


def _seed_repeats(ctx: DocContext, findings: Findings, best: RunView) -> Suggestion:
    key = ctx.options.seed_key
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


def _confirm_lead(ctx: DocContext, findings: Findings, lead: BestLead, best: RunView, runner: RunView) -> Suggestion:
    """Repeats of the best and the runner-up when the best's lead is within the noise: which is better is not known
    yet, and every later step would build on the answer. New seeds for an estimator that draws random numbers, new
    cross-validation folds for two that are deterministic as configured (new seeds would repeat their scores)."""
    key = ctx.options.seed_key
    sd = f"seed sd {fmt_noise(lead.seed_sd)}" if lead.seed_sd is not None else "the seed sd is unknown"
    numbers = {"lead": lead.lead, "believable_gain": lead.believable_gain}
    seeded = [run for run in (best, runner) if needs_seed(run)]
    gap = (
        f"The best run leads the runner-up by {fmt(lead.lead)}, within the believable gain "
        f"{fmt_noise(lead.believable_gain)} ({sd}), so which configuration is better is not known yet. "
    )
    if seeded:
        title = f"Repeat the top configurations {cite(best.key)} and {cite(runner.key)} with new seeds"
        how = (
            f"{SEED_REPEATS} more seeds of each (or repeated cross-validation of both) average out the seed and shrink"
        )
    else:
        title = f"Compare the top configurations {cite(best.key)} and {cite(runner.key)} with repeated cross-validation"
        how = (
            "Both are deterministic as configured, so new seeds would repeat their scores; repeated k-fold (new folds) "
            "shrinks"
        )
    return Suggestion(
        rank=None,
        kind="seed_repeats",
        title=title,
        why=gap + how + " the believable gain; settle this before tuning either further.",
        approach=_approach_name(findings, best.key),
        base=best.key,
        changes=[
            ParamProposal(
                param=key, current=run.params.get(key) or run.seed, proposed="new", rule="new_seed", base=run.key
            )
            for run in seeded
        ],
        cost=_cost(ctx, findings, best.key, runs=2 * SEED_REPEATS if seeded else 2),
        evidence=Evidence(run_ids=[best.key, runner.key], numbers=numbers),
    )


def _continue(ctx: DocContext, findings: Findings, approach: Approach, step: StepOption) -> Suggestion:
    key, closest, change = step.key, step.closest, step.change
    how = "step of the same ratio" if step.rule == "ratio" else "step of the same size"
    return Suggestion(
        rank=None,
        kind="continue",
        title=f"Continue {approach.name}: {key} {step.current} → {step.proposed} on {cite(step.base)}",
        why=f"{approach.name} is converging (its best-so-far rose {fmt(approach.recent_gain or 0.0)} over its last "
        f"runs); its last gain, {cite(change)}, changed {key} {step.before} → {step.after} against {cite(closest)}, "
        f"so the next {how} continues it.",
        approach=approach.name,
        base=step.base,
        changes=[
            ParamProposal(
                param=key,
                current=step.current,
                proposed=step.proposed,
                rule=step.rule,
                base=step.base,
                from_runs=[closest, change],
            )
        ],
        cost=_cost(ctx, findings, step.base, runs=1),
        evidence=Evidence(run_ids=[closest, change, step.base], numbers=_recent(approach)),
    )


def _recent(approach: Approach) -> dict[str, float]:
    return {"recent_gain": approach.recent_gain} if approach.recent_gain is not None else {}


def _neighbour(ctx: DocContext, findings: Findings, best: RunView, option: NeighbourOption) -> Suggestion:
    """A single change of the best to a value another run stored for the same key."""
    key, value, score = option.key, option.value, option.score
    return Suggestion(
        rank=None,
        kind="neighbour",
        title=f"Try {key} = {value} on the best {cite(best.key)}",
        why=f"Untried single change from the best: {cite(option.run)} ran {key} = {value} and scored "
        f"{findings.metric} {fmt(score)}, but never together with the best's other settings.",
        approach=_approach_name(findings, best.key),
        base=best.key,
        changes=[
            ParamProposal(
                param=key,
                current=option.current,
                proposed=value,
                rule="stored_value",
                base=best.key,
                from_runs=[option.run],
            )
        ],
        cost=_cost(ctx, findings, best.key, runs=1),
        evidence=Evidence(run_ids=[option.run, best.key], numbers={findings.metric: score}),
    )


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


def _fit(
    candidates: Sequence[Suggestion], request: PlanRequest
) -> tuple[list[Suggestion], list[Suggestion], list[Suggestion]]:
    """The top `TOP` that fit the budget and the deadline, the ranked rest that still fits after them, and what
    does not fit, with the reason."""
    kept: list[Suggestion] = []
    more: list[Suggestion] = []
    dropped: list[Suggestion] = []
    used_runs, used_s = 0, 0.0
    for candidate in candidates:
        need_s = (candidate.cost.seconds_per_run or 0.0) * candidate.cost.runs
        reason = _over(request, used_runs + candidate.cost.runs, used_s + need_s)
        if reason:
            dropped.append(candidate.model_copy(update={"dropped_because": reason}))
            continue
        rank = len(kept) + len(more) + 1
        if len(kept) < TOP:
            used_runs, used_s = used_runs + candidate.cost.runs, used_s + need_s
            kept.append(candidate.model_copy(update={"rank": rank}))
        else:
            more.append(candidate.model_copy(update={"rank": rank}))
    return kept, more, dropped


def _over(request: PlanRequest, runs: int, seconds: float) -> str:
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
