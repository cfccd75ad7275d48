"""The analysis as a use case: build `AnalysisInput` from storage (runs, the metric's history, baseline marks,
regroupings and approach marks), run the pure analysis, and hand its findings to the API or the document composers.

Metric switches are entries of kind `metric_switch`; the project row holds the metric in force, so the analysis gets
the metric before the first switch as `primary_metric` and the switches to replay.

Reads are cached per project revision (`project_analysis`, `project_entries`): the revision moves in the transaction
of every write to what they read (app.storage.revisions), so an unchanged project costs one lookup and a changed one
is read again at once, in every process. The key also holds what is read from the project row (metric, direction,
settings), and a session that has written to the project and not committed reads past the cache."""

from __future__ import annotations

import gc
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar, cast

from sqlmodel import Session

from app.analysis.findings import analyze
from app.analysis.metric import value_of
from app.analysis.model import (
    AnalysisInput,
    AnalysisSettings,
    Approach,
    ApproachMark,
    BestLead,
    Direction,
    Finding,
    Findings,
    MarkStatus,
    MetricSwitch,
    ParamChange,
    RunView,
)
from app.compose.contract import DocContext, EntryDigest, ProposedMark
from app.compose.findings import render_findings
from app.compose.labels import labelled
from app.services.labels import run_labels
from app.services.schemas import (
    ApproachMarkPublic,
    ApproachProposedMarkPublic,
    ApproachPublic,
    BestLeadPublic,
    FindingPublic,
    FindingsPublic,
    MetricSwitchPublic,
    NoisePublic,
    ParamChangePublic,
    RunChangesPublic,
)
from app.storage import analysis as analysis_store
from app.storage import declarations as declaration_store
from app.storage import revisions
from app.storage import runs as run_store
from app.storage.models import AnsweredQuestion, ApproachMarkProposal, Entry, Project

METRIC_SWITCH = "metric_switch"
T = TypeVar("T")


def load_input(session: Session, *, project: Project, runs: Iterable[RunView] | None = None) -> AnalysisInput:
    """Everything the analysis reads about the project; `runs` spares loading them again."""
    project_id = cast(int, project.id)
    switches = metric_switches(session, project=project)
    if runs is None:
        runs = load_runs(session, project=project)
    primary, direction = original_metric(project, switches)
    marks = analysis_store.approach_marks(session, project_id=project_id)
    return AnalysisInput(
        runs=tuple(runs),
        primary_metric=primary,
        direction=direction,
        metric_switches=tuple(switches),
        declared_baselines=frozenset(analysis_store.baseline_keys(session, project_id=project_id)),
        approach_overrides=analysis_store.approach_overrides(session, project_id=project_id),
        approach_marks={
            m.name: ApproachMark(cast(MarkStatus, m.status), m.reason, m.marked_by, m.marked_at) for m in marks
        },
        settings=settings_of(project),
    )


def load_runs(session: Session, *, project: Project) -> list[RunView]:
    project_id = cast(int, project.id)
    days = analysis_store.dump_days(session, project_id=project_id)
    return analysis_store.analysis_runs(session, project_id=project_id, dump_days=days)


@dataclass(frozen=True)
class ProjectAnalysis:
    """The project's analysis input and its findings, at one revision (shared by the requests that read it)."""

    inp: AnalysisInput
    findings: Findings


def project_analysis(session: Session, *, project: Project) -> ProjectAnalysis:
    """The input and findings of the project as stored now: from the cache when nothing changed since they were
    computed, else loaded and analysed (with the cyclic garbage collector paused, see `collection_paused`)."""

    def compute() -> ProjectAnalysis:
        with collection_paused():
            inp = load_input(session, project=project)
            return ProjectAnalysis(inp, analyze(inp))

    return _cached(session, project, "analysis", compute, weight=lambda a: len(a.inp.runs))


def project_findings(session: Session, *, project: Project) -> Findings:
    return project_analysis(session, project=project).findings


