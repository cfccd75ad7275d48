"""The bodies of the generated documents, one pydantic model per kind, defined once, here.

The offline composers build them; the LLM path (later) asks a model for `model_json_schema()` and validates the
answer against the same class. Every number a body states sits next to the run keys it comes from (an `Evidence`, a
row naming its run, or a `Cost` naming the runs whose durations it is the median of), so
`check_document_grounding` can trace it back to a stored value.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.analysis.model import ApproachStatus, Direction, NoiseSource, SetupSource, ToleranceRule, TriedVerdict

SuggestionKind = Literal["baseline", "seed_repeats", "continue", "neighbour", "reframe", "harden", "stated"]
# Where a suggestion comes from: computed from the runs, a dump's stated next step, or an open question of a dump that
# an experiment can answer.
SuggestionSource = Literal["computed", "stated", "question"]
ChangeRule = Literal["ratio", "step", "stored_value", "new_seed"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Evidence(_Frozen):
    """Numbers by name and the runs they come from."""

    run_ids: list[str] = Field(default_factory=list)
    numbers: dict[str, float] = Field(default_factory=dict)


class Quote(_Frozen):
    """A person's statement from a log entry, verbatim, with the runs it cites."""

    text: str
    entry_id: int
    day: date
    run_ids: list[str] = Field(default_factory=list)


class SwitchNote(_Frozen):
    metric: str
    direction: Direction
    previous_metric: str | None
    effective: date
    reason: str
    entry_id: int | None = None


class LeadNote(_Frozen):
    """Is the best really the best: its lead over the runner-up (the best run of another approach, else of another
    configuration), each side its configuration's mean over `n` seed repeats, against the believable gain for them."""

    runner_up: str
    runner_up_source: Literal["approach", "configuration"] | None
    runner_up_approach: str | None
    runner_up_value: float  # the runner-up side: its configuration's mean over n_runner_up seeds
    best_value: float  # the best side, likewise
    n_best: int
    n_runner_up: int
    lead: float
    seed_sd: float | None
    believable_gain: float
    beyond_noise: bool | None
    evidence: Evidence


class BestNote(_Frozen):
    """The best run on the metric in force, its gain over the baseline and whether that gain clears the noise, with
    the seed sd and the believable gain as two named numbers, and its lead over the runner-up.

    `noise_threshold` is the believable gain under the name bodies stored before the seed sd and the believable gain
    were told apart; `seed_sd`, `believable_gain` and `lead` are absent from those bodies."""

    key: str
    metric: str
    value: float
    approach: str | None
    baseline: str | None
    baseline_value: float | None
    gain_vs_baseline: float | None
    noise_source: NoiseSource
    noise_threshold: float
    beyond_noise: bool | None
    evidence: Evidence
    seed_sd: float | None = None
    believable_gain: float | None = None
    lead: LeadNote | None = None


class ProposedNote(_Frozen):
    """A mark a brain dump proposed for an approach ("dropping them"), waiting for a person to confirm it."""

    status: str
    reason: str


class EarlierDoc(_Frozen):
    """An earlier document about the approach, linked (its words are not quoted again)."""

    entry_id: int
    kind: str
    date: date
    link: str


class ApproachNote(_Frozen):
    name: str
    status: ApproachStatus
    computed_status: ApproachStatus
    reason: str
    run_ids: list[str]
    best: str | None
    evidence: Evidence
    conclusions: list[Quote] = Field(default_factory=list)
    did_not_work: list[Quote] = Field(default_factory=list)
    open_questions: list[Quote] = Field(default_factory=list)  # its own; the summary's keeps the rest
    proposed: ProposedNote | None = None  # a mark a dump proposed, not yet confirmed
    earlier: list[EarlierDoc] = Field(default_factory=list)  # earlier documents that discuss it


class DecisionNote(_Frozen):
    entry_id: int
    day: date
    title: str
    decision: str
    rationale: str
    run_ids: list[str]
    rationale_source: Literal["person", "ranking"] | None = None  # None: stored before it was recorded here


class ParamProposal(_Frozen):
    """One proposed parameter value: `ratio`/`step` continue the change from `from_runs[0]` to `from_runs[1]` applied
    to `base`'s value; `stored_value` is a value `from_runs[0]` has stored; `new_seed` is a seed not yet used."""

    param: str
    current: str | None
    proposed: str
    rule: ChangeRule
    base: str
    from_runs: list[str] = Field(default_factory=list)


class Cost(_Frozen):
    """Estimated compute per run: the median `duration_s` of `from_runs` (similar runs), or unknown."""

    runs: int
    seconds_per_run: float | None
    from_runs: list[str] = Field(default_factory=list)


class Suggestion(_Frozen):
    """One candidate experiment. `source` says where it comes from; a computed candidate a dump also proposed keeps
    source "computed" and carries that dump's `entry_id` and `quote` (the person's words, verbatim), as a stated
    step or an open question does."""

    rank: int | None
    kind: SuggestionKind
    title: str
    why: str
    approach: str | None = None
    base: str | None = None
    changes: list[ParamProposal] = Field(default_factory=list)
    cost: Cost
    evidence: Evidence
    dropped_because: str = ""
    source: SuggestionSource = "computed"
    entry_id: int | None = None
    quote: str | None = None


