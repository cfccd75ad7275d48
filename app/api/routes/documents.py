"""Metric switches and the documents composed from the analysis over HTTP (summaries, next experiments, tried,
decisions, reproductions, briefs)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from app.api.deps import PhrasingDep, PrefersMarkdownDep, ProjectDep, SessionDep, SettingsDep
from app.api.negotiation import MARKDOWN_RESPONSE, markdown_response
from app.services import documents as documents_service
from app.services import metric_switches as switches_service
from app.services import phrasing as phrasing_service
from app.services.schemas import (
    BriefCreate,
    DecisionCreate,
    EntryPublic,
    MetricSwitchCreate,
    NextExperimentsCreate,
    ReproductionCreate,
    SummaryCreate,
    TriedCreate,
)

router = APIRouter(prefix="/projects/{slug}", tags=["analysis"])

_MD201: dict[int | str, dict[str, Any]] = {201: MARKDOWN_RESPONSE[200]}


def _document(markdown: bool, entry: EntryPublic) -> EntryPublic | Response:
    """The entry as JSON, or its Markdown alone (201 either way)."""
    if not markdown:
        return entry
    response = markdown_response(entry.markdown)
    response.status_code = 201
    return response


def _follow(
    session: SessionDep, entry: EntryPublic, project: ProjectDep, settings: SettingsDep, phrasing: PhrasingDep
) -> EntryPublic:
    """The stored entry, with a configured model's version on its way (or in place, with `wait=true`)."""
    return phrasing_service.follow(session, entry, project=project, settings=settings, request=phrasing)


@router.post("/metric-switches", status_code=201, response_model=EntryPublic, operation_id="switch_metric")
def switch_metric(
    body: MetricSwitchCreate, project: ProjectDep, session: SessionDep, settings: SettingsDep, phrasing: PhrasingDep
) -> EntryPublic:
    """Switch the project's primary metric, with the reason (and from when). Recorded as a `metric_switch` entry;
    from then on the best run, approach statuses and noise are judged on the new metric, and reports say when and
    why it changed. `direction` defaults to min for loss- or error-like names, else max."""
    entry = switches_service.create_metric_switch(session, project=project, body=body, public_url=settings.public_url)
    return _follow(session, entry, project, settings, phrasing)


@router.get("/metric-switches", response_model=list[EntryPublic], operation_id="list_metric_switches")
def list_metric_switches(project: ProjectDep, session: SessionDep) -> list[EntryPublic]:
    """List the project's primary-metric switches, oldest first: from what, to what, when and why."""
    return switches_service.list_metric_switches(session, project=project)


@router.post(
    "/summaries",
    status_code=201,
    response_model=EntryPublic,
    operation_id="create_summary",
    summary="Write a phase summary",
    responses=_MD201,
)
def create_summary(
    project: ProjectDep,
    session: SessionDep,
    settings: SettingsDep,
    markdown: PrefersMarkdownDep,
    phrasing: PhrasingDep,
    body: SummaryCreate | None = None,
) -> EntryPublic | Response:
    """Write a phase summary (kind `phase_summary`) of the sessions between `since` and `until`: approaches and
    their status with evidence, what was closed and why, the current best, metric switches, open questions and the
    plan. Stored as an entry. With `Accept: text/markdown`, answers with the Markdown alone."""
    body = body or SummaryCreate()  # no body: the whole history
    entry = documents_service.create_summary(session, project=project, body=body, public_url=settings.public_url)
    return _document(markdown, _follow(session, entry, project, settings, phrasing))


