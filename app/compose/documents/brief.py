"""The `handover_brief` document: the project's story from its goal to the current best, for someone taking it over.
Goal, metric and target; metric changes with when and why; each approach and why it was continued or dropped (a
person's mark, the computed evidence, what log entries say did not work); the decisions recorded; the current best;
and the open risks (no baseline, unknown noise, reproduction gaps of the best run, a stall, open questions)."""

from __future__ import annotations

from typing import Literal

from app.analysis.model import Approach, Findings
from app.compose.contract import Composed, DocContext
from app.compose.documents.audit import ADVICE_HEADING, advice_lines, audit_lines, audit_notes
from app.compose.documents.audit import HEADING as AUDIT_HEADING
from app.compose.documents.chosen import SELECTION_DECISION, chosen_line, decision_note, latest_selection
from app.compose.documents.common import (
    approach_evidence,
    below_baseline,
    best_note,
    body_run_ids,
    earlier_docs,
    earlier_line,
    lines_of_inquiry,
    one_off,
    proposed_line,
    proposed_note,
    switch_notes,
)
from app.compose.documents.filing import Filed, file_quotes
from app.compose.documents.next_experiments import best_line, suggestion_lines
from app.compose.documents.planning import make_plan, plan_request
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
from app.compose.documents.schemas import (
    ApproachStory,
    DecisionNote,
    EarlierDoc,
    Evidence,
    HandoverBrief,
    ProposedNote,
    Quote,
    Risk,
    Suggestion,
)
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
    lines = lines_of_inquiry(findings)
    filed = file_quotes(ctx.entries, lines, ctx.runs, others=findings.approaches)
    chosen = latest_selection(ctx.entries)
    draft = HandoverBrief(
        audience=audience,
        goal=ctx.goal,
        primary_metric=ctx.primary_metric,
        metric=findings.metric,
        direction=findings.direction,
        target=ctx.target_value,
        metric_switches=switch_notes(findings),
        approaches=[
            _story(a, filed, chosen[0] if chosen else None, proposed_note(ctx, a), earlier_docs(ctx, a.name))
            for a in lines
        ],
        decisions=[decision_note(e) for e in ctx.entries if e.kind == SELECTION_DECISION],
        current_best=best_note(ctx, findings),
        risks=_risks(ctx, findings, filed.unfiled("open_questions")),
        run_ids=[],
        did_not_work=filed.unfiled("did_not_work"),
        selected=chosen[0] if chosen else None,
        selected_value=ctx.runs[chosen[0]].metrics.get(findings.metric) if chosen and chosen[0] in ctx.runs else None,
        next_steps=_next_steps(ctx, findings),
        audit=audit_notes(ctx, findings),
    )
    body = draft.model_copy(update={"run_ids": body_run_ids(draft.model_dump())})
    title = title_line(TITLE, ctx.project_name)
    return Composed(KIND, body, _markdown(heading(title), body), body.run_ids, title, body.schema_version)


def _story(
    a: Approach, filed: Filed, selected: str | None, proposed: ProposedNote | None, earlier: list[EarlierDoc]
) -> ApproachStory:
    outcome, why = _outcome(a)
    if outcome == "dropped" and a.mark is None and selected in a.run_ids:  # no more gains, but it holds the choice
        outcome, why = "adopted", f"holds the chosen model; {why}"
    return ApproachStory(
        name=a.name,
        status=a.status,
        outcome=outcome,
        why=why,
        evidence=approach_evidence(a),
        did_not_work=filed.of(a.name, "did_not_work"),
        open_questions=filed.of(a.name, "open_questions"),
        proposed=proposed,
        earlier=earlier,
    )


def _outcome(a: Approach) -> tuple[Outcome, str]:
    """What became of the approach, agreeing with its status: only a closed line (abandoned or exhausted, by a
    person's mark or the computed evidence) reads "dropped"; an open one is continued or paused."""
    why = f"marked {a.mark.status}: {a.mark.reason}" if a.mark else a.reason
    if a.mark and a.computed_status != a.status:
        why += f" (the mark decides; the runs alone read {a.computed_status})"
    outcome = _OUTCOME[a.status]
    if below_baseline(a):  # too short to judge, but worse than the baseline on every scored run: not followed up
        return "paused", f"below the baseline on every scored run so far, too few runs to judge; {why}"
    if one_off(a) and outcome == "continued":  # tried once and not followed up: not a line being continued
        return "paused", f"tried once, not followed up; {why}"
    return outcome, why


