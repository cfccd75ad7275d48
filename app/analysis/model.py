"""The analysis contract: what goes in (plain run views, the metric in force, people's declarations) and what comes
out (findings with evidence). Frozen dataclasses, no ORM, no I/O: services build `AnalysisInput` from storage and
hand `Findings` to the document composers in `app/compose/documents/`.

Every number a finding carries is either a stored value (a run's metric or parameter) or one computed here from
stored values (a standard deviation, a gain, a sum of durations), and every finding names the runs it comes from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

Direction = Literal["max", "min"]
ApproachStatus = Literal["active", "converging", "plateaued", "exhausted", "abandoned", "adopted"]
ApproachSource = Literal["tag", "inferred", "override"]
MarkStatus = Literal["abandoned", "adopted"]
NoiseSource = Literal["seed_repeats", "min_effect"]

# The kinds of `Finding`, one flat vocabulary shared by the documents, the write-back tags
# (`labbook.finding.<kind>`) and the evals.
FindingKind = Literal[
    "baseline",  # the declared baseline run
    "missing_baseline",  # no baseline declared: run a simple one first
    "multi_change",  # a run changed more than one parameter relative to its closest earlier configuration
    "within_noise",  # a run beat its closest earlier configuration (or the previous best) by less than the noise
    "noise_unknown",  # no seed repeats: the noise is a configured minimum effect; repeats are suggested
    "seed_noise",  # the noise estimate from runs that differ only in seed
    "duplicate",  # a run's normalised configuration matches an earlier run's
    "stall",  # no gain beyond noise on the metric in force over the last sessions
    "repro_gap",  # a run lacks reproducibility fields
    "project_gap",  # no run of the project records a reproducibility field: one note, not a gap per run
    "current_best",  # the best run on the metric in force
    "approach_status",  # an approach's computed (or marked) status
    "metric_switch",  # the primary metric changed, with when and why
    # The audit (app/analysis/audit.py), above all of a research agent's result log:
    "unchanged_metric",  # exactly the metric of its reference or the run before, with a different change
    "tried_again",  # the same change (description or key=value assignments) as an earlier run
    "keep_not_best",  # kept without beating the running best
    "keep_within_noise",  # kept for beating the running best by no more than the believable gain
    "collapse",  # far worse than its reference: the change broke something
    "seed_only_progress",  # only the seed differs from its closest earlier configuration, yet counted as progress
]
AUDIT_KINDS: tuple[str, ...] = (
    "unchanged_metric",
    "tried_again",
    "keep_not_best",
    "keep_within_noise",
    "collapse",
    "seed_only_progress",
)

# Reproducibility fields checked per run, in this order (the names used in `ReproGap.missing`).
REPRO_FIELDS: tuple[str, ...] = (
    "git_commit",
    "data_version",
    "seed",
    "environment",
    "hardware",
    "source_name",
    "split",
    "owner",
)

# MLflow's words for runs that produced no result worth ranking.
UNSCORED_STATUSES = frozenset({"FAILED", "KILLED"})


@dataclass(frozen=True, slots=True)
class RunView:
    """One stored run as the analysis sees it, whatever its source (MLflow sync or a pasted table).

    `when` orders history: the run's start time, or for a run without one (a pasted table) the time it was stored.
    `session` is the calendar day the run belongs to (its start day, or the date of the brain dump that brought it).
    """

    key: str  # the stored key: the run ID, or `name:<run name>`
    run_id: str | None = None
    name: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    when: datetime | None = None
    session: date | None = None
    status: str | None = None  # MLflow's words; FAILED/KILLED runs carry no result worth ranking
    duration_s: float | None = None
    parent_run_id: str | None = None
    source: str = "table"  # "mlflow" or "table"
    git_commit: str | None = None
    data_version: str | None = None
    datasets: tuple[Mapping[str, Any], ...] = ()
    seed: str | None = None
    environment: Mapping[str, Any] = field(default_factory=dict)  # python, packages {name: version}
    hardware: str | None = None
    source_name: str | None = None  # entry point
    split: str | None = None
    owner: str | None = None

    def score(self, metric: str) -> float | None:
        """The run's value on `metric`, or None when the run failed, was killed, or has no finite value for it."""
        if self.status is not None and self.status.strip().upper() in UNSCORED_STATUSES:
            return None
        value = self.metrics.get(metric)
        if value is None or not math.isfinite(value):
            return None
        return float(value)