@router.post(
    "/next-experiments",
    status_code=201,
    response_model=EntryPublic,
    operation_id="create_next_experiments",
    summary="Propose the next experiments",
    responses=_MD201,
)
def create_next_experiments(
    project: ProjectDep,
    session: SessionDep,
    settings: SettingsDep,
    markdown: PrefersMarkdownDep,
    phrasing: PhrasingDep,
    body: NextExperimentsCreate | None = None,
) -> EntryPublic | Response:
    """Propose the next experiments (kind `next_experiments`), ranked toward the target within the deadline and
    budget, each with its evidence and cost; low-return lines and whether to reframe. With `Accept: text/markdown`,
    answers with the Markdown alone."""
    entry = documents_service.create_next_experiments(
        session, project=project, body=body or NextExperimentsCreate(), public_url=settings.public_url
    )
    return _document(markdown, _follow(session, entry, project, settings, phrasing))


@router.post(
    "/tried",
    status_code=201,
    response_model=EntryPublic,
    operation_id="check_tried",
    summary="Has this been tried?",
    responses=_MD201,
)
def check_tried(
    body: TriedCreate,
    project: ProjectDep,
    session: SessionDep,
    settings: SettingsDep,
    markdown: PrefersMarkdownDep,
    phrasing: PhrasingDep,
) -> EntryPublic | Response:
    """Answer "has this been tried?" for a proposal in words (kind `tried_answer`): tried, similar or new, with
    the matching runs, their results and how they differ. With `Accept: text/markdown`, the Markdown alone."""
    entry = documents_service.create_tried(session, project=project, body=body, public_url=settings.public_url)
    return _document(markdown, _follow(session, entry, project, settings, phrasing))


@router.post(
    "/decisions",
    status_code=201,
    response_model=EntryPublic,
    operation_id="create_decision",
    summary="Record a model selection decision",
    responses=_MD201,
)
def create_decision(
    body: DecisionCreate,
    project: ProjectDep,
    session: SessionDep,
    settings: SettingsDep,
    markdown: PrefersMarkdownDep,
    phrasing: PhrasingDep,
) -> EntryPublic | Response:
    """Record a model selection decision (kind `selection_decision`): finalists ranked by weighted criteria (stored
    metrics or a person's scores), the choice, its rationale and the trade-offs it accepts. A selected run is tagged
    in MLflow. With `Accept: text/markdown`, answers with the Markdown alone."""
    entry = documents_service.create_decision(session, project=project, body=body, public_url=settings.public_url)
    return _document(markdown, _follow(session, entry, project, settings, phrasing))


@router.post(
    "/reproductions",
    status_code=201,
    response_model=EntryPublic,
    operation_id="create_reproduction",
    summary="Write a reproduction report for a run",
    responses=_MD201,
)
def create_reproduction(
    body: ReproductionCreate,
    project: ProjectDep,
    session: SessionDep,
    settings: SettingsDep,
    markdown: PrefersMarkdownDep,
    phrasing: PhrasingDep,
) -> EntryPublic | Response:
    """Write a reproduction report for a run (kind `reproduction_report`): its setup as recorded, as you know it,
    or inferred from sibling runs, the gaps to fill, and the value to expect within noise. With `Accept: text/markdown`,
    answers with the Markdown alone."""
    entry = documents_service.create_reproduction(session, project=project, body=body, public_url=settings.public_url)
    return _document(markdown, _follow(session, entry, project, settings, phrasing))


@router.post(
    "/briefs",
    status_code=201,
    response_model=EntryPublic,
    operation_id="create_brief",
    summary="Write a handover brief",
    responses=_MD201,
)
def create_brief(
    project: ProjectDep,
    session: SessionDep,
    settings: SettingsDep,
    markdown: PrefersMarkdownDep,
    phrasing: PhrasingDep,
    body: BriefCreate | None = None,
) -> EntryPublic | Response:
    """Write a handover brief (kind `handover_brief`) for someone taking over: the goal, approaches and why they
    stopped, decisions, the current best and the risks. With `Accept: text/markdown`, the Markdown alone."""
    body = body or BriefCreate()
    entry = documents_service.create_brief(session, project=project, body=body, public_url=settings.public_url)
    return _document(markdown, _follow(session, entry, project, settings, phrasing))
