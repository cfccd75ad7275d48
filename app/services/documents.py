"""Documents composed from the analysis: phase summaries, next experiments, "has this been tried?", selection
decisions, reproduction reports and handover briefs. Each request analyses the project's stored runs, composes the
document offline, checks that every number and run it cites is grounded in the inputs, and stores it as an entry
(version 1), with the runs' labbook.* tags queued for write-back in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from sqlmodel import Session

from app.analysis.lines import lines_of_work
from app.analysis.model import REPRO_FIELDS, AnalysisInput, Criterion, Findings
from app.analysis.options import next_options
from app.analysis.ranking import rank_finalists
from app.analysis.setup import likely_setup
from app.analysis.tried import match_proposal
from app.compose.contract import Composed, DocContext, Sources
from app.compose.documents import (
    compose_brief,
    compose_decision,
    compose_next_experiments,
    compose_phase_summary,
    compose_reproduction,
    compose_tried,
    log_statements,
)
from app.compose.log_entry.refs import RunIndex
from app.errors import InputInvalid
from app.services import analysis as analysis_service
from app.services import entries as entries_service
from app.services import outbox as outbox_service
from app.services import prior_work
from app.services.approaches import resolve_ref, resolve_refs, run_index
from app.services.schemas import (
    BriefCreate,
    CriterionCreate,
    DecisionCreate,
    EntryPublic,
    NextExperimentsCreate,
    ReproductionCreate,
    SummaryCreate,
    TriedCreate,
)
from app.storage.models import Entry, Project


@dataclass(frozen=True)
class Analysed:
    """One request's view of the project: the analysis input, its findings and the composers' context."""

    inp: AnalysisInput
    findings: Findings
    ctx: DocContext


def analysed(
    session: Session, *, project: Project, public_url: str, today: date | None = None, plan: bool = False
) -> Analysed:
    """The project analysed; with `plan`, also what a next run could change (for the documents that plan)."""
    analysis = analysis_service.project_analysis(session, project=project)
    inp, findings = analysis.inp, analysis.findings
    today = today or datetime.now(UTC).date()
    ctx = analysis_service.doc_context(session, project=project, today=today, public_url=public_url, inp=inp)
    if plan:
        ctx = replace(ctx, options=next_options(ctx.runs, findings, inp.settings))
    if any("change" in run.tags for run in inp.runs):  # an experiment loop's log: its lines of work
        ctx = replace(ctx, lines={k: line.name for line in lines_of_work(inp.runs, findings) for k in line.run_ids})
    return Analysed(inp, findings, ctx)


def _with_earlier(session: Session, a: Analysed, project: Project) -> Analysed:
    """The context with each approach's earlier documents (retrieval; none with the index off)."""
    names = [approach.name for approach in a.findings.approaches]
    earlier = prior_work.earlier_documents(session, project=project, approaches=names, public_url=a.ctx.public_url)
    return replace(a, ctx=replace(a.ctx, earlier=earlier)) if earlier else a


def create_summary(session: Session, *, project: Project, body: SummaryCreate, public_url: str) -> EntryPublic:
    """A phase summary of the sessions between `since` and `until`."""
    if body.since and body.until and body.since > body.until:
        raise InputInvalid(f"until ({body.until}) is before since ({body.since})", field="until")
    a = _with_earlier(session, analysed(session, project=project, public_url=public_url, plan=True), project)
    composed = compose_phase_summary(a.ctx, a.findings, since=body.since, until=body.until)
    return _public(session, project, store_composed(session, project=project, composed=composed, analysed=a))


def create_next_experiments(
    session: Session, *, project: Project, body: NextExperimentsCreate, public_url: str
) -> EntryPublic:
    """Ranked next experiments toward the target, within the deadline and budget."""
    a = analysed(session, project=project, public_url=public_url, plan=True)
    composed = compose_next_experiments(
        a.ctx,
        a.findings,
        target=body.target if body.target is not None else project.target_value,
        deadline=body.deadline or project.deadline,
        budget_runs=body.budget_runs,
        budget_hours=body.budget_hours,
    )
    return _public(session, project, store_composed(session, project=project, composed=composed, analysed=a))


