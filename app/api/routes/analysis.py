"""The reasoning core over HTTP: findings, approaches (regroup, mark), the baseline mark, metric switches, and the
documents composed from the analysis (summaries, next experiments, tried, decisions, reproductions, briefs)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from app.api.deps import PrefersMarkdownDep, PrincipalDep, ProjectDep, SessionDep, SettingsDep
from app.api.negotiation import MARKDOWN_RESPONSE, markdown_response
from app.services import analysis as analysis_service
from app.services import approaches as approaches_service
from app.services import documents as documents_service
from app.services import metric_switches as switches_service
from app.services.schemas import (
    ApproachMarkCreate,
    ApproachPublic,
    ApproachRunsAssign,
    BaselinePublic,
    BriefCreate,
    DecisionCreate,
    EntryPublic,
    FindingsPublic,
    MetricSwitchCreate,
    NextExperimentsCreate,
    ReproductionCreate,
    RunChangesPublic,
    SummaryCreate,
    TriedCreate,
)

router = APIRouter(prefix="/projects/{slug}", tags=["analysis"])

ApproachPath = Annotated[str, Path(min_length=1, max_length=200, description="The approach's name.")]
RunKeyPath = Annotated[str, Path(min_length=1, max_length=300, description="The run's key (its run ID).")]
_MD201: dict[int | str, dict[str, Any]] = {201: MARKDOWN_RESPONSE[200]}


def _document(markdown: bool, entry: EntryPublic) -> EntryPublic | Response:
    """The entry as JSON, or its Markdown alone (201 either way)."""
    if not markdown:
        return entry
    response = markdown_response(entry.markdown)
    response.status_code = 201
    return response


@router.get("/findings", response_model=FindingsPublic, operation_id="get_findings", responses=MARKDOWN_RESPONSE)
def get_findings(project: ProjectDep, session: SessionDep, markdown: PrefersMarkdownDep) -> FindingsPublic | Response:
    """Analyse the project's runs on the metric in force: baseline (or its absence), current best, seed noise,
    improvements within noise, runs that changed several things at once, duplicates, stalls, reproduction gaps,
    approach statuses and metric switches. Every finding carries its numbers and the runs it comes from. With
    `Accept: text/markdown`, answers with a Markdown list."""
    findings = analysis_service.project_findings(session, project=project)
    if markdown:
        return markdown_response(analysis_service.findings_markdown(project, findings))
    return analysis_service.findings_public(findings)


@router.get("/approaches", response_model=list[ApproachPublic], operation_id="list_approaches")
def list_approaches(project: ProjectDep, session: SessionDep) -> list[ApproachPublic]:
    """List the project's approaches (lines of inquiry) with their runs, best run, status (active, converging,
    plateaued, exhausted, or a person's abandoned/adopted mark), the computed status and the reason."""
    return approaches_service.list_approaches(session, project=project)


@router.post("/approaches/{name}/runs", response_model=ApproachPublic, operation_id="regroup_runs")
def regroup_runs(
    name: ApproachPath, body: ApproachRunsAssign, project: ProjectDep, principal: PrincipalDep, session: SessionDep
) -> ApproachPublic:
    """Put runs into the approach `name` (a new name starts a new approach). This wins over the runs' approach tag
    and over inference, until the run is given back with DELETE."""
    return approaches_service.regroup_runs(session, project=project, principal=principal, name=name, body=body)


@router.delete(
    "/approaches/{name}/runs/{run_key:path}", response_model=ApproachPublic | None, operation_id="ungroup_run"
)
def ungroup_run(name: ApproachPath, run_key: RunKeyPath, project: ProjectDep, session: SessionDep) -> Any:
    """Give a regrouped run back to its tag or inferred approach. Answers the approach as it is now (null when it
    has no runs left)."""
    return approaches_service.ungroup_run(session, project=project, name=name, run_key=run_key)


@router.put("/approaches/{name}/mark", response_model=ApproachPublic, operation_id="mark_approach")
def mark_approach(
    name: ApproachPath, body: ApproachMarkCreate, project: ProjectDep, principal: PrincipalDep, session: SessionDep
) -> ApproachPublic:
    """Mark an approach abandoned or adopted, with the reason. The mark overrides the reported status; the computed
    status is still shown beside it."""
    return approaches_service.mark_approach(session, project=project, principal=principal, name=name, body=body)


@router.delete("/approaches/{name}/mark", response_model=ApproachPublic, operation_id="unmark_approach")
def unmark_approach(name: ApproachPath, project: ProjectDep, session: SessionDep) -> ApproachPublic:
    """Remove a person's mark from an approach: its computed status applies again."""
    return approaches_service.unmark_approach(session, project=project, name=name)


@router.get("/runs/{run_key:path}/changes", response_model=RunChangesPublic, operation_id="get_run_changes")
def get_run_changes(run_key: str, project: ProjectDep, session: SessionDep) -> RunChangesPublic:
    """What one run changed: its parameter diff against the baseline and against its closest earlier configuration
    (the earlier run differing in the fewest parameters, seeds ignored, not merely the previous run), its approach,
    and the findings about it (more than one change at once, duplicate, within noise, reproduction gaps)."""
    return approaches_service.run_changes(session, project=project, run_ref=run_key)


@router.put("/runs/{run_key:path}/baseline", response_model=BaselinePublic, operation_id="mark_baseline")
def mark_baseline(run_key: RunKeyPath, project: ProjectDep, session: SessionDep) -> BaselinePublic:
    """Mark a run as the project's baseline: every improvement is judged against it. A project has one baseline;
    marking a run removes the mark from any other."""
    return approaches_service.set_baseline(session, project=project, run_key=run_key, baseline=True)


