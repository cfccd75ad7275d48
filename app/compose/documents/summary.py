"""The `phase_summary` document: one window of the project (since/until inclusive, None open), on run session days
and entry days. What was explored, what each approach showed, what is closed and why, what remains open, the current
best and why it is the best, metric switches up to the window's end, and the plan for the next phase."""

from __future__ import annotations

from datetime import date

from app.analysis.model import Findings
from app.compose.contract import Composed, DocContext
from app.compose.documents.audit import (
    ADVICE_HEADING,
    LINES_HEADING,
    advice_lines,
    audit_lines,
    audit_notes,
    line_lines,
    line_notes,
)
from app.compose.documents.audit import HEADING as AUDIT_HEADING
from app.compose.documents.chosen import chosen_line, latest_selection
from app.compose.documents.common import (
    approach_note,
    best_note,
    body_run_ids,
    earlier_line,
    in_window,
    lines_of_inquiry,
    one_off,
    proposed_line,
    run_day,
    switch_notes,
    value_of,
)
from app.compose.documents.filing import file_quotes
from app.compose.documents.next_experiments import best_line, suggestion_lines
from app.compose.documents.planning import TOP, make_plan, plan_request
from app.compose.documents.render import (
    cite,
    cites,
    document,
    fmt,
    heading,
    md_text,
    plural,
    section,
    sentence,
    title_line,
)
from app.compose.documents.schemas import ApproachNote, BestNote, PhaseSummary, Quote, SwitchNote
from app.compose.labels import labelling

KIND = "phase_summary"
TITLE = "Phase summary"
CLOSED = frozenset({"exhausted", "plateaued", "abandoned", "adopted"})


@labelling
def compose_phase_summary(ctx: DocContext, findings: Findings, *, since: date | None, until: date | None) -> Composed:
    in_range = {k for k, run in ctx.runs.items() if in_window(run_day(run), since, until)}
    entries = tuple(e for e in ctx.entries if in_window(e.day, since, until))
    lines = [a for a in lines_of_inquiry(findings) if in_range.intersection(a.run_ids)]
    filed = file_quotes(entries, lines, ctx.runs, others=findings.approaches)
    explored = [approach_note(a, [k for k in a.run_ids if k in in_range], filed, ctx) for a in lines]
    chosen = latest_selection(ctx.entries, until)
    once = {a.name for a in lines if one_off(a)}  # explored, but not a line that remains to explore
    plan = make_plan(ctx, findings, plan_request(ctx, target=None, deadline=None, budget_runs=None, budget_hours=None))
    draft = PhaseSummary(
        since=since,
        until=until,
        metric=findings.metric,
        direction=findings.direction,
        approaches=explored,
        closed=[a for a in explored if a.status in CLOSED],
        remaining=[a for a in explored if a.status not in CLOSED and a.name not in once],
        open_questions=filed.unfiled("open_questions"),
        current_best=_best_until(ctx, findings, until),
        metric_switches=switch_notes(findings, until),
        plan=plan.priorities[:TOP],
        run_ids=[],
        conclusions=filed.unfiled("conclusions"),
        did_not_work=filed.unfiled("did_not_work"),
        selected=chosen[0] if chosen else None,
        selected_value=ctx.runs[chosen[0]].metrics.get(findings.metric) if chosen and chosen[0] in ctx.runs else None,
        selection=chosen[1] if chosen else None,
        audit=audit_notes(ctx, findings, in_range),
        lines=line_notes(ctx, findings, in_range),
    )
    body = draft.model_copy(update={"run_ids": body_run_ids(draft.model_dump())})
    title = title_line(TITLE, ctx.project_name)
    return Composed(KIND, body, _markdown(heading(title), body), body.run_ids, title, body.schema_version)


def _best_until(ctx: DocContext, findings: Findings, until: date | None) -> BestNote | None:
    """The best run as of the window's end: the findings' best when it is in by then, else the best scored run."""
    best = ctx.runs.get(findings.best or "")
    if best is None or until is None or in_window(run_day(best), None, until):
        return best_note(ctx, findings)
    parents = set(findings.nested_parents)  # a sweep's parent may log a copy of its best child's metric
    scored = [
        (value, key)
        for key, run in ctx.runs.items()
        if key not in parents
        and in_window(run_day(run), None, until)
        and (value := value_of(run, findings.metric)) is not None
    ]
    if not scored:
        return None
    pick = max if findings.direction == "max" else min
    _, key = pick(scored)
    return best_note(ctx, findings, key)


