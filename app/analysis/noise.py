"""Seed noise: how much the metric in force moves when only the seed changes, and which gains are believable.

Runs with the same configuration (seeds removed) and at least two distinct seeds form a group; the **seed sd** is
the pooled sample standard deviation over the groups (ddof=1). One rule says which gains are believable
(docs/definitions.md, "The believable gain"): a gain of side a over side b, each the mean of `n` seed repeats (one
run: n = 1), is believable when it exceeds

    believable_gain(n_a, n_b) = Z x seed sd x sqrt(1/n_a + 1/n_b),  Z = 1.645 (one-sided, 5 %)

and, without seed repeats, when it exceeds the configured minimum effect. Statuses, stalls and within-noise flags
compare two single runs, so they all use `Noise.min_gain = believable_gain(1, 1)`; the best run's lead over the
runner-up compares configuration means and uses the repeats behind each.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Literal

from app.analysis.history import Step
from app.analysis.metric import BEATS, gain
from app.analysis.model import AnalysisSettings, BestLead, Direction, Finding, Noise, SeedGroup
from app.parsing.fmt import fmt, fmt_noise

Z = 1.645  # the one-sided 5 % point of the normal distribution
SUGGESTED_REPEATS = 3


def estimate_noise(steps: Sequence[Step], settings: AnalysisSettings) -> Noise:
    groups = seed_groups(steps)
    if not groups:
        return Noise("min_effect", None, settings.min_effect)
    dof = sum(len(g.run_ids) - 1 for g in groups)
    pooled = math.sqrt(math.fsum((len(g.run_ids) - 1) * g.std**2 for g in groups) / dof)
    return Noise("seed_repeats", pooled, _believable(pooled, 1, 1), tuple(groups))


def believable_gain(noise: Noise, n_a: int = 1, n_b: int = 1) -> float:
    """The smallest believable gain between two sides averaging `n_a` and `n_b` seed repeats: Z x sd x
    sqrt(1/n_a + 1/n_b) with seed repeats, else the minimum effect whatever the repeats."""
    if noise.source == "seed_repeats" and noise.std is not None:
        return _believable(noise.std, n_a, n_b)
    return noise.min_gain


def _believable(sd: float, n_a: int, n_b: int) -> float:
    return Z * sd * math.sqrt(1 / n_a + 1 / n_b)


def seed_groups(steps: Sequence[Step]) -> list[SeedGroup]:
    """Scored runs sharing a configuration, one run per distinct seed (the first), where there are two seeds or more."""
    repeated = _repeated(steps)
    by_config: dict[int, dict[str, Step]] = {}
    for step in steps:
        if step.value is not None and step.seed is not None and step.signature in repeated:
            if (seeds := by_config.get(step.signature)) is None:
                seeds = by_config[step.signature] = {}
            seeds.setdefault(step.seed, step)
    groups = []
    for members in by_config.values():
        if len(members) >= 2:
            values = [s.value for s in members.values() if s.value is not None]
            mean = math.fsum(values) / len(values)
            std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))
            groups.append(SeedGroup(tuple(s.key for s in members.values()), mean, std))
    return groups


def _repeated(steps: Sequence[Step]) -> set[int]:
    """Signatures of the configurations more than one run has (most have one run, which needs no group)."""
    counts = Counter(step.signature for step in steps)
    return {signature for signature, n in counts.items() if n > 1}


def noise_finding(noise: Noise, metric: str, best: Step | None) -> Finding:
    if noise.source == "seed_repeats" and noise.std is not None:
        return _seed_noise(noise, metric)
    advice = f"Repeat the current best run ({best.key})" if best is not None else "Repeat a representative run"
    return Finding(
        "noise_unknown",
        f"No runs differ only in seed, so the seed sd of {metric} is unknown; the configured minimum effect "
        f"{fmt(noise.min_gain)} stands in as the believable gain. {advice} with {SUGGESTED_REPEATS} or more seeds to "
        "measure it.",
        run_ids=(best.key,) if best is not None else (),
        numbers={
            "min_effect": noise.min_gain,
            "believable_gain": noise.min_gain,
            "suggested_repeats": SUGGESTED_REPEATS,
        },
        subject=best.key if best is not None else None,
    )


def _seed_noise(noise: Noise, metric: str) -> Finding:
    assert noise.std is not None
    largest = max(noise.groups, key=lambda g: len(g.run_ids))  # the first of the largest
    runs = tuple(key for g in noise.groups for key in g.run_ids)
    return Finding(
        "seed_noise",
        f"{len(runs)} runs in {len(noise.groups)} group(s) differ only in seed: the seed sd (pooled standard "
        f"deviation) of {metric} is {fmt(noise.std)} (largest group: {len(largest.run_ids)} runs, mean "
        f"{fmt(largest.mean)}, std {fmt(largest.std)}). The believable gain of one run over another is "
        f"{fmt(noise.min_gain)} ({fmt(Z)} x seed sd x sqrt(2)); means over more seeds need less.",
        run_ids=runs,
        numbers={
            "n_runs": len(runs),
            "n_groups": len(noise.groups),
            "std": noise.std,
            "seed_sd": noise.std,
            "group_runs": len(largest.run_ids),
            "mean": largest.mean,
            "group_std": largest.std,
            "min_gain": noise.min_gain,
            "believable_gain": noise.min_gain,
            "z": Z,
        },
    )


def comparable(a: Step, b: Step, approach_of: Mapping[str, str]) -> bool:
    """Two runs a gain may be read between: the same approach, or the same model family."""
    same_approach = approach_of.get(a.key) is not None and approach_of.get(a.key) == approach_of.get(b.key)
    return same_approach or (a.family is not None and a.family == b.family)


def within_noise_findings(
    steps: Sequence[Step],
    noise: Noise,
    direction: Direction,
    metric: str,
    approach_of: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Scored runs better than a comparable reference by a positive gain no larger than the believable gain of one
    run over another. The reference is the closest earlier configuration when it is scored and comparable (the same
    approach or model family), else the best comparable run before it. Repeats of the same configuration are not
    claims of improvement and are skipped."""
    approach_of = approach_of or {}
    bound = f"{fmt_noise(noise.min_gain)} ({_sd_words(noise)})"  # the same in every finding: written once
    found: list[Finding] = []
    by_approach: dict[str, Step] = {}  # the best scored run so far of each approach, and of each model family
    by_family: dict[str, Step] = {}
    for step in steps:
        if step.value is None:
            continue
        closest = steps[step.closest] if step.closest is not None else None
        if closest is None or closest.signature != step.signature:
            is_closest = closest is not None and closest.value is not None and comparable(step, closest, approach_of)
            reference = (
                closest if is_closest else _best_comparable(step, by_approach, by_family, approach_of, direction)
            )
            if reference is not None and reference.value is not None:
                g = gain(step.value, reference.value, direction)
                if 0 < g <= noise.min_gain:
                    found.append(_within(step, reference, g, noise, metric, is_closest, bound))
        name = approach_of.get(step.key)
        if name is not None:
            by_approach[name] = _better(step, by_approach.get(name), direction)
        if step.family is not None:
            by_family[step.family] = _better(step, by_family.get(step.family), direction)
    return found