def analyze_runs(session: Session, *, project: Project, runs: Iterable[RunView]) -> Findings:
    """The findings over runs already loaded (a service that resolved references against them)."""
    return analyze(load_input(session, project=project, runs=runs))


def settings_of(project: Project) -> AnalysisSettings:
    """The project's analysis settings; a setting left unset keeps the default."""
    overrides: dict[str, Any] = {
        name: value
        for name in ("min_effect", "recent_runs", "stall_sessions")
        if (value := getattr(project, name)) is not None
    }
    return AnalysisSettings(**overrides)


def original_metric(project: Project, switches: list[MetricSwitch]) -> tuple[str, Direction]:
    """The metric before the first switch; the project's metric when it never switched."""
    first = switches[0] if switches else None
    if first is not None and first.previous_metric:
        return first.previous_metric, first.previous_direction or cast(Direction, project.metric_direction)
    return project.primary_metric, cast(Direction, project.metric_direction)


def metric_switches(session: Session, *, project: Project) -> list[MetricSwitch]:
    """The recorded switches, oldest effective day first (recording order breaks ties)."""
    entries = analysis_store.entries_of_kind(session, project_id=cast(int, project.id), kinds=[METRIC_SWITCH])
    switches = [s for s in (switch_of(e) for e in entries) if s is not None]
    return sorted(switches, key=lambda s: s.effective)


def switch_of(entry: Entry) -> MetricSwitch | None:
    """The switch a `metric_switch` entry records (its body as `compose_metric_switch` wrote it)."""
    body = entry.body
    try:
        return MetricSwitch(
            metric=str(body["to_metric"]),
            direction=cast(Direction, body["direction"]),
            effective=date.fromisoformat(str(body["effective"])),
            reason=str(body.get("reason", "")),
            previous_metric=body.get("from_metric"),
            previous_direction=body.get("from_direction"),
            entry_id=entry.id,
        )
    except (KeyError, ValueError):
        return None


def doc_context(
    session: Session,
    *,
    project: Project,
    today: date,
    public_url: str = "",
    inp: AnalysisInput | None = None,
) -> DocContext:
    """What every document composer may know about the project: its goal, metric, target, runs and entries."""
    inp = inp or project_analysis(session, project=project).inp
    return DocContext(
        project_slug=project.slug,
        project_name=project.name,
        goal=project.goal,
        primary_metric=inp.primary_metric,
        direction=inp.direction,
        target_value=project.target_value,
        deadline=project.deadline,
        today=today,
        public_url=public_url,
        runs={run.key: run for run in inp.runs},
        entries=project_entries(session, project=project),
        tracking_uri=project.tracking_uri or "",
        experiments=run_store.experiment_ids(session, project_id=cast(int, project.id)) if project.tracking_uri else {},
        proposed={
            row.name: ProposedMark(status=row.status, reason=row.reason)
            for row in declaration_store.mark_proposals(session, project_id=cast(int, project.id))
        },
    )


def project_entries(session: Session, *, project: Project) -> tuple[EntryDigest, ...]:
    """Every entry of the project as the document composers read it, oldest first (cached as the analysis is)."""

    def compute() -> tuple[EntryDigest, ...]:
        entries = analysis_store.entries_of_kind(session, project_id=cast(int, project.id))
        days = analysis_store.log_days(session, log_ids={e.log_id for e in entries if e.log_id is not None})
        answers = declaration_store.answered_questions(session, project_id=cast(int, project.id))
        return tuple(_digest(e, days, answers) for e in entries)

    return _cached(session, project, "entries", compute, weight=len)


def _digest(entry: Entry, log_days: Mapping[int, date], answers: Sequence[AnsweredQuestion]) -> EntryDigest:
    return EntryDigest(
        id=cast(int, entry.id),
        kind=entry.kind,
        created=entry.created_at.date(),
        session_date=log_days.get(entry.log_id) if entry.log_id is not None else None,
        tldr=str(entry.body.get("tldr") or ""),
        run_ids=tuple(entry.run_ids),
        body=entry.body,
        answered=answered_texts(entry, answers),
    )


