"""Approaches as people shape them: list them with their computed and marked status, regroup runs into a named
approach (this wins over tags and inference), mark an approach abandoned or adopted with a reason (or confirm or
dismiss the mark a brain dump proposed), and mark the project's baseline run. Every change re-runs the analysis
and queues the runs' labbook.* tags for write-back."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import cast

from sqlmodel import Session

from app.analysis.model import Approach, Findings, RunView
from app.compose.log_entry.facts import RunFacts
from app.compose.log_entry.refs import MIN_PREFIX, RunIndex
from app.errors import ApproachNotFound, InputInvalid, RunNotFound
from app.services import analysis as analysis_service
from app.services import outbox as outbox_service
from app.services.auth import Principal
from app.services.schemas import (
    ApproachMarkCreate,
    ApproachPublic,
    ApproachRunsAssign,
    BaselinePublic,
    RunChangesPublic,
)
from app.storage import analysis as analysis_store
from app.storage import declarations as declaration_store
from app.storage import runs as run_store
from app.storage.models import Project

_HEX = re.compile(r"[0-9a-fA-F]+")


def resolve_refs(runs: Iterable[RunView], refs: Sequence[str], *, field: str) -> list[str]:
    """Each reference as a stored run key: a key, a unique 6+ hex ID prefix or a run name; 422 naming
    `field[i]` for one that matches no run, or several."""
    index = run_index(runs)
    return [resolve_ref(index, ref, field=f"{field}[{i}]") for i, ref in enumerate(refs)]


def run_index(runs: Iterable[RunView]) -> RunIndex:
    return RunIndex(RunFacts(r.key, r.run_id, r.name) for r in runs)


def resolve_ref(index: RunIndex, ref: str, *, field: str) -> str:
    run = index.by_key(ref)
    candidates: tuple[str, ...] = ()
    if run is None and len(ref) >= MIN_PREFIX and _HEX.fullmatch(ref):
        run, candidates = index.by_hex(ref)
    if run is None and not candidates:
        run, candidates = index.by_name(ref)
    if run is not None:
        return run.key
    if len(candidates) > 1:
        shown = ", ".join(candidates[:3])
        raise InputInvalid(f"'{ref}' matches {len(candidates)} runs ({shown}); send more of the ID", field=field)
    raise InputInvalid(f"'{ref}' is not a stored run of this project", field=field)


def run_changes(session: Session, *, project: Project, run_ref: str) -> RunChangesPublic:
    """One run's place in the history: what it changed against the baseline and against its closest earlier
    configuration, its approach, and the findings about it. `run_ref`: a key, a 6+ hex ID prefix or a name."""
    analysis = analysis_service.project_analysis(session, project=project)
    key = resolve_ref(run_index(analysis.inp.runs), run_ref, field="run_key")
    return analysis_service.run_changes_public(analysis.inp, analysis.findings, key)


def list_approaches(session: Session, *, project: Project) -> list[ApproachPublic]:
    findings = analysis_service.project_findings(session, project=project)
    proposed = analysis_service.proposed_marks(session, project=project)
    return [analysis_service.approach_public(a, proposed.get(a.name)) for a in findings.approaches]


def regroup_runs(
    session: Session, *, project: Project, principal: Principal, name: str, body: ApproachRunsAssign
) -> ApproachPublic:
    """Put the runs in approach `name` (a new name makes a new approach)."""
    name = name.strip()
    if not name:
        raise InputInvalid("the approach needs a name", field="name")
    runs = analysis_service.load_runs(session, project=project)
    keys = resolve_refs(runs, body.run_keys, field="run_keys")
    analysis_store.assign_approach(
        session, project_id=cast(int, project.id), run_keys=keys, approach=name, by=principal.name
    )
    return _approach(_refresh(session, project, runs), name, session=session, project=project)


def ungroup_run(session: Session, *, project: Project, name: str, run_key: str) -> ApproachPublic | None:
    """Give the run back to its tag or inference; the approach as it is now (None when it has no runs left)."""
    runs = analysis_service.load_runs(session, project=project)
    key = resolve_ref(run_index(runs), run_key, field="run_key")
    overrides = analysis_store.approach_overrides(session, project_id=cast(int, project.id))
    if overrides.get(key) != name:
        raise InputInvalid(f"run '{key}' was not regrouped into approach '{name}'", field="run_key")
    analysis_store.unassign_approach(session, project_id=cast(int, project.id), run_key=key)
    findings = _refresh(session, project, runs)
    proposed = analysis_service.proposed_marks(session, project=project).get(name)
    return next((analysis_service.approach_public(a, proposed) for a in findings.approaches if a.name == name), None)


def mark_approach(
    session: Session, *, project: Project, principal: Principal, name: str, body: ApproachMarkCreate
) -> ApproachPublic:
    """Record a verdict that overrides the computed status (which is still reported beside it). A mark a brain dump
    proposed for the approach is settled by it."""
    return _mark(session, project=project, name=name, status=body.status, reason=body.reason, by=principal.name)


def _mark(session: Session, *, project: Project, name: str, status: str, reason: str, by: str) -> ApproachPublic:
    project_id = cast(int, project.id)
    runs = analysis_service.load_runs(session, project=project)
    _find(analysis_service.analyze_runs(session, project=project, runs=runs), name)
    analysis_store.set_approach_mark(session, project_id=project_id, name=name, status=status, reason=reason, by=by)
    declaration_store.delete_mark_proposal(session, project_id=project_id, name=name)
    return _approach(_refresh(session, project, runs), name, session=session, project=project)


def confirm_proposed_mark(session: Session, *, project: Project, principal: Principal, name: str) -> ApproachPublic:
    """Apply the mark a brain dump proposed, with its sentence as the reason, in the confirming person's name."""
    proposal = declaration_store.get_mark_proposal(session, project_id=cast(int, project.id), name=name)
    if proposal is None:
        raise ApproachNotFound(f"approach '{name}' has no proposed mark", field="name")
    return _mark(session, project=project, name=name, status=proposal.status, reason=proposal.reason, by=principal.name)