def _best_comparable(
    step: Step,
    by_approach: Mapping[str, Step],
    by_family: Mapping[str, Step],
    approach_of: Mapping[str, str],
    direction: Direction,
) -> Step | None:
    """The best earlier run of the step's approach or model family; on a tie, the earlier of the two."""
    name = approach_of.get(step.key)
    candidates = [
        c
        for c in (by_approach.get(name) if name is not None else None, by_family.get(step.family or ""))
        if c is not None
    ]
    best: Step | None = None
    for candidate in sorted(candidates, key=lambda c: c.index):
        best = _better(candidate, best, direction)
    return best


def _better(step: Step, best: Step | None, direction: Direction) -> Step:
    if best is None or best.value is None or step.value is None or BEATS[direction](step.value, best.value):
        return step
    return best


def _within(step: Step, ref: Step, g: float, noise: Noise, metric: str, is_closest: bool, bound: str) -> Finding:
    assert step.value is not None and ref.value is not None
    what = "its closest earlier configuration" if is_closest else "the best comparable run before it"
    numbers = {"value": step.value, "reference_value": ref.value, "gain": g, "believable_gain": noise.min_gain}
    return Finding(
        "within_noise",
        f"Run {step.key} beat {what}, {ref.key}, on {metric} by {fmt(g)} ({fmt(step.value)} vs {fmt(ref.value)}), "
        f"no more than the believable gain {bound}: "
        "not a believable improvement.",
        run_ids=(step.key, ref.key),
        numbers=numbers | ({"seed_sd": noise.std} if noise.std is not None else {}),
        subject=step.key,
    )