@router.delete("/runs/{run_key:path}/baseline", response_model=BaselinePublic, operation_id="unmark_baseline")
def unmark_baseline(run_key: RunKeyPath, project: ProjectDep, session: SessionDep) -> BaselinePublic:
    """Remove a run's baseline mark (a `baseline` tag on the run still declares it)."""
    return approaches_service.set_baseline(session, project=project, run_key=run_key, baseline=False)


@router.post("/metric-switches", status_code=201, response_model=EntryPublic, operation_id="switch_metric")
def switch_metric(
    body: MetricSwitchCreate, project: ProjectDep, session: SessionDep, settings: SettingsDep
) -> EntryPublic:
    """Switch the project's primary metric, with the reason (and from when). Recorded as a `metric_switch` entry;
    from then on the best run, approach statuses and noise are judged on the new metric, and reports say when and
    why it changed. `direction` defaults to min for loss- or error-like names, else max."""
    return switches_service.create_metric_switch(session, project=project, body=body, public_url=settings.public_url)


@router.get("/metric-switches", response_model=list[EntryPublic], operation_id="list_metric_switches")
def list_metric_switches(project: ProjectDep, session: SessionDep) -> list[EntryPublic]:
    """List the project's primary-metric switches, oldest first: from what, to what, when and why."""
    return switches_service.list_metric_switches(session, project=project)


@router.post("/summaries", status_code=201, response_model=EntryPublic, operation_id="create_summary", responses=_MD201)
def create_summary(
    project: ProjectDep,
    session: SessionDep,
    settings: SettingsDep,
    markdown: PrefersMarkdownDep,
    body: SummaryCreate | None = None,
) -> EntryPublic | Response:
    """Write a phase summary (kind `phase_summary`) of the sessions between `since` and `until`: approaches and
    their status with evidence, what was closed and why, the current best, metric switches, open questions and the
    plan. Stored as an entry. With `Accept: text/markdown`, answers with the Markdown alone."""
    body = body or SummaryCreate()  # no body: the whole history
    entry = documents_service.create_summary(session, project=project, body=body, public_url=settings.public_url)
    return _document(markdown, entry)


@router.post(
    "/next-experiments",
    status_code=201,
    response_model=EntryPublic,
    operation_id="create_next_experiments",
    responses=_MD201,
)
def create_next_experiments(
    project: ProjectDep,
    session: SessionDep,
    settings: SettingsDep,
    markdown: PrefersMarkdownDep,
    body: NextExperimentsCreate | None = None,
) -> EntryPublic | Response:
    """Propose the next experiments (kind `next_experiments`), ranked toward the target within the deadline and
    budget, each with its evidence and cost; low-return lines and whether to reframe. With `Accept: text/markdown`,
    answers with the Markdown alone."""
    entry = documents_service.create_next_experiments(
        session, project=project, body=body or NextExperimentsCreate(), public_url=settings.public_url
    )
    return _document(markdown, entry)


@router.post("/tried", status_code=201, response_model=EntryPublic, operation_id="check_tried", responses=_MD201)
def check_tried(
    body: TriedCreate, project: ProjectDep, session: SessionDep, settings: SettingsDep, markdown: PrefersMarkdownDep
) -> EntryPublic | Response:
    """Answer "has this been tried?" for a proposal in words (kind `tried_answer`): tried, similar or new, with
    the matching runs, their results and how they differ. With `Accept: text/markdown`, the Markdown alone."""
    entry = documents_service.create_tried(session, project=project, body=body, public_url=settings.public_url)
    return _document(markdown, entry)


@router.post(
    "/decisions", status_code=201, response_model=EntryPublic, operation_id="create_decision", responses=_MD201
)
def create_decision(
    body: DecisionCreate, project: ProjectDep, session: SessionDep, settings: SettingsDep, markdown: PrefersMarkdownDep
) -> EntryPublic | Response:
    """Record a model selection decision (kind `selection_decision`): finalists ranked by weighted criteria (stored
    metrics or a person's scores), the choice, its rationale and the trade-offs it accepts. A selected run is tagged
    in MLflow. With `Accept: text/markdown`, answers with the Markdown alone."""
    entry = documents_service.create_decision(session, project=project, body=body, public_url=settings.public_url)
    return _document(markdown, entry)


@router.post(
    "/reproductions",
    status_code=201,
    response_model=EntryPublic,
    operation_id="create_reproduction",
    responses=_MD201,
)
def create_reproduction(
    body: ReproductionCreate,
    project: ProjectDep,
    session: SessionDep,
    settings: SettingsDep,
    markdown: PrefersMarkdownDep,
) -> EntryPublic | Response:
    """Write a reproduction report for a run (kind `reproduction_report`): its setup as recorded, as you know it,
    or inferred from sibling runs, the gaps to fill, and the value to expect within noise."""
    entry = documents_service.create_reproduction(session, project=project, body=body, public_url=settings.public_url)
    return _document(markdown, entry)


@router.post("/briefs", status_code=201, response_model=EntryPublic, operation_id="create_brief", responses=_MD201)
def create_brief(
    project: ProjectDep,
    session: SessionDep,
    settings: SettingsDep,
    markdown: PrefersMarkdownDep,
    body: BriefCreate | None = None,
) -> EntryPublic | Response:
    """Write a handover brief (kind `handover_brief`) for someone taking over: the goal, approaches and why they
    stopped, decisions, the current best and the risks. With `Accept: text/markdown`, the Markdown alone."""
    body = body or BriefCreate()
    entry = documents_service.create_brief(session, project=project, body=body, public_url=settings.public_url)
    return _document(markdown, entry)
