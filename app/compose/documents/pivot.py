"""What not to spend runs on (closed approaches, duplicates, gains within the noise) and whether to pivot: on a
stall, or when every approach is plateaued, exhausted or abandoned, the argument is for reframing the problem or a
time box as well as more runs."""

from __future__ import annotations

from app.analysis.model import Approach, Findings
from app.analysis.progress import versus_baseline
from app.compose.documents.common import below_baseline, open_lines
from app.compose.documents.render import cite
from app.compose.documents.schemas import Evidence, LowRoi, Pivot
from app.parsing.fmt import fmt

CLOSED = frozenset({"plateaued", "exhausted", "abandoned"})


# -- low return and pivot ----------------------------------------------------------------------------------------------


# At most this many duplicates and within-noise gains are listed one by one (the most recent); the rest are counted.
LISTED = 10


def low_roi(findings: Findings) -> list[LowRoi]:
    items = [
        LowRoi(
            subject=a.name,
            reason=f"{a.status}: {a.mark.reason if a.mark else a.reason}",
            evidence=Evidence(run_ids=[a.best] if a.best else [], numbers=_numbers(a)),
            kind="approach",
        )
        for a in findings.approaches
        if a.status in CLOSED
    ]
    items += [
        LowRoi(
            subject=d.key,
            reason=f"repeats the configuration of {cite(d.of)}"
            + (f" ({fmt(d.compute_s)} s of compute)" if d.compute_s is not None else ""),
            evidence=Evidence(
                run_ids=[d.key, d.of], numbers={"compute_s": d.compute_s} if d.compute_s is not None else {}
            ),
            kind="duplicate",
        )
        for d in findings.duplicates[-LISTED:]
    ]
    items += _more(len(findings.duplicates), "runs repeat an earlier configuration", "duplicate")
    items += [
        LowRoi(
            subject=f.subject or "",
            reason=f.message,
            evidence=Evidence(run_ids=list(f.run_ids), numbers=dict(f.numbers)),
            kind="within_noise",
        )
        for f in findings.of_kind("within_noise")[-LISTED:]
    ]
    items += _more(len(findings.of_kind("within_noise")), "gains are within the noise", "within_noise")
    return items


def _more(total: int, what: str, kind: str) -> list[LowRoi]:
    if total <= LISTED:
        return []
    return [
        LowRoi(
            subject="",
            reason=f"{total - LISTED} earlier {what} (GET .../findings lists them all)",
            evidence=Evidence(),
            kind=kind,
            count=total - LISTED,
        )
    ]


def _state(a: Approach) -> str:
    return "below the baseline so far" if below_baseline(a) else a.status


def _numbers(a: Approach) -> dict[str, float]:
    values = {"best_value": a.best_value, "recent_gain": a.recent_gain}
    numbers = {k: v for k, v in values.items() if v is not None}
    return numbers | (versus_baseline(a.gain_vs_baseline) if a.gain_vs_baseline is not None else {})


def pivot_of(findings: Findings) -> Pivot:
    """Yes on a stall, or when every approach is plateaued, exhausted or abandoned; the argument says why."""
    stall = findings.of_kind("stall")
    judged = [a for a in open_lines(findings) if a.run_ids]  # a one-off run neither keeps a project open nor closes it
    closed = [a for a in judged if a.status in CLOSED or below_baseline(a)]
    reasons: list[str] = []
    evidence_runs: list[str] = []
    numbers: dict[str, float] = {}
    if findings.stalled:
        reasons.append(stall[0].message if stall else "no gain beyond the noise over the last sessions")
        if stall:
            evidence_runs += stall[0].run_ids
            numbers |= dict(stall[0].numbers)
    if judged and len(closed) == len(judged):
        reasons.append("every approach is " + ", ".join(f"{a.name} {_state(a)}" for a in closed))
        evidence_runs += [a.best for a in closed if a.best]
    if not reasons:
        moving = [a.name for a in judged if a not in closed]
        why = f"{', '.join(moving)} still open" if moving else "nothing has been judged yet"
        return Pivot(pivot=False, argument=f"{why}; keep making single small changes.", evidence=Evidence())
    said = "; ".join(reasons)
    argument = (
        f"{said[:1].upper() + said[1:]}. More runs of the same kind are unlikely to pay; reframe the problem (the "
        "data, the features, the objective or the metric) or time-box the current line before adding runs."
    )
    return Pivot(
        pivot=True, argument=argument, evidence=Evidence(run_ids=list(dict.fromkeys(evidence_runs)), numbers=numbers)
    )