def _next_steps(ctx: DocContext, findings: Findings) -> list[Suggestion]:
    """The top of the plan, so whoever takes over knows what comes next (the next-experiments document has the rest:
    ranked candidates, what was dropped and why)."""
    request = plan_request(ctx, target=None, deadline=None, budget_runs=None, budget_hours=None)
    return make_plan(ctx, findings, request).priorities


def _risks(ctx: DocContext, findings: Findings, questions: list[Quote]) -> list[Risk]:
    """The risks of the project; `questions` are the open questions about no one approach."""
    risks = [
        Risk(kind=f.kind, text=f.message, evidence=Evidence(run_ids=list(f.run_ids), numbers=dict(f.numbers)))
        for f in findings.findings
        if f.kind in ("missing_baseline", "noise_unknown", "stall")
    ]
    chosen = latest_selection(ctx.entries)
    handed = chosen[0] if chosen and chosen[0] in ctx.runs else findings.best  # the run handed over
    gap = next((g for g in findings.repro_gaps if g.key == handed), None)
    if gap is not None and gap.missing:
        which = "The chosen model" if handed != findings.best else "The best run"
        text = f"{which} cannot be reproduced with confidence: no {', '.join(gap.missing)} recorded."
        risks.append(Risk(kind="repro_gap", text=text, evidence=Evidence(run_ids=[gap.key])))
    if findings.project_gaps:  # once for the project, not once per run
        names = ", ".join(g.field for g in findings.project_gaps)
        text = f"No run of this project records {names}: every run shares these gaps."
        risks.append(Risk(kind="project_gap", text=text, evidence=Evidence()))
    risks += [Risk(kind="open_question", text=q.text, evidence=Evidence(run_ids=q.run_ids)) for q in questions]
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
    stories = [_story_line(s) for s in body.approaches]
    stories += [f"- did not work: “{md_text(q.text)}”{cites(q.run_ids)}" for q in body.did_not_work]
    blocks += section("Approaches", stories, empty="No runs yet.")
    decisions = [
        f"- {d.day.isoformat()} (entry {d.entry_id}): {md_text(d.decision)}{cites(d.run_ids)}. "
        f"{md_prose(d.rationale)}".rstrip()
        for d in body.decisions
    ]
    blocks += section("Decisions", decisions, empty="No selection decision recorded.")
    best = [best_line(body.current_best)] if body.current_best else []
    if body.selected:
        best.append(
            "\n" + chosen_line(body.selected, _selection(body), body.current_best, body.metric, body.selected_value)
        )
    blocks += section("Current best", best, empty="None yet.")
    risks = [f"- {r.kind.replace('_', ' ')}: {md_text(r.text)}{cites(r.evidence.run_ids)}" for r in body.risks]
    blocks += section("Open risks", risks, empty="None found.")
    blocks += section(AUDIT_HEADING, audit_lines(body.audit))
    blocks += section("Next steps", suggestion_lines(body.next_steps, questions_quoted=True))
    blocks += section(ADVICE_HEADING, advice_lines(body.audit))
    return document(blocks)


def _story_line(s: ApproachStory) -> str:
    best = s.evidence.run_ids[0] if s.evidence.run_ids else None
    line = f"- **{md_text(s.name)}**: {s.outcome} ({s.status}), {sentence(s.why)}"
    if best and "best_value" in s.evidence.numbers:
        line += f" Best {cite(best)} at {fmt(s.evidence.numbers['best_value'])}."
    lines = [line, *([proposed_line(s.proposed, s.did_not_work)] if s.proposed else [])]
    lines += [f"  - did not work: “{md_text(q.text)}”{cites(q.run_ids)}" for q in s.did_not_work]
    lines += [f"  - open question: “{md_text(q.text)}”{cites(q.run_ids)}" for q in s.open_questions]
    lines += [earlier_line(s.earlier)] if s.earlier else []
    return "\n".join(line for line in lines if line)


def _selection(body: HandoverBrief) -> DecisionNote | None:
    """The most recent recorded decision that selected the brief's chosen run."""
    return next((d for d in reversed(body.decisions) if body.selected in d.run_ids), None)
