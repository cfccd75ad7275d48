"""The `handover_brief` document: the project's story from its goal to the current best, for someone taking it over.
Goal, metric and target; metric changes with when and why; each approach and why it was continued or dropped (a
person's mark, the computed evidence, what log entries say did not work); the decisions recorded; the current best;
and the open risks (no baseline, unknown noise, reproduction gaps of the best run, a stall, open questions)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from app.analysis.model import Approach, Findings
from app.compose.contract import Composed, DocContext, EntryDigest
from app.compose.documents.common import (
    approach_evidence,
    below_baseline,
    best_note,
    body_run_ids,
    lines_of_inquiry,
    one_off,
    open_questions,
    quotes,
    switch_notes,
)
from app.compose.documents.next_experiments import best_line
from app.compose.documents.render import (
    cite,
    cites,
    document,
    fmt,
    heading,
    md_prose,
    md_text,
    one_line,
    section,
    sentence,
    title_line,
)
from app.compose.documents.schemas import ApproachStory, DecisionNote, Evidence, HandoverBrief, Risk
from app.compose.documents.summary import switch_line
from app.compose.labels import labelling

Outcome = Literal["continued", "dropped", "adopted", "paused"]
KIND = "handover_brief"
TITLE = "Handover brief"
_OUTCOME: dict[str, Outcome] = {
    "adopted": "adopted",
    "abandoned": "dropped",
    "exhausted": "dropped",
    "plateaued": "paused",
    "converging": "continued",
    "active": "continued",
}


@labelling
def compose_brief(ctx: DocContext, findings: Findings, *, audience: str) -> Composed:
    draft = HandoverBrief(
        audience=audience,
        goal=ctx.goal,
        primary_metric=ctx.primary_metric,
        metric=findings.metric,
        direction=findings.direction,
        target=ctx.target_value,
        metric_switches=switch_notes(findings),
        approaches=[_story(a, ctx.entries) for a in lines_of_inquiry(findings)],
        decisions=[_decision(e) for e in ctx.entries if e.kind == "selection_decision"],
        current_best=best_note(ctx, findings),
        risks=_risks(ctx, findings),
        run_ids=[],
    )
    body = draft.model_copy(update={"run_ids": body_run_ids(draft.model_dump())})
    title = title_line(TITLE, ctx.project_name)
    return Composed(KIND, body, _markdown(heading(title), body), body.run_ids, title, body.schema_version)


def _story(a: Approach, entries: tuple[EntryDigest, ...]) -> ApproachStory:
    why = f"marked {a.mark.status}: {a.mark.reason}" if a.mark else a.reason
    if a.mark and a.computed_status != a.status:
        why += f" (computed: {a.computed_status})"
    outcome = _OUTCOME[a.status]
    if below_baseline(a):  # too short to judge, but worse than the baseline on every scored run: dropped early
        outcome = "dropped"
    elif one_off(a) and outcome == "continued":  # tried once and not followed up: not a line being continued
        outcome, why = "paused", f"tried once, not followed up; {why}"
    return ApproachStory(
        name=a.name,
        status=a.status,
        outcome=outcome,
        why=why,
        evidence=approach_evidence(a),
        did_not_work=quotes(entries, "did_not_work", set(a.run_ids)),
    )


def _decision(entry: EntryDigest) -> DecisionNote:
    body: Mapping[str, Any] = entry.body
    selected = body.get("selected")
    return DecisionNote(
        entry_id=entry.id,
        day=entry.day,
        title=str(body.get("title") or entry.tldr),
        decision=f"selected {selected}" if selected else entry.tldr,
        rationale=str(body.get("rationale") or ""),
        run_ids=list(entry.run_ids) or ([str(selected)] if selected else []),
    )


def _risks(ctx: DocContext, findings: Findings) -> list[Risk]:
    risks = [
        Risk(kind=f.kind, text=f.message, evidence=Evidence(run_ids=list(f.run_ids), numbers=dict(f.numbers)))
        for f in findings.findings
        if f.kind in ("missing_baseline", "noise_unknown", "stall")
    ]
    gap = next((g for g in findings.repro_gaps if g.key == findings.best), None)
    if gap is not None and gap.missing:
        text = f"The best run cannot be reproduced with confidence: no {', '.join(gap.missing)} recorded."
        risks.append(Risk(kind="repro_gap", text=text, evidence=Evidence(run_ids=[gap.key])))
    if findings.project_gaps:  # once for the project, not once per run
        names = ", ".join(g.field for g in findings.project_gaps)
        text = f"No run of this project records {names}: every run shares these gaps."
        risks.append(Risk(kind="project_gap", text=text, evidence=Evidence()))
    risks += [
        Risk(kind="open_question", text=q.text, evidence=Evidence(run_ids=q.run_ids))
        for q in open_questions(ctx.entries)
    ]
    return risks


def render_markdown(body: HandoverBrief, title: str) -> str:
    """The document's Markdown from its body and its title (without the leading `# `)."""
    return _markdown(heading(title), body)


def _markdown(title: str, body: HandoverBrief) -> str:
    blocks = [title, f"Written for: {md_text(body.audience)}." if body.audience.strip() else ""]
    goal = [
        f"Goal: {md_text(one_line(body.goal).rstrip('.')) or 'not stated'}.",
        f"Primary metric: **{md_text(body.primary_metric)}**.",
    ]
    if body.metric != body.primary_metric:
        goal.append(f"Metric in force now: **{md_text(body.metric)}** ({body.direction}).")
    if body.target is not None:
        goal.append(f"Target: {md_text(body.metric)} {fmt(body.target)}.")
    blocks += section("Goal", goal)
    blocks += section("Metric changes", [switch_line(s) for s in body.metric_switches])
    blocks += section("Approaches", [_story_line(s) for s in body.approaches], empty="No runs yet.")
    decisions = [
        f"- {d.day.isoformat()} (entry {d.entry_id}): {md_text(d.decision)}{cites(d.run_ids)}. "
        f"{md_prose(d.rationale)}".rstrip()
        for d in body.decisions
    ]
    blocks += section("Decisions", decisions, empty="No selection decision recorded.")
    blocks += section("Current best", [best_line(body.current_best)] if body.current_best else [], empty="None yet.")
    risks = [f"- {r.kind.replace('_', ' ')}: {md_text(r.text)}{cites(r.evidence.run_ids)}" for r in body.risks]
    blocks += section("Open risks", risks, empty="None found.")
    return document(blocks)


def _story_line(s: ApproachStory) -> str:
    best = s.evidence.run_ids[0] if s.evidence.run_ids else None
    line = f"- **{md_text(s.name)}**: {s.outcome} ({s.status}), {sentence(s.why)}"
    if best and "best_value" in s.evidence.numbers:
        line += f" Best {cite(best)} at {fmt(s.evidence.numbers['best_value'])}."
    lines = [line] + [f"  - did not work: “{md_text(q.text)}”{cites(q.run_ids)}" for q in s.did_not_work]
    return "\n".join(lines)