def create_tried(session: Session, *, project: Project, body: TriedCreate, public_url: str) -> EntryPublic:
    """Whether a proposal was tried already: the runs that match it, exactly or in part."""
    a = analysed(session, project=project, public_url=public_url)
    match = match_proposal(body.proposal, a.inp.runs, a.findings)
    mentions = prior_work.mentions_for(session, project=project, proposal=body.proposal)
    composed = compose_tried(a.ctx, a.findings, match, proposal=body.proposal, mentions=mentions)
    return _public(session, project, store_composed(session, project=project, composed=composed, analysed=a))


def create_decision(session: Session, *, project: Project, body: DecisionCreate, public_url: str) -> EntryPublic:
    """A selection decision record: the finalists ranked by weighted criteria, the choice and its trade-offs."""
    a = analysed(session, project=project, public_url=public_url)
    keys = resolve_refs(a.inp.runs, body.finalists, field="finalists")
    index = run_index(a.inp.runs)
    criteria = [_criterion(index, c, field=f"criteria[{i}]") for i, c in enumerate(body.criteria)]
    selected = resolve_ref(index, body.selected, field="selected") if body.selected else None
    if selected is not None and selected not in keys:
        raise InputInvalid(f"the selected run '{selected}' is not one of the finalists", field="selected")
    runs = {r.key: r for r in a.inp.runs}
    noise = a.findings.noise
    ranking = rank_finalists(
        [runs[k] for k in keys], criteria, metric=a.findings.metric, believable_gain=noise.min_gain
    )
    composed = compose_decision(
        a.ctx, a.findings, ranking, selected=selected, rationale=body.rationale, title=body.title
    )
    entry = store_composed(session, project=project, composed=composed, analysed=a)
    if selected is not None:
        outbox_service.queue_decision_model_tags(session, project=project, entry=entry, run_key=selected)
    return _public(session, project, entry)


def _criterion(index: RunIndex, body: CriterionCreate, *, field: str) -> Criterion:
    scores = {resolve_ref(index, ref, field=f"{field}.scores.{ref}"): v for ref, v in body.scores.items()}
    for ref, value in body.scores.items():
        if not 0 <= value <= 1:
            raise InputInvalid(f"score {value} is outside 0..1", field=f"{field}.scores.{ref}")
    return Criterion(
        name=body.name, weight=body.weight, direction=body.direction, metric=body.metric, why=body.why, scores=scores
    )


def create_reproduction(
    session: Session, *, project: Project, body: ReproductionCreate, public_url: str
) -> EntryPublic:
    """A reproduction report: the run's setup as recorded, as known, as inferred from siblings, and its gaps."""
    for name in body.known:
        if name not in REPRO_FIELDS:
            raise InputInvalid(f"'{name}' is not a setup field ({', '.join(REPRO_FIELDS)})", field=f"known.{name}")
    a = analysed(session, project=project, public_url=public_url)
    key = resolve_ref(run_index(a.inp.runs), body.run, field="run")
    setup = likely_setup(key, a.inp.runs, a.findings, body.known, log_statements(a.ctx.entries))
    composed = compose_reproduction(a.ctx, a.findings, setup, known=body.known)
    return _public(session, project, store_composed(session, project=project, composed=composed, analysed=a))


def create_brief(session: Session, *, project: Project, body: BriefCreate, public_url: str) -> EntryPublic:
    """A handover brief: the goal, what was tried and why it stopped, decisions, the current best and the risks."""
    a = _with_earlier(session, analysed(session, project=project, public_url=public_url, plan=True), project)
    composed = compose_brief(a.ctx, a.findings, audience=body.audience.strip() or "a teammate taking over")
    return _public(session, project, store_composed(session, project=project, composed=composed, analysed=a))


def store_composed(
    session: Session,
    *,
    project: Project,
    composed: Composed,
    analysed: Analysed,
    log_id: int | None = None,
    queue_tags: bool = True,
) -> Entry:
    """Store the document as an entry (version 1) and, unless told not to, queue the runs' labbook.* tags."""
    sources = Sources(ctx=analysed.ctx, findings=analysed.findings)
    entry = entries_service.store_entry(session, project=project, composed=composed, sources=sources, log_id=log_id)
    if queue_tags:
        outbox_service.queue_labbook_tags(session, project=project, findings=analysed.findings)
    return entry


def _public(session: Session, project: Project, entry: Entry) -> EntryPublic:
    return entries_service.to_public_with_writeback(session, entry, project=project)