def render_markdown(body: PhaseSummary, title: str) -> str:
    """The document's Markdown from its body and its title (without the leading `# `)."""
    return _markdown(heading(title), body)


def _markdown(title: str, body: PhaseSummary) -> str:
    blocks = [title, f"{_window(body)}. Metric in force: **{md_text(body.metric)}** ({body.direction})."]
    explored = [_approach_block(a) for a in body.approaches]
    explored += [_quote_line(q, "concluded") for q in body.conclusions]
    explored += [_quote_line(q, "did not work") for q in body.did_not_work]
    if body.lines:  # an experiment loop's log: its lines of work tell the story its approaches cannot
        blocks += section(LINES_HEADING, line_lines(body.lines))
    blocks += section("Approaches explored", explored, empty="No runs.")
    closed = [_closed_line(a, body.selected) for a in body.closed]
    blocks += section("Closed", closed, empty="Nothing closed in this window.")
    remaining = [f"- {md_text(a.name)} ({a.status}){_best_of(a)}" for a in body.remaining]
    remaining += [_quote_line(q, "open question") for q in body.open_questions]
    blocks += section("What remains", remaining, empty="Nothing open.")
    best = [best_line(body.current_best)] if body.current_best else []
    if body.selected:
        best.append(
            "\n" + chosen_line(body.selected, body.selection, body.current_best, body.metric, body.selected_value)
        )
    blocks += section("Current best", best, empty="No scored run yet.")
    blocks += section("Metric switches", [switch_line(s) for s in body.metric_switches])
    blocks += section(AUDIT_HEADING, audit_lines(body.audit))
    blocks += section(
        "Plan for the next phase", suggestion_lines(body.plan, questions_quoted=True), empty="Nothing to suggest."
    )
    blocks += section(ADVICE_HEADING, advice_lines(body.audit))
    return document(blocks)


def _window(body: PhaseSummary) -> str:
    since = body.since.isoformat() if body.since else "the start"
    until = body.until.isoformat() if body.until else "today"
    return f"From {since} to {until}"


def _approach_block(a: ApproachNote) -> str:
    runs = plural(len(a.run_ids), "run")
    head = f"- **{md_text(a.name)}** ({a.status}, {runs}{cites(a.run_ids)}): {sentence(a.reason)}"
    if a.best and "best_value" in a.evidence.numbers:
        head += f" Best {cite(a.best)} at {fmt(a.evidence.numbers['best_value'])}."
    lines = [head, *([proposed_line(a.proposed, [*a.conclusions, *a.did_not_work])] if a.proposed else [])]
    lines += ["  " + _quote_line(q, "concluded") for q in a.conclusions]
    lines += ["  " + _quote_line(q, "did not work") for q in a.did_not_work]
    lines += ["  " + _quote_line(q, "open question") for q in a.open_questions]
    lines += [earlier_line(a.earlier)] if a.earlier else []
    return "\n".join(line for line in lines if line)


def _closed_line(a: ApproachNote, selected: str | None) -> str:
    """An approach closed in the window, in short: the computed reason is told under "Approaches explored" above; a
    status a person set keeps their reason."""
    if a.status != a.computed_status:
        line = f"- {md_text(a.name)}: {a.status}, because {md_text(a.reason)}{cites([a.best] if a.best else [])}"
    else:
        line = f"- {md_text(a.name)}: {a.status}{_best_of(a)}"
    if selected is not None and selected in a.run_ids:
        line += f"; it holds the chosen model {cite(selected)}: confirm and harden that, no more tuning"
    return line


def _best_of(a: ApproachNote) -> str:
    if a.best and "best_value" in a.evidence.numbers:
        return f", best {cite(a.best)} at {fmt(a.evidence.numbers['best_value'])}"
    return ""


def _quote_line(q: Quote, label: str) -> str:
    return f"- {label} ({q.day.isoformat()}, entry {q.entry_id}): “{md_text(q.text)}”{cites(q.run_ids)}"


def switch_line(s: SwitchNote) -> str:
    was = f"from {md_text(s.previous_metric)} " if s.previous_metric else ""
    return f"- {s.effective.isoformat()}: {was}to **{md_text(s.metric)}** ({s.direction}), because {md_text(s.reason)}"
