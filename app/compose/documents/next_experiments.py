"""The `next_experiments` document: the top 3 priorities with why, what is low return, whether to pivot, and what
the budget and the deadline leave out. The logic lives in `planning`; this module words it."""

from __future__ import annotations

from datetime import date

from app.analysis.model import Findings
from app.compose.contract import Composed, DocContext
from app.compose.documents.audit import ADVICE_HEADING, advice_lines, audit_lines, audit_notes
from app.compose.documents.audit import HEADING as AUDIT_HEADING
from app.compose.documents.common import best_note, body_run_ids
from app.compose.documents.groups import low_roi_lines
from app.compose.documents.listening import done_since
from app.compose.documents.planning import make_plan, plan_request
from app.compose.documents.render import (
    cite,
    cites,
    document,
    duration,
    heading,
    md_prose,
    md_text,
    section,
    title_line,
    versus,
)
from app.compose.documents.schemas import BestNote, LeadNote, LowRoi, NextExperiments, PlanRequest, Quote, Suggestion
from app.compose.documents.stated import stated_constraints
from app.compose.labels import labelling
from app.parsing.fmt import fmt, fmt_noise

KIND = "next_experiments"
TITLE = "Next experiments"


@labelling
def compose_next_experiments(
    ctx: DocContext,
    findings: Findings,
    *,
    target: float | None,
    deadline: date | None,
    budget_runs: int | None,
    budget_hours: float | None,
) -> Composed:
    request = plan_request(ctx, target=target, deadline=deadline, budget_runs=budget_runs, budget_hours=budget_hours)
    plan = make_plan(ctx, findings, request)
    best = best_note(ctx, findings)
    met = plan.target_met
    draft = NextExperiments(
        request=request,
        metric=findings.metric,
        direction=findings.direction,
        best=best,
        target_met=met,
        priorities=plan.priorities,
        dropped=plan.dropped,
        low_roi=plan.low_roi,
        pivot=plan.pivot,
        run_ids=[],
        more=plan.more,
        constraints=[Quote(text=t, entry_id=i, day=d, run_ids=[]) for i, d, t in stated_constraints(ctx)],
        audit=audit_notes(ctx, findings),
    )
    body = draft.model_copy(update={"run_ids": body_run_ids(draft.model_dump())})
    title = title_line(TITLE, ctx.project_name)
    return Composed(KIND, body, _markdown(heading(title), body), body.run_ids, title, body.schema_version)


def render_markdown(body: NextExperiments, title: str) -> str:
    """The document's Markdown from its body and its title (without the leading `# `)."""
    return _markdown(heading(title), body)


def _markdown(title: str, body: NextExperiments) -> str:
    blocks = [title, f"Metric in force: **{md_text(body.metric)}** ({body.direction})."]
    blocks += section("Current best", [best_line(body.best)] if body.best else [], empty="No scored run yet.")
    blocks += section("Target", _target_lines(body))
    blocks += section("Top priorities", suggestion_lines(body.priorities), empty="Nothing to suggest yet.")
    blocks += section("More candidates, ranked", _more_lines(body.more))
    done = [s for s in body.dropped if done_since(s)]
    blocks += section("Done since it was written", [_dropped_line(s) for s in done])
    blocks += section("Dropped", [_dropped_line(s) for s in body.dropped if not done_since(s)])
    blocks += section("Low return on investment", low_roi_lines(body.low_roi, _low_roi_line), empty="Nothing.")
    blocks += section(AUDIT_HEADING, audit_lines(body.audit))
    blocks += section(ADVICE_HEADING, advice_lines(body.audit))
    blocks += section("Pivot", [f"**{'Yes' if body.pivot.pivot else 'No'}.** {md_prose(body.pivot.argument)}"])
    stated = [
        f"- Stated in entry {q.entry_id} ({q.day.isoformat()}): \u201c{md_text(q.text)}\u201d" for q in body.constraints
    ]
    blocks += section("Constraints", _constraint_lines(body.request) + stated, empty="None stated.")
    return document(blocks)


def best_line(best: BestNote) -> str:
    line = f"{cite(best.key)} with {md_text(best.metric)} {fmt(best.value)}"
    if best.approach:
        line += f" (approach {md_text(best.approach)})"
    if best.baseline and best.gain_vs_baseline is not None and best.baseline_value is not None:
        line += f", {versus(best.gain_vs_baseline)} the baseline {cite(best.baseline)} ({fmt(best.baseline_value)})"
    elif best.baseline is None:
        line += ", with no baseline to compare against"
    believable = best.believable_gain if best.believable_gain is not None else best.noise_threshold
    if best.seed_sd is not None:
        line += f". Seed sd {fmt_noise(best.seed_sd)}; believable gain of one run over another "
        line += fmt_noise(believable)
    elif best.noise_source == "min_effect":
        line += f". Seed sd unknown (no seed repeats); believable gain {fmt_noise(believable)}, the configured "
        line += "minimum effect"
    else:
        line += f". Believable gain {fmt(believable)}"
    if best.beyond_noise is not None and best.seed_sd is None and best.noise_source == "min_effect":
        # no seed repeats: the gain is judged against the minimum effect, and nothing is claimed about the noise
        line += f": the gain {'clears' if best.beyond_noise else 'is within'} it (the seed noise is not measured yet)"
    elif best.beyond_noise is not None:
        line += f": the gain is {'beyond' if best.beyond_noise else 'within'} the noise"
    return line + "." + (" " + lead_line(best.lead) if best.lead is not None else "")