def open_items(entry: Entry, answers: Sequence[AnsweredQuestion]) -> list[str]:
    """The texts of the entry's open questions, less those that are themselves a recorded answer: a dump's "checked
    the leakage question: no leakage" may be filed under open questions, and answers rather than asks."""
    return open_question_texts(cast(int, entry.id), _question_texts(entry.body), answers)


def open_question_texts(entry_id: int, texts: Sequence[str], answers: Sequence[AnsweredQuestion]) -> list[str]:
    """`open_items` of an entry given by its id and the texts of its open questions alone."""
    quotes = [a.quote for a in answers if a.answer_entry_id == entry_id]
    return [text for text in texts if not any(text in quote for quote in quotes)]


def _question_texts(body: dict[str, Any]) -> list[str]:
    items = body.get("open_questions") or []
    return [str(item["text"]) for item in items if isinstance(item, dict) and item.get("text")]


def is_answered(entry: Entry, text: str, answers: Iterable[AnsweredQuestion]) -> bool:
    return any(a.entry_id == entry.id and a.question == text for a in answers)


def answered_texts(entry: Entry, answers: Sequence[AnsweredQuestion]) -> tuple[str, ...]:
    """The entry's open-question texts that are no longer open: answered since, or answers themselves."""
    still_open = {t for t in open_items(entry, answers) if not is_answered(entry, t, answers)}
    return tuple(t for t in _question_texts(entry.body) if t not in still_open)


# -- public shapes -----------------------------------------------------------------------------------------------------


def findings_public(
    findings: Findings, *, proposed: Mapping[str, ApproachProposedMarkPublic] | None = None
) -> FindingsPublic:
    """The findings as answered; `proposed` (approach name -> proposed mark) is shown on each approach."""
    proposed = proposed or {}
    return FindingsPublic(
        metric=findings.metric,
        direction=findings.direction,
        baseline=findings.baseline,
        baseline_value=findings.baseline_value,
        best=findings.best,
        best_value=findings.best_value,
        noise=NoisePublic(source=findings.noise.source, std=findings.noise.std, min_gain=findings.noise.min_gain),
        stalled=findings.stalled,
        metric_switches=[MetricSwitchPublic(**_switch_fields(s)) for s in findings.metric_switches],
        approaches=[approach_public(a, proposed.get(a.name)) for a in findings.approaches],
        findings=[finding_public(f) for f in findings.findings],
        best_lead=_lead_public(findings.best_lead),
    )


def _lead_public(lead: BestLead | None) -> BestLeadPublic | None:
    if lead is None:
        return None
    return BestLeadPublic(
        runner_up=lead.runner_up,
        runner_up_approach=lead.runner_up_approach,
        lead=lead.lead,
        n_best=lead.n_best,
        n_runner_up=lead.n_runner_up,
        believable_gain=lead.believable_gain,
        beyond_noise=lead.beyond_noise,
    )


def finding_public(f: Finding) -> FindingPublic:
    return FindingPublic(
        kind=f.kind,
        message=f.message,
        run_ids=list(f.run_ids),
        numbers=dict(f.numbers),
        subject=f.subject,
        severity=f.severity,
    )


def _switch_fields(switch: MetricSwitch) -> dict[str, Any]:
    return {name: getattr(switch, name) for name in MetricSwitchPublic.model_fields}


def proposed_marks(session: Session, *, project: Project) -> dict[str, ApproachProposedMarkPublic]:
    """Approach name -> the verdict a brain dump declared on it, waiting for a person."""
    rows = declaration_store.mark_proposals(session, project_id=cast(int, project.id))
    return {row.name: proposed_public(row) for row in rows}


def proposed_public(row: ApproachMarkProposal) -> ApproachProposedMarkPublic:
    status = cast(MarkStatus, row.status)
    return ApproachProposedMarkPublic(status=status, reason=row.reason, log_id=row.log_id, at=row.proposed_at)


