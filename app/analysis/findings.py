"""`analyze`: every finding about a history, on the metric in force, in one deterministic pass.

History order is by run time (runs without one last, ties in the given order). Failed or killed runs, and runs
without the metric in force, keep their place for configurations, duplicates and reproduction gaps but are not
scored. The metric in force is the latest recorded switch's (switches are recorded when they happen, so the project's
primary metric already names it), else the project's original metric.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.analysis.audit import audit_findings
from app.analysis.baseline import baseline_finding, find_baseline, missing_baseline_finding
from app.analysis.changes import duplicate_findings, find_duplicates, multi_change_findings, run_changes
from app.analysis.history import Step, build_history
from app.analysis.metric import gain, metric_in_force, value_of
from app.analysis.model import AnalysisInput, BestLead, Direction, Finding, Findings, MetricSwitch
from app.analysis.noise import estimate_noise, find_best_lead, lead_words, noise_finding, within_noise_findings
from app.analysis.progress import Judge, approach_finding, find_stall, summarise_approaches
from app.analysis.repro import project_gap_finding, repro_gap_finding, repro_gaps
from app.parsing.fmt import fmt


def analyze(inp: AnalysisInput) -> Findings:
    switches = tuple(sorted(inp.metric_switches, key=lambda s: s.effective))  # stable: same-day order kept
    metric, direction = metric_in_force(inp.primary_metric, inp.direction, switches)
    steps = build_history(inp.runs, metric, inp.settings)
    baseline = find_baseline(steps, inp.declared_baselines)
    scored = [s for s in steps if s.value is not None]
    best = best_step(scored, direction)
    noise = estimate_noise(steps, inp.settings)
    reference = baseline if baseline is not None and baseline.value is not None else (scored[0] if scored else None)
    judge = Judge(
        metric, direction, noise.min_gain, inp.settings.recent_runs, reference, reference is baseline, noise.std
    )
    approaches = summarise_approaches(
        steps, judge, inp.approach_overrides, inp.approach_marks, baseline.key if baseline is not None else None
    )
    changes = run_changes(steps, baseline)
    duplicates = find_duplicates(steps)
    gaps, project_gaps = repro_gaps(steps)
    stall = find_stall(steps, judge, inp.settings.stall_sessions)
    approach_of = {key: a.name for a in approaches for key in a.run_ids}
    lead = find_best_lead(steps, best, noise, direction, approach_of, baseline.key if baseline is not None else None)

    findings: list[Finding] = _switch_findings(inp, switches, steps)
    if baseline is not None:
        findings.append(baseline_finding(baseline, metric, inp.declared_baselines))
    else:
        findings.append(missing_baseline_finding(scored[0] if scored else None, metric))
    if best is not None:
        findings.append(_current_best(best, baseline, metric, direction, lead))
    findings.append(noise_finding(noise, metric, best))
    findings += [approach_finding(a, judge) for a in approaches]
    findings += [stall] if stall is not None else []
    findings += within_noise_findings(steps, noise, direction, metric, approach_of)
    findings += multi_change_findings(steps)
    findings += duplicate_findings(duplicates)
    findings += audit_findings(steps, noise, direction, metric)
    findings += [project_gap_finding(gap) for gap in project_gaps]
    findings += [repro_gap_finding(gap) for gap in gaps]
    return Findings(
        metric=metric,
        direction=direction,
        metric_switches=switches,
        baseline=baseline.key if baseline is not None else None,
        baseline_value=baseline.value if baseline is not None else None,
        best=best.key if best is not None else None,
        best_value=best.value if best is not None else None,
        noise=noise,
        changes=changes,
        approaches=tuple(approaches),
        duplicates=tuple(duplicates),
        repro_gaps=tuple(gaps),
        stalled=stall is not None,
        findings=tuple(findings),
        run_order=tuple(s.key for s in steps),
        nested_parents=tuple(s.key for s in steps if s.nested_parent),
        best_lead=lead,
        project_gaps=tuple(project_gaps),
    )


def best_step(scored: Sequence[Step], direction: Direction) -> Step | None:
    """The first run reaching the best value."""
    best: Step | None = None
    for step in scored:
        if best is None or (
            step.value is not None and best.value is not None and gain(step.value, best.value, direction) > 0
        ):
            best = step
    return best


def _current_best(
    best: Step, baseline: Step | None, metric: str, direction: Direction, lead: BestLead | None
) -> Finding:
    assert best.value is not None
    way = "higher" if direction == "max" else "lower"
    text = f"The best run on {metric} ({way} is better) is {best.key}, with {fmt(best.value)}"
    numbers = {"best_value": best.value}
    run_ids = [best.key]
    if baseline is best:
        text += ", the baseline itself"
    elif baseline is not None and baseline.value is not None:
        g = gain(best.value, baseline.value, direction)
        numbers |= {"baseline_value": baseline.value, "gain_vs_baseline": g}
        run_ids.append(baseline.key)
        text += f": {fmt(g)} better than the baseline {baseline.key} ({fmt(baseline.value)})"
    text += "."
    if lead is not None and lead.runner_up is not None:
        words, lead_numbers = lead_words(lead, metric)
        text += " " + words
        numbers |= lead_numbers
        run_ids.append(lead.runner_up)
    return Finding("current_best", text, tuple(dict.fromkeys(run_ids)), numbers, subject=best.key)


def _switch_findings(inp: AnalysisInput, switches: Sequence[MetricSwitch], steps: Sequence[Step]) -> list[Finding]:
    found = []
    metric, direction = inp.primary_metric, inp.direction
    for switch in switches:
        before = (switch.previous_metric or metric, switch.previous_direction or direction)
        found.append(_switch_finding(switch, before, steps))
        metric, direction = switch.metric, switch.direction
    return found


def _switch_finding(switch: MetricSwitch, before: tuple[str, Direction], steps: Sequence[Step]) -> Finding:
    way = "higher" if switch.direction == "max" else "lower"
    text = (
        f"The primary metric switched from {before[0]} to {switch.metric} ({way} is better) on "
        f"{switch.effective.isoformat()}: {switch.reason.strip().rstrip('.')}."
    )
    old, new = _best_on(steps, *before), _best_on(steps, switch.metric, switch.direction)
    numbers: dict[str, float] = {}
    run_ids: list[str] = []
    if new is None:
        text += f" No run records {switch.metric} yet."
    elif old is not None and old[0] != new[0]:
        numbers = {"previous_best_value": old[1], "best_value": new[1]}
        run_ids = [old[0], new[0]]
        text += (
            f" The best run changed from {old[0]} ({before[0]} {fmt(old[1])}) to {new[0]} "
            f"({switch.metric} {fmt(new[1])})."
        )
    else:
        numbers, run_ids = {"best_value": new[1]}, [new[0]]
        text += f" The best run stays {new[0]} ({switch.metric} {fmt(new[1])})."
    return Finding("metric_switch", text, tuple(run_ids), numbers, subject=switch.metric)


def _best_on(steps: Sequence[Step], metric: str, direction: Direction) -> tuple[str, float] | None:
    best: tuple[str, float] | None = None
    for step in steps:
        if step.nested_parent:  # a sweep's parent is not a result, even with a copy of its best child's metric
            continue
        value = value_of(step.run, metric)
        if value is not None and (best is None or gain(value, best[1], direction) > 0):
            best = (step.key, value)
    return best