def lead_line(lead: LeadNote) -> str:
    """Whether the best run's lead over the runner-up is beyond the noise, and what to do when it is not."""
    whose = (
        f"the best of approach {md_text(lead.runner_up_approach)}"
        if lead.runner_up_source == "approach" and lead.runner_up_approach
        else "the best run of another configuration"
    )
    sides = f"{_side(lead.best_value, lead.n_best)} vs {_side(lead.runner_up_value, lead.n_runner_up)}"
    line = (
        f"Its lead over the runner-up {cite(lead.runner_up)} ({whose}) is {fmt(lead.lead)} ({sides}), against a "
        f"believable gain of {fmt_noise(lead.believable_gain)} for these sides"
    )
    if lead.beyond_noise:
        return line + (": beyond the noise." if lead.seed_sd is not None else ": it clears it.")
    return (
        line + ": **within the noise**, so the best is not shown to be the best; repeat the top configurations with "
        "new seeds (or repeated cross-validation) before building on it."
    )


def _side(value: float, n: int) -> str:
    return f"{fmt(value)}, mean of {n} seeds" if n > 1 else fmt(value)


MORE_LISTED = 12


def suggestion_lines(suggestions: list[Suggestion], *, questions_quoted: bool = False) -> list[str]:
    """Numbered suggestion lines. `questions_quoted`: the document quotes the open questions elsewhere (a phase
    summary), so a question to answer is named by its entry instead of quoted twice."""
    return [
        f"{s.rank or i}. **{_title(s, questions_quoted)}**{_stop(s.title)} {md_prose(s.why)}{_said_text(s)}"
        f"{_cost_text(s)}"
        for i, s in enumerate(suggestions, start=1)
    ]


def _dropped_line(s: Suggestion) -> str:
    title = _title(s.model_copy(update={"title": s.title.rstrip(" .")}))
    reason = s.dropped_because or ""
    return f"- {title}: {md_prose(reason)}" + ("" if reason.endswith(("\u201d", ".", "?", "!")) else ".")


def _stop(title: str) -> str:
    """The full stop after a title, unless its own words end in one ("...?", "... on trees.")."""
    return "" if title.rstrip().endswith((".", "?", "!", "…")) else "."


def _more_lines(more: list[Suggestion]) -> list[str]:
    lines = suggestion_lines(more[:MORE_LISTED])
    if len(more) > MORE_LISTED:
        lines.append(f"\nand {len(more) - MORE_LISTED} more (the JSON lists them all).")
    return lines


def _title(s: Suggestion, questions_quoted: bool = False) -> str:
    """A person's words (a stated step, a question) as typed; Labbook's titles keep their run citations."""
    if s.source == "question" and questions_quoted and s.entry_id is not None:
        return f"Answer the open question of entry {s.entry_id} (quoted above)"
    if s.source != "computed":
        return md_text(s.title)
    return md_prose(s.title)


def _said_text(s: Suggestion) -> str:
    if s.source != "computed" or s.quote is None or s.entry_id is None:
        return ""
    said = "asked about it" if s.quote.rstrip().endswith("?") else "proposed it too"
    return f" Entry {s.entry_id} {said}: \u201c{md_text(s.quote)}\u201d."


def _cost_text(s: Suggestion) -> str:
    if s.kind == "reframe":
        return ""
    if s.cost.runs == 0:
        return " Cost: no new training run."
    runs = f"{s.cost.runs} run{'s' if s.cost.runs != 1 else ''}"
    if s.cost.seconds_per_run is None:
        return f" Cost: {runs}, time unknown (no similar run records a duration)."
    return (
        f" Cost: {runs} at about {duration(s.cost.seconds_per_run)}{' each' if s.cost.runs > 1 else ''} "
        f"(median of {len(s.cost.from_runs)} similar runs)."
    )


def _low_roi_line(item: LowRoi) -> str:
    subject = cite(item.subject) if item.subject in item.evidence.run_ids else md_text(item.subject)
    if not subject:
        return f"- {md_prose(item.reason)}"
    return f"- {subject}: {md_prose(item.reason)}{cites(r for r in item.evidence.run_ids if r != item.subject)}"


def _target_lines(body: NextExperiments) -> list[str]:
    target = body.request.target
    if target is None:
        return []
    if body.best is None:
        return [f"Target {md_text(body.metric)} {fmt(target)}: no scored run yet."]
    if body.target_met:
        return [f"The best {cite(body.best.key)} ({fmt(body.best.value)}) already meets the target {fmt(target)}."]
    return [f"The best {cite(body.best.key)} ({fmt(body.best.value)}) has not reached the target {fmt(target)} yet."]


def _constraint_lines(request: PlanRequest) -> list[str]:
    lines = []
    if request.deadline is not None:
        lines.append(f"- Deadline {request.deadline.isoformat()} ({request.days_left} days left).")
    if request.budget_runs is not None:
        lines.append(f"- Budget: {request.budget_runs} runs.")
    if request.budget_hours is not None:
        lines.append(f"- Budget: {fmt(request.budget_hours)} hours of compute.")
    return lines