@dataclass(frozen=True, slots=True)
class MetricSwitch:
    """The primary metric changed at `effective` (a day), for `reason`; recorded from a dump or through the API."""

    metric: str
    direction: Direction
    effective: date
    reason: str
    previous_metric: str | None = None
    previous_direction: Direction | None = None
    entry_id: int | None = None  # the `metric_switch` entry that records it


@dataclass(frozen=True, slots=True)
class ApproachMark:
    """A person's verdict on an approach, which overrides the computed status (which is still reported)."""

    status: MarkStatus
    reason: str
    by: str = ""
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AnalysisSettings:
    # The believable gain when no seed repeats exist: an absolute effect on the metric in force.
    min_effect: float = 0.005
    # Converging/plateaued look at the best-so-far over an approach's last `recent_runs` runs.
    recent_runs: int = 3
    # A stall: no gain beyond noise over the last `stall_sessions` sessions (calendar days with runs).
    stall_sessions: int = 3
    # Parameter keys that name a seed (matched case-insensitively); a run's `seed` field counts too.
    seed_keys: tuple[str, ...] = ("seed", "random_state", "random_seed", "rng_seed", "np_seed", "torch_seed")


@dataclass(frozen=True, slots=True)
class AnalysisInput:
    runs: tuple[RunView, ...]
    primary_metric: str  # the project's metric before any switch
    direction: Direction = "max"
    metric_switches: tuple[MetricSwitch, ...] = ()  # oldest first
    declared_baselines: frozenset[str] = frozenset()  # run keys marked through the API or a brain dump
    approach_overrides: Mapping[str, str] = field(default_factory=dict)  # run key -> approach name (regrouped)
    approach_marks: Mapping[str, ApproachMark] = field(default_factory=dict)  # approach name -> mark
    settings: AnalysisSettings = field(default_factory=AnalysisSettings)


# -- outputs -----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    """One computed fact. `numbers` holds every number `message` states, by name, so a document can quote them and
    the grounding check can trace them; `run_ids` are the run keys it comes from."""

    kind: FindingKind
    message: str
    run_ids: tuple[str, ...] = ()
    numbers: Mapping[str, float] = field(default_factory=dict)
    subject: str | None = None  # the run key or approach name the finding is about
    severity: Literal["info", "warning"] = "info"


@dataclass(frozen=True, slots=True)
class ParamChange:
    key: str
    before: str | None  # None: the key was absent
    after: str | None


@dataclass(frozen=True, slots=True)
class RunChange:
    """What a run changed: against the baseline, and against its closest earlier configuration (the earlier run
    differing in the fewest parameters, seeds ignored; ties go to the most recent)."""

    key: str
    vs_baseline: tuple[ParamChange, ...] = ()
    closest: str | None = None
    vs_closest: tuple[ParamChange, ...] = ()

    @property
    def n_changed(self) -> int:
        return len(self.vs_closest)


@dataclass(frozen=True, slots=True)
class SeedGroup:
    """Runs that differ only in seed, with the metric in force's mean and sample standard deviation."""

    run_ids: tuple[str, ...]
    mean: float
    std: float


@dataclass(frozen=True, slots=True)
class Noise:
    """The noise on the metric in force. `std` is the seed sd, the pooled seed standard deviation where repeats exist
    (`source="seed_repeats"`), else None. `min_gain` is the believable gain of one run over another: 1.645 x seed sd x
    sqrt(2), or the configured minimum effect without repeats (`app.analysis.noise.believable_gain`)."""

    source: NoiseSource
    std: float | None
    min_gain: float
    groups: tuple[SeedGroup, ...] = ()


@dataclass(frozen=True, slots=True)
class BestLead:
    """Is the best really the best: the best run's lead over the runner-up (the best run of another approach, else of
    another configuration). Each side is its configuration's mean over `n` seed repeats (one run: its value, n = 1);
    the lead is beyond the noise when it exceeds `believable_gain` for those two n."""

    best: str
    runner_up: str | None
    runner_up_source: Literal["approach", "configuration"] | None
    runner_up_approach: str | None
    best_mean: float
    runner_up_mean: float
    n_best: int
    n_runner_up: int
    lead: float  # gain of the best side over the runner-up side, positive is better
    believable_gain: float
    seed_sd: float | None
    beyond_noise: bool | None