class LowRoi(_Frozen):
    subject: str
    reason: str
    evidence: Evidence
    # What it is ("approach", "duplicate", "within_noise"; "" in bodies stored before kinds were recorded) and how
    # many findings it stands for (the line counting the earlier ones stands for all of them, with no subject).
    kind: str = ""
    count: int = 1


class AuditNote(_Frozen):
    """One audit finding (`app.analysis.audit`): its kind, the run it is about, the finding's sentence, its runs and
    numbers, and the run's change as the log describes it (the agent's or a person's words, or None)."""

    kind: str
    subject: str
    text: str
    evidence: Evidence
    change: str | None = None


class LineNote(_Frozen):
    """A line of work of an experiment loop (`app.analysis.lines`): its runs in history order, those kept with a gain
    beyond the noise, the changes tried again, the crashed, and whether the line is exhausted (none of its last
    `EXHAUSTED_AFTER` scored runs was kept beyond the noise)."""

    name: str
    run_ids: list[str]
    kept: list[str]
    retried: list[str]
    crashed: list[str]
    exhausted: bool


class Pivot(_Frozen):
    pivot: bool
    argument: str
    evidence: Evidence


class PlanRequest(_Frozen):
    target: float | None = None
    deadline: date | None = None
    budget_runs: int | None = None
    budget_hours: float | None = None
    days_left: int | None = None


class PhaseSummary(_Frozen):
    schema_version: Literal["phase_summary/1"] = "phase_summary/1"
    since: date | None
    until: date | None
    metric: str
    direction: Direction
    approaches: list[ApproachNote]
    closed: list[ApproachNote]
    remaining: list[ApproachNote]
    open_questions: list[Quote]
    current_best: BestNote | None
    metric_switches: list[SwitchNote]
    plan: list[Suggestion]
    run_ids: list[str]
    # Statements about no one approach (each approach's own sit on its note), and the recorded choice of model:
    # bodies stored before these fields have none.
    conclusions: list[Quote] = Field(default_factory=list)
    did_not_work: list[Quote] = Field(default_factory=list)
    selected: str | None = None  # the run the most recent selection decision (up to the window's end) selected
    selected_value: float | None = None  # its value on the metric in force (absent before it was recorded)
    selection: DecisionNote | None = None  # that decision
    lines: list[LineNote] = Field(default_factory=list)  # an experiment loop's lines of work (runs with a change)
    audit: list[AuditNote] = Field(default_factory=list)  # the audit's findings on the runs it covers


class NextExperiments(_Frozen):
    schema_version: Literal["next_experiments/1"] = "next_experiments/1"
    request: PlanRequest
    metric: str
    direction: Direction
    best: BestNote | None
    target_met: bool | None
    priorities: list[Suggestion]
    dropped: list[Suggestion]
    low_roi: list[LowRoi]
    pivot: Pivot
    run_ids: list[str]
    more: list[Suggestion] = Field(default_factory=list)  # ranked candidates after the top priorities
    constraints: list[Quote] = Field(default_factory=list)  # requirements the log entries state, quoted
    audit: list[AuditNote] = Field(default_factory=list)  # the audit's findings on the runs it covers


class ParamDiff(_Frozen):
    param: str
    run_value: str | None
    proposed: str | None


class TriedRunNote(_Frozen):
    key: str
    value: float | None
    approach: str | None
    approach_status: ApproachStatus | None
    matched: list[str]
    differing: list[ParamDiff]


class TriedMention(_Frozen):
    """An earlier entry whose own words are close to the proposal (retrieval over what was done: observations,
    conclusions, what did not work, experiments), with its evidence."""

    entry_id: int | None
    log_id: int | None
    date: str
    section: str
    text: str
    similarity: float
    score: float  # the search score: similarity, plus the proposal's words and exact tokens the passage holds


class TriedAnswer(_Frozen):
    schema_version: Literal["tried_answer/1"] = "tried_answer/1"
    proposal: str
    verdict: TriedVerdict
    metric: str
    params: dict[str, str]
    family: str | None
    unmatched: list[str]
    answer: str
    exact: list[TriedRunNote]
    similar: list[TriedRunNote]
    run_ids: list[str]
    concepts: list[str] = []  # the ML concepts the proposal was read through ("regularisation", "dropout", "depth")
    mentions: list[TriedMention] = []  # earlier entries that say, in words, that something close to it was done
    audit: list[AuditNote] = Field(default_factory=list)  # the audit's findings on the runs it covers


class CriterionNote(_Frozen):
    name: str
    metric: str | None
    direction: Direction
    weight: float  # as the person gave it
    normalised_weight: float
    why: str


class ScoreCell(_Frozen):
    criterion: str
    value: float | None
    score: float