def approach_public(approach: Approach, proposed: ApproachProposedMarkPublic | None = None) -> ApproachPublic:
    mark = approach.mark
    return ApproachPublic(
        name=approach.name,
        source=approach.source,
        status=approach.status,
        computed_status=approach.computed_status,
        reason=approach.reason,
        run_ids=list(approach.run_ids),
        best=approach.best,
        best_value=approach.best_value,
        gain_vs_baseline=approach.gain_vs_baseline,
        recent_gain=approach.recent_gain,
        family=approach.family,
        changed_keys=list(approach.changed_keys),
        mark=ApproachMarkPublic(status=mark.status, reason=mark.reason, by=mark.by, at=mark.at) if mark else None,
        proposed_mark=proposed,
    )


def findings_markdown(session: Session, *, project: Project, findings: Findings) -> str:
    """The findings as a Markdown list, each with the runs it comes from by label (people's text escaped)."""
    with labelled(run_labels(session, project=project)):
        return render_findings(project.name, findings)


def run_changes_public(inp: AnalysisInput, findings: Findings, key: str) -> RunChangesPublic:
    """What a run changed against the baseline and its closest earlier configuration, and what was found about it."""
    runs = {r.key: r for r in inp.runs}
    change = findings.changes.get(key)
    closest = change.closest if change else None
    approach = next((a.name for a in findings.approaches if key in a.run_ids), None)
    return RunChangesPublic(
        run=key,
        metric=findings.metric,
        value=value_of(runs[key], findings.metric),
        approach=approach,
        baseline=findings.baseline,
        baseline_value=findings.baseline_value,
        vs_baseline=[_param_change(c) for c in (change.vs_baseline if change else ())],
        closest=closest,
        closest_value=value_of(runs[closest], findings.metric) if closest else None,
        vs_closest=[_param_change(c) for c in (change.vs_closest if change else ())],
        findings=[finding_public(f) for f in findings.findings if f.subject == key],
    )


def _param_change(change: ParamChange) -> ParamChangePublic:
    return ParamChangePublic(key=change.key, before=change.before, after=change.after)


# -- the cache ---------------------------------------------------------------------------------------------------------


class RevisionCache(Generic[T]):
    """A least-recently-used map bounded by weight (the runs or entries its values hold: memory grows with them),
    safe across threads. Concurrent misses of one key compute it once: the others wait for that result, so a burst
    of reads of a big project costs one analysis, not one per request."""

    def __init__(self, max_weight: int) -> None:
        self.max_weight = max_weight
        self.weight = 0
        self.values: OrderedDict[Hashable, tuple[T, int]] = OrderedDict()
        self.lock = threading.Lock()
        self.pending: dict[Hashable, threading.Lock] = {}

    def get(
        self,
        key: Hashable,
        compute: Callable[[], T],
        weight: Callable[[T], int],
        supersedes: Callable[[Hashable], bool] | None = None,
    ) -> T:
        """The value of `key`, computed once on a miss; a computed value replaces the values whose keys it
        `supersedes` (older revisions of the same project)."""
        with self.lock:
            if (found := self._hit(key)) is not None:
                return found[0]
            flight = self.pending.setdefault(key, threading.Lock())
        with flight:
            with self.lock:
                if (found := self._hit(key)) is not None:
                    return found[0]
            try:
                value = compute()
                with self.lock:
                    self._store(key, value, 1 + weight(value))
                    if supersedes is not None:
                        self._drop(lambda other: other != key and supersedes(other))
            finally:
                with self.lock:
                    self.pending.pop(key, None)
        return value

    def clear(self) -> None:
        with self.lock:
            self.values.clear()
            self.weight = 0

    def newest(self, matches: Callable[[Hashable], bool]) -> T | None:
        """The most recently used value whose key `matches`, or None."""
        with self.lock:
            for key in reversed(self.values):
                if matches(key):
                    return self.values[key][0]
        return None

    def _drop(self, matches: Callable[[Hashable], bool]) -> None:
        for other in [k for k in self.values if matches(k)]:
            _, dropped = self.values.pop(other)
            self.weight -= dropped

    def _hit(self, key: Hashable) -> tuple[T, int] | None:
        found = self.values.get(key)
        if found is not None:
            self.values.move_to_end(key)
        return found

    def _store(self, key: Hashable, value: T, weight: int) -> None:
        if weight > self.max_weight:
            return  # bigger than the whole cache: computed for this read only
        self.values[key] = (value, weight)
        self.weight += weight
        while self.weight > self.max_weight:
            _, (_, dropped) = self.values.popitem(last=False)
            self.weight -= dropped