def _sd_words(noise: Noise) -> str:
    if noise.source == "seed_repeats" and noise.std is not None:
        return f"seed sd {fmt_noise(noise.std)}"
    return "seed sd unknown, the configured minimum effect"


# -- is the best really the best? --------------------------------------------------------------------------------------


def find_best_lead(
    steps: Sequence[Step],
    best: Step | None,
    noise: Noise,
    direction: Direction,
    approach_of: Mapping[str, str],
    baseline: str | None,
) -> BestLead | None:
    """The best run's lead over the runner-up: the best run of another approach (leaving out the approach that holds
    only the baseline), else of another configuration. Each side is its configuration's mean over its seed repeats
    (a single run: its value, n = 1), and the lead is beyond the noise when it exceeds `believable_gain(n_a, n_b)`.
    None without a best or a runner-up."""
    if best is None or best.value is None:
        return None
    scored = [s for s in steps if s.value is not None and s.key != best.key]
    members: dict[str, set[str]] = {}
    for key, name in approach_of.items():
        members.setdefault(name, set()).add(key)
    own = approach_of.get(best.key)
    others = [
        s
        for s in scored
        if (other := approach_of.get(s.key)) is not None
        and other != own
        and not (baseline is not None and members[other] <= {baseline})
    ]
    source: Literal["approach", "configuration"] = "approach"
    runner = _first_best(others, direction)
    if runner is None:
        source, runner = "configuration", _first_best([s for s in scored if s.signature != best.signature], direction)
    if runner is None or runner.value is None:
        return None
    (best_mean, n_best), (runner_mean, n_runner) = _side(best, noise), _side(runner, noise)
    lead = gain(best_mean, runner_mean, direction)
    needed = believable_gain(noise, n_best, n_runner)
    return BestLead(
        best=best.key,
        runner_up=runner.key,
        runner_up_source=source,
        runner_up_approach=approach_of.get(runner.key),
        best_mean=best_mean,
        runner_up_mean=runner_mean,
        n_best=n_best,
        n_runner_up=n_runner,
        lead=lead,
        believable_gain=needed,
        seed_sd=noise.std,
        beyond_noise=lead > needed,
    )


def _first_best(steps: Sequence[Step], direction: Direction) -> Step | None:
    best: Step | None = None
    for step in steps:
        best = _better(step, best, direction)
    return best


def _side(step: Step, noise: Noise) -> tuple[float, int]:
    """A run's configuration as one side of a comparison: the mean of its seed group and the group's size, or the
    run's own value and 1."""
    assert step.value is not None
    group = next((g for g in noise.groups if step.key in g.run_ids), None)
    return (group.mean, len(group.run_ids)) if group is not None else (step.value, 1)


def lead_words(lead: BestLead, metric: str) -> tuple[str, dict[str, float]]:
    """Whether the best run's lead over the runner-up is beyond the noise, in a sentence, with the numbers it
    states (the `current_best` finding carries both)."""
    if lead.runner_up_source == "approach":
        whose = f"the best of approach {lead.runner_up_approach}"
    else:
        whose = "the best run of another configuration"
    sides = f"{_side_words(lead.best_mean, lead.n_best)} vs {_side_words(lead.runner_up_mean, lead.n_runner_up)}"
    if lead.seed_sd is not None:
        sd = f"seed sd {fmt_noise(lead.seed_sd)}"
    else:
        sd = "seed sd unknown, the configured minimum effect"
    verdict = "beyond the noise" if lead.beyond_noise else "within the noise, so the best is not shown to be the best"
    text = (
        f"Its lead over the runner-up {lead.runner_up} ({whose}) is {fmt(lead.lead)} ({sides}), against a "
        f"believable gain of {fmt_noise(lead.believable_gain)} for these sides ({sd}): {verdict}."
    )
    numbers = {
        "lead": lead.lead,
        "best_mean": lead.best_mean,
        "runner_up_mean": lead.runner_up_mean,
        "n_best": lead.n_best,
        "n_runner_up": lead.n_runner_up,
        "lead_believable_gain": lead.believable_gain,
    }
    if lead.seed_sd is not None:
        numbers["seed_sd"] = lead.seed_sd
    return text, numbers


def _side_words(mean: float, n: int) -> str:
    return f"{fmt(mean)}, the mean of {n} seeds" if n > 1 else fmt(mean)