@dataclass(frozen=True, slots=True)
class Duplicate:
    key: str
    of: str  # the earliest run with the same normalised configuration
    compute_s: float | None  # the repeat's duration, where known


@dataclass(frozen=True, slots=True)
class ReproGap:
    key: str
    missing: tuple[str, ...]  # names from REPRO_FIELDS, most important first; never a project-level field
    recorded_elsewhere: int = 0  # how many other runs record the first missing field


@dataclass(frozen=True, slots=True)
class ProjectGap:
    """A reproducibility field no run of the project records: one note for the project, not a gap of each run."""

    field: str  # from REPRO_FIELDS
    runs: int  # the runs that lack it (a deterministic run lacks no seed)


@dataclass(frozen=True, slots=True)
class Approach:
    name: str
    source: ApproachSource
    run_ids: tuple[str, ...]  # in history order
    status: ApproachStatus  # the mark's status when marked, else the computed one
    computed_status: ApproachStatus
    reason: str  # why: the computed evidence in words, or the mark's reason
    best: str | None = None  # best run key on the metric in force
    best_value: float | None = None
    gain_vs_baseline: float | None = None  # signed so that positive is better
    recent_gain: float | None = None  # best-so-far rise over the last `recent_runs` runs
    best_so_far: tuple[tuple[str, float], ...] = ()  # (run key, best value so far) after each scored run
    family: str | None = None
    changed_keys: tuple[str, ...] = ()
    mark: ApproachMark | None = None


@dataclass(frozen=True, slots=True)
class Findings:
    metric: str  # the metric in force
    direction: Direction
    metric_switches: tuple[MetricSwitch, ...]
    baseline: str | None  # the baseline run key, or None
    baseline_value: float | None
    best: str | None  # the best run key on the metric in force
    best_value: float | None
    noise: Noise
    changes: Mapping[str, RunChange]  # by run key
    approaches: tuple[Approach, ...]
    duplicates: tuple[Duplicate, ...]
    repro_gaps: tuple[ReproGap, ...]  # most important first: `repro_gaps[0]` is the gap to close first
    stalled: bool
    findings: tuple[Finding, ...]  # every finding above as a flat, ordered list with messages and evidence
    run_order: tuple[str, ...] = ()  # every run key in history order
    nested_parents: tuple[str, ...] = ()  # sweeps' parent runs (never scored, grouped with their children)
    best_lead: BestLead | None = None  # the best run's lead over the runner-up; None with nothing to compare
    project_gaps: tuple[ProjectGap, ...] = ()  # fields no run records, in REPRO_FIELDS order

    def of_kind(self, kind: FindingKind) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]


# -- "has this been tried?", finalist ranking, reproduction setup ------------------------------------------------------

TriedVerdict = Literal["tried", "similar", "new"]
SetupSource = Literal["run", "known", "inferred", "missing", "not_needed"]  # not_needed: a deterministic run's seed
# What a reproduction's tolerance is: the believable gain of one run over another (a run that needs a seed), or, for a
# deterministic run, the rounding of its stored value as documents show it (`fmt`, 4 significant digits).
ToleranceRule = Literal["believable_gain", "rounding"]


@dataclass(frozen=True, slots=True)
class ParamMove:
    """A proposal that moves a parameter, or a concept's parameters, one way: "stronger L2" (C smaller, reg_lambda
    larger), "more trees", "lr below 1e-3", "use class weights" (set and on). A run has made the move when one of
    `signs`' keys it sets is beyond the reference: `anchor` when the proposal states one, else the value of its family's
    reference run (the baseline when of that family, else the family's first run setting the key)."""

    words: str  # as written: "stronger L2"
    signs: Mapping[str, int]  # stored key -> +1 (larger wanted), -1 (smaller wanted), 0 (set and on)
    concept: str | None = None
    anchor: float | None = None  # "deeper than 12"
    beyond: bool = False  # "deeper than any": beyond every value tried
    inclusive: bool = False  # "at least 500 trees": the anchor itself makes the move
    contains: str | None = None  # a word the value must hold ("calendar" in feature_set="base+lags+calendar")
    unlimited: frozenset[str] = frozenset()  # keys whose value <= 0 or "none" means no limit (max_depth=-1)
    wanted: Mapping[str, str] = field(default_factory=dict)  # key -> the move in words ("< 1", "on")