# About 3 KB a run (its view and what the analysis says about it): the default holds the analyses of a
# 100,000-run project and a few smaller ones in well under 1 GB. `configure_cache` sets it from the settings.
DEFAULT_CACHE_RUNS = 250_000
_cache: RevisionCache[Any] = RevisionCache(DEFAULT_CACHE_RUNS)


def configure_cache(*, max_runs: int) -> None:
    """Bound the cache (0 turns it off); what it held is dropped."""
    _cache.clear()
    _cache.max_weight = max_runs


def clear_cache() -> None:
    _cache.clear()


def _cached(
    session: Session, project: Project, kind: str, compute: Callable[[], T], *, weight: Callable[[T], int]
) -> T:
    project_id = cast(int, project.id)
    if revisions.written(session, project_id):
        return compute()  # this session's uncommitted writes: no other read may see them
    # The revision is read before anything it keys, so a value is never older than its key says.
    revision = revisions.current(session, project_id)
    key = (kind, project_id, revision, project.primary_metric, project.metric_direction, settings_of(project))

    def older(other: Hashable) -> bool:  # the same kind and project at another revision: no read will ask again
        return isinstance(other, tuple) and other[:2] == key[:2]

    value: T = _cache.get(key, compute, weight, older)
    return value


def recent(session: Session, project: Project, kind: str) -> Any | None:
    """The newest cached value of `kind` for the project as it was at some recent revision, or None: for what a brain
    dump reads about the project before its own writes (the approaches it may declare dead, the questions earlier
    entries asked), where a recent state is the right one and recomputing the analysis per dump would cost more than
    the dump."""
    scope = (kind, cast(int, project.id))
    rest = (project.primary_metric, project.metric_direction, settings_of(project))
    return _cache.newest(lambda key: isinstance(key, tuple) and key[:2] == scope and key[3:] == rest)


def recent_findings(session: Session, *, project: Project) -> Findings:
    """The findings as of a recent revision (`recent`), else as stored now."""
    cached = recent(session, project, "analysis")
    return cached.findings if isinstance(cached, ProjectAnalysis) else project_findings(session, project=project)


_paused = 0
_paused_lock = threading.Lock()
_was_enabled = False


@contextmanager
def collection_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a project is loaded and analysed. Those allocate a few objects per
    run and free them by reference counting (they hold no cycles), but each of the collector's full passes walks every
    live object, and as 100,000 runs grow the heap it makes enough of them to cost about a third of the analysis. The
    collector resumes when the last overlapping pause ends, unless it was off before.

    On resuming, the objects made meanwhile join the oldest generation at once (`gc.freeze` then `gc.unfreeze`, two
    list splices): otherwise the first allocation after it walks them all as young objects, a million of them for
    100,000 runs, about 0.2 s of the request, only to find no garbage. A garbage cycle other code made meanwhile waits
    for the next full pass. Skipped when something else froze objects (a server that forks workers may), which
    `gc.unfreeze` would release."""
    global _paused, _was_enabled
    with _paused_lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _paused_lock:
            _paused -= 1
            if _paused == 0 and _was_enabled:
                if gc.get_freeze_count() == 0:
                    gc.freeze()
                    gc.unfreeze()
                gc.enable()