def dismiss_proposed_mark(session: Session, *, project: Project, name: str) -> ApproachPublic:
    """Drop the mark a brain dump proposed; the approach keeps its status."""
    if not declaration_store.delete_mark_proposal(session, project_id=cast(int, project.id), name=name):
        raise ApproachNotFound(f"approach '{name}' has no proposed mark", field="name")
    findings = analysis_service.project_findings(session, project=project)
    return _approach(findings, name, session=session, project=project)


def unmark_approach(session: Session, *, project: Project, name: str) -> ApproachPublic:
    if not analysis_store.delete_approach_mark(session, project_id=cast(int, project.id), name=name):
        raise ApproachNotFound(f"approach '{name}' is not marked", field="name")
    runs = analysis_service.load_runs(session, project=project)
    return _approach(_refresh(session, project, runs), name, session=session, project=project)


def set_baseline(session: Session, *, project: Project, run_key: str, baseline: bool) -> BaselinePublic:
    """Mark the run as the project's one baseline (any other mark is removed), or remove its mark."""
    run = run_store.get_run_by_key(session, project_id=cast(int, project.id), key=run_key)
    if run is None:
        raise RunNotFound(f"no run '{run_key}' in project '{project.slug}'", field="run_key")
    before = analysis_store.baseline_keys(session, project_id=cast(int, project.id))
    if baseline:
        analysis_store.set_baseline(session, project_id=cast(int, project.id), key=run.key)
    elif run.key in before:
        analysis_store.set_baseline(session, project_id=cast(int, project.id), key=None)
    findings = _refresh(session, project, analysis_service.load_runs(session, project=project))
    unmarked = [k for k in before if k != run.key] if baseline else [k for k in before if k == run.key]
    return BaselinePublic(baseline=findings.baseline, baseline_value=findings.baseline_value, unmarked=unmarked)


def _refresh(session: Session, project: Project, runs: list[RunView]) -> Findings:
    """The findings after a change, with the runs' labbook.* tags queued for write-back."""
    findings = analysis_service.analyze_runs(session, project=project, runs=runs)
    outbox_service.queue_labbook_tags(session, project=project, findings=findings)
    return findings


def _approach(findings: Findings, name: str, *, session: Session, project: Project) -> ApproachPublic:
    """The approach as answered, with the mark a brain dump proposed for it."""
    found = _find(findings, name)
    proposed = analysis_service.proposed_marks(session, project=project).get(name)
    return analysis_service.approach_public(found, proposed)


def _find(findings: Findings, name: str) -> Approach:
    found: Approach | None = next((a for a in findings.approaches if a.name == name), None)
    if found is None:
        known = ", ".join(a.name for a in findings.approaches) or "none yet"
        raise ApproachNotFound(f"no approach '{name}' (approaches: {known})", field="name")
    return found
