"""Approaches over HTTP (list, regroup runs, mark abandoned or adopted), one run's changes, and the baseline mark."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from app.api.deps import PrincipalDep, ProjectDep, SessionDep
from app.api.responses import errors
from app.services import approaches as approaches_service
from app.services.schemas import (
    ApproachMarkCreate,
    ApproachPublic,
    ApproachRunsAssign,
    BaselinePublic,
    RunChangesPublic,
)

router = APIRouter(prefix="/projects/{slug}", tags=["analysis"])

ApproachPath = Annotated[str, Path(min_length=1, max_length=200, description="The approach's name.")]
RunKeyPath = Annotated[str, Path(min_length=1, max_length=300, description="The run's key (its run ID).")]


@router.get("/approaches", response_model=list[ApproachPublic], operation_id="list_approaches")
def list_approaches(project: ProjectDep, session: SessionDep) -> list[ApproachPublic]:
    """List the project's approaches (lines of inquiry) with their runs, best run, status (active, converging,
    plateaued, exhausted, or a person's abandoned/adopted mark), the computed status and the reason."""
    return approaches_service.list_approaches(session, project=project)


@router.post(
    "/approaches/{name}/runs", response_model=ApproachPublic, operation_id="regroup_runs", responses=errors(409)
)
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


@router.put(
    "/approaches/{name}/mark", response_model=ApproachPublic, operation_id="mark_approach", responses=errors(409)
)
def mark_approach(
    name: ApproachPath, body: ApproachMarkCreate, project: ProjectDep, principal: PrincipalDep, session: SessionDep
) -> ApproachPublic:
    """Mark an approach abandoned or adopted, with the reason. The mark overrides the reported status; the computed
    status is still shown beside it. It settles any mark a brain dump proposed for the approach."""
    return approaches_service.mark_approach(session, project=project, principal=principal, name=name, body=body)


@router.post("/approaches/{name}/mark/confirm", response_model=ApproachPublic, operation_id="confirm_proposed_mark")
def confirm_proposed_mark(
    name: ApproachPath, project: ProjectDep, principal: PrincipalDep, session: SessionDep
) -> ApproachPublic:
    """Confirm the mark a brain dump proposed for the approach (`proposed_mark`): it becomes the approach's mark,
    with the dump's sentence as its reason, in your name. 404 when the approach has no proposed mark."""
    return approaches_service.confirm_proposed_mark(session, project=project, principal=principal, name=name)


@router.delete("/approaches/{name}/mark/proposal", response_model=ApproachPublic, operation_id="dismiss_proposed_mark")
def dismiss_proposed_mark(name: ApproachPath, project: ProjectDep, session: SessionDep) -> ApproachPublic:
    """Dismiss the mark a brain dump proposed for the approach; its status stays as it is."""
    return approaches_service.dismiss_proposed_mark(session, project=project, name=name)


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