@dataclass(frozen=True, slots=True)
class ProposalConfig:
    """What a free-text proposal asks for, read against the project's own parameter keys and values."""

    params: Mapping[str, str]  # parameter key (as stored in runs) -> proposed value; "" when only the key is named
    family: str | None = None  # a model family named in the text (as `Approach.family` spells it)
    unmatched: tuple[str, ...] = ()  # key=value pairs or terms of the text no stored run knows
    concepts: tuple[str, ...] = ()  # the ML concepts read ("regularisation", "dropout", "depth")
    moves: tuple[ParamMove, ...] = ()
    families: tuple[str, ...] = ()  # the families a run must be of: the named one, or the project's of a named kind
    open_change: bool = False  # the text names a change no run's parameter carries ("more dropout" with no dropout)


@dataclass(frozen=True, slots=True)
class TriedRun:
    key: str
    matched: tuple[str, ...]  # proposal keys whose values this run has
    differing: tuple[ParamChange, ...]  # proposal keys where the run differs: before = run's value, after = proposed
    value: float | None  # the run's metric in force
    approach: str | None = None


@dataclass(frozen=True, slots=True)
class TriedMatch:
    verdict: TriedVerdict  # tried: a run has every proposed value; similar: some; new: none
    proposal: ProposalConfig
    exact: tuple[TriedRun, ...] = ()  # best first on the metric in force
    similar: tuple[TriedRun, ...] = ()  # most keys matched first, every one


@dataclass(frozen=True, slots=True)
class Criterion:
    """One selection criterion: a stored metric (or numeric parameter) of the finalists, or, with `metric` None, a
    person's scores per finalist in [0, 1]."""

    name: str
    weight: float
    direction: Direction = "max"
    metric: str | None = None
    why: str = ""
    scores: Mapping[str, float] = field(default_factory=dict)  # run key -> score, when `metric` is None


@dataclass(frozen=True, slots=True)
class CriterionScore:
    criterion: str
    value: float | None  # the stored value (or the person's score)
    score: float  # normalised to [0, 1] across the finalists, 1 = best


@dataclass(frozen=True, slots=True)
class RankedFinalist:
    key: str
    rank: int  # 1 = highest weighted total
    total: float  # sum of normalised weight x score
    scores: tuple[CriterionScore, ...]


@dataclass(frozen=True, slots=True)
class NoiseTie:
    """A criterion on the metric in force whose finalists all lie within the believable gain of one another, which
    min-max normalisation still spreads from 0 to 1; `top_without` is the top of the ranking without it (None when
    it is the only criterion)."""

    criterion: str
    spread: float  # the largest minus the smallest finalist value
    believable_gain: float
    top_without: str | None


@dataclass(frozen=True, slots=True)
class Ranking:
    criteria: tuple[Criterion, ...]
    weights: Mapping[str, float]  # criterion name -> weight normalised to sum 1
    finalists: tuple[RankedFinalist, ...]  # rank order
    top: str
    noise_ties: tuple[NoiseTie, ...] = ()  # criteria that cannot separate the finalists


@dataclass(frozen=True, slots=True)
class LogStatement:
    """A person's statement from a log entry, verbatim, with the runs it cites and the day it is about."""

    text: str
    run_ids: tuple[str, ...] = ()
    day: date | None = None


@dataclass(frozen=True, slots=True)
class SetupField:
    """One reproducibility field of the setup: as the run recorded it, as the person says, inferred from sibling runs
    (runs that plausibly share its code, nearest in history, agreeing), or missing. `said` quotes a log statement
    that the field was not recorded for this run (or that the recorded value is not what ran): the field is a gap."""

    name: str  # from REPRO_FIELDS
    value: str | None
    source: SetupSource
    evidence: tuple[str, ...] = ()  # run keys an inferred value comes from
    note: str = ""
    said: str = ""


@dataclass(frozen=True, slots=True)
class Setup:
    key: str
    fields: tuple[SetupField, ...]
    params: Mapping[str, str]
    metric: str  # the metric in force
    expected: float | None  # the run's stored value on it
    tolerance: float | None  # a reproduction matches within this (see `tolerance_rule`)
    noise_source: NoiseSource
    gaps: tuple[str, ...]  # fields neither recorded nor known (inferred ones stay gaps to confirm), not project-level
    project_gaps: tuple[str, ...] = ()  # fields no run of the project records, unless the person supplied them
    tolerance_rule: ToleranceRule = "believable_gain"