class FinalistRow(_Frozen):
    key: str
    rank: int
    total: float
    scores: list[ScoreCell]


class TradeOff(_Frozen):
    criterion: str
    selected_value: float | None
    best_key: str
    best_value: float | None
    gap: float | None


class NoiseTieNote(_Frozen):
    """A criterion on the metric in force whose finalists all lie within the believable gain of each other: min-max
    normalisation still scores them 1 and 0. `top_without` is the ranking's top without that criterion (None when it
    is the only criterion)."""

    criterion: str
    spread: float  # the largest minus the smallest finalist value
    seed_sd: float | None
    believable_gain: float
    top_without: str | None
    decides: bool  # the top changes without the criterion


class SelectionDecision(_Frozen):
    schema_version: Literal["selection_decision/1"] = "selection_decision/1"
    title: str
    criteria: list[CriterionNote]
    table: list[FinalistRow]
    top: str
    selected: str
    selected_is_top: bool
    rationale: str
    rationale_source: Literal["person", "ranking"]
    traded: list[TradeOff]
    run_ids: list[str]
    noise_ties: list[NoiseTieNote] = Field(default_factory=list)
    audit: list[AuditNote] = Field(default_factory=list)  # the audit's findings on the runs it covers


class FieldNote(_Frozen):
    name: str
    value: str | None
    source: SetupSource
    evidence: list[str] = Field(default_factory=list)
    note: str = ""


class Question(_Frozen):
    field: str
    question: str


class Check(_Frozen):
    name: str
    what: str
    evidence: Evidence


class DocAction(_Frozen):
    field: str
    code: str
    why: str


class ProjectGapNote(_Frozen):
    """A field no run of the project records: said once per report, with the question and the logging call."""

    field: str
    question: str
    code: str
    why: str


class ReproductionReport(_Frozen):
    schema_version: Literal["reproduction_report/1"] = "reproduction_report/1"
    key: str
    metric: str
    expected: float | None
    tolerance: float | None
    noise_source: NoiseSource
    fields: list[FieldNote]
    params: dict[str, str]
    known: dict[str, str]
    questions: list[Question]
    checks: list[Check]
    documentation: list[DocAction]
    run_ids: list[str]
    seed_sd: float | None = None  # the tolerance is the believable gain of one run over another, from this seed sd
    project_gaps: list[ProjectGapNote] = Field(default_factory=list)  # reports stored before issue 14 have none
    # a deterministic run's tolerance is its stored value's rounding or 1e-6 relative; older reports: believable gain
    tolerance_rule: ToleranceRule = "believable_gain"
    audit: list[AuditNote] = Field(default_factory=list)  # the audit's findings on the runs it covers


class ApproachStory(_Frozen):
    name: str
    status: ApproachStatus
    outcome: Literal["continued", "dropped", "adopted", "paused"]
    why: str
    evidence: Evidence
    did_not_work: list[Quote] = Field(default_factory=list)
    open_questions: list[Quote] = Field(default_factory=list)  # its own; the brief's risks keep the rest
    proposed: ProposedNote | None = None  # a mark a dump proposed, not yet confirmed
    earlier: list[EarlierDoc] = Field(default_factory=list)  # earlier documents that discuss it


class Risk(_Frozen):
    kind: Literal["missing_baseline", "noise_unknown", "repro_gap", "project_gap", "stall", "open_question"]
    text: str
    evidence: Evidence


class HandoverBrief(_Frozen):
    schema_version: Literal["handover_brief/1"] = "handover_brief/1"
    audience: str
    goal: str
    primary_metric: str
    metric: str
    direction: Direction
    target: float | None
    metric_switches: list[SwitchNote]
    approaches: list[ApproachStory]
    decisions: list[DecisionNote]
    current_best: BestNote | None
    risks: list[Risk]
    run_ids: list[str]
    did_not_work: list[Quote] = Field(default_factory=list)  # failures about no one approach
    selected: str | None = None  # the run the most recent selection decision selected
    selected_value: float | None = None  # its value on the metric in force (absent before it was recorded)
    next_steps: list[Suggestion] = Field(default_factory=list)  # the plan's top priorities; absent before it was
    audit: list[AuditNote] = Field(default_factory=list)  # the audit's findings on the runs it covers


class MetricSwitchRecord(_Frozen):
    schema_version: Literal["metric_switch/1"] = "metric_switch/1"
    from_metric: str | None
    from_direction: Direction | None
    to_metric: str
    direction: Direction
    effective: date
    reason: str
    source: Literal["dump", "api"]
    log_id: int | None
    run_ids: list[str] = Field(default_factory=list)


DOCUMENT_MODELS: dict[str, type[BaseModel]] = {
    "phase_summary": PhaseSummary,
    "next_experiments": NextExperiments,
    "tried_answer": TriedAnswer,
    "selection_decision": SelectionDecision,
    "reproduction_report": ReproductionReport,
    "handover_brief": HandoverBrief,
    "metric_switch": MetricSwitchRecord,
}
