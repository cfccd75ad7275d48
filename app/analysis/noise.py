"""Seed noise: how much the metric in force moves when only the seed changes, and which "improvements" are smaller.

Runs with the same configuration (seeds removed) and at least two distinct seeds form a group; the noise is the
pooled sample standard deviation over the groups (ddof=1), and the smallest gain worth believing is twice that.
Without such groups the noise is unknown and the configured minimum effect stands in for both.

Two thresholds follow from one estimate: approach statuses and stalls use `status_threshold` (the seed std, or the
minimum effect), while a single run's gain over its closest configuration must exceed `min_gain` (2 x std, or the
minimum effect) to count as more than noise.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from app.analysis.history import Step
from app.analysis.metric import gain
from app.analysis.model import AnalysisSettings, Direction, Finding, Noise, SeedGroup
from app.parsing.fmt import fmt

NOISE_FACTOR = 2.0  # min_gain = NOISE_FACTOR x pooled seed std
SUGGESTED_REPEATS = 3


def estimate_noise(steps: Sequence[Step], settings: AnalysisSettings) -> Noise:
    groups = seed_groups(steps)
    if not groups:
        return Noise("min_effect", None, settings.min_effect)
    dof = sum(len(g.run_ids) - 1 for g in groups)
    pooled = math.sqrt(math.fsum((len(g.run_ids) - 1) * g.std**2 for g in groups) / dof)
    return Noise("seed_repeats", pooled, NOISE_FACTOR * pooled, tuple(groups))


def status_threshold(noise: Noise) -> float:
    """The threshold for approach statuses and stalls: the pooled seed std where repeats exist, else the minimum
    effect (which is then also `min_gain`)."""
    return noise.std if noise.source == "seed_repeats" and noise.std is not None else noise.min_gain


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
        f"No runs differ only in seed, so the noise on {metric} is unknown; the configured minimum effect "
        f"{fmt(noise.min_gain)} stands in for it. {advice} with {SUGGESTED_REPEATS} or more seeds to measure it.",
        run_ids=(best.key,) if best is not None else (),
        numbers={"min_effect": noise.min_gain, "suggested_repeats": SUGGESTED_REPEATS},
        subject=best.key if best is not None else None,
    )


def _seed_noise(noise: Noise, metric: str) -> Finding:
    assert noise.std is not None
    largest = max(noise.groups, key=lambda g: len(g.run_ids))  # the first of the largest
    runs = tuple(key for g in noise.groups for key in g.run_ids)
    return Finding(
        "seed_noise",
        f"{len(runs)} runs in {len(noise.groups)} group(s) differ only in seed: the pooled standard deviation of "
        f"{metric} is {fmt(noise.std)} (largest group: {len(largest.run_ids)} runs, mean {fmt(largest.mean)}, "
        f"std {fmt(largest.std)}). A gain must exceed {fmt(noise.min_gain)} ({fmt(NOISE_FACTOR)} x std) to be "
        "believed.",
        run_ids=runs,
        numbers={
            "n_runs": len(runs),
            "n_groups": len(noise.groups),
            "std": noise.std,
            "group_runs": len(largest.run_ids),
            "mean": largest.mean,
            "group_std": largest.std,
            "min_gain": noise.min_gain,
            "factor": NOISE_FACTOR,
        },
    )


def within_noise_findings(steps: Sequence[Step], noise: Noise, direction: Direction, metric: str) -> list[Finding]:
    """Scored runs better than their closest earlier configuration (or, without a scored one, the best before them)
    by a positive gain no larger than `noise.min_gain`. Repeats of the same configuration are not claims of
    improvement and are skipped."""
    found: list[Finding] = []
    best: Step | None = None
    for step in steps:
        if step.value is None:
            continue
        closest = steps[step.closest] if step.closest is not None else None
        if closest is not None and closest.signature == step.signature:
            best = _better(step, best, direction)
            continue
        reference = closest if closest is not None and closest.value is not None else best
        if reference is not None and reference.value is not None:
            g = gain(step.value, reference.value, direction)
            if 0 < g <= noise.min_gain:
                found.append(_within(step, reference, g, noise, metric, reference is closest))
        best = _better(step, best, direction)
    return found


def _better(step: Step, best: Step | None, direction: Direction) -> Step:
    if best is None or best.value is None or step.value is None or gain(step.value, best.value, direction) > 0:
        return step
    return best


def _within(step: Step, ref: Step, g: float, noise: Noise, metric: str, is_closest: bool) -> Finding:
    assert step.value is not None and ref.value is not None
    what = "its closest earlier configuration" if is_closest else "the best run before it"
    return Finding(
        "within_noise",
        f"Run {step.key} beat {what}, {ref.key}, on {metric} by {fmt(g)} ({fmt(step.value)} vs {fmt(ref.value)}), "
        f"no more than the noise threshold {fmt(noise.min_gain)}: not a believable improvement.",
        run_ids=(step.key, ref.key),
        numbers={"value": step.value, "reference_value": ref.value, "gain": g, "min_gain": noise.min_gain},
        subject=step.key,
    )
