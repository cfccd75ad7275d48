"""The API contract: request bodies (unknown fields are refused) and response shapes, shared by HTTP, CLI and MCP."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from app.compose.log_entry.schema import Experiment, Item
from app.parsing.tables import normalize_metric_name

T = TypeVar("T")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]$")

Slug = Annotated[str, StringConstraints(pattern=SLUG_RE.pattern)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
MetricName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=250)]
Direction = Literal["max", "min"]
TableFormat = Literal["markdown", "csv"]

_HOST_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$|^[0-9a-fA-F:.]+$")  # a host name, IPv4 or IPv6


def _http_tracking_uri(value: str) -> str:
    """A project's tracking URI is a tracking *server* (http or https): a URI a request sets must never make the
    service open a file or database on its own disk (`sqlite:///...`, `file:///...`). The operator's own
    MLFLOW_TRACKING_URI may be anything MLflow accepts."""
    parts = urlsplit(value)
    host = parts.hostname or ""
    labels_ok = ":" in host or all(0 < len(label) <= 63 for label in host.rstrip(".").split("."))
    if parts.scheme not in ("http", "https") or not _HOST_RE.match(host) or not labels_ok:
        raise ValueError("must be an http:// or https:// URL of an MLflow tracking server, e.g. http://mlflow:5000")
    return value.rstrip("/")


TrackingUri = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=1000),
    AfterValidator(_http_tracking_uri),
]


class Strict(BaseModel):
    """Request bodies: a misspelt field is an error that names it, never silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page; null on the last page.")


def _normalize_aliases(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    return {normalize_metric_name(k): normalize_metric_name(v) for k, v in value.items()}


MinEffect = Annotated[float, Field(gt=0, le=1e12, allow_inf_nan=False)]
RecentRuns = Annotated[int, Field(ge=1, le=100)]
StallSessions = Annotated[int, Field(ge=1, le=1000)]


class ProjectFields(Strict):
    goal: str = Field(default="", max_length=10_000)
    target_value: float | None = Field(
        default=None, allow_inf_nan=False, description="The value of the primary metric that would be enough."
    )
    deadline: date | None = None
    mlflow_experiments: list[Annotated[str, StringConstraints(min_length=1, max_length=500)]] = Field(
        default_factory=list, description="Linked MLflow experiment IDs or names."
    )
    metric_aliases: dict[str, str] = Field(
        default_factory=dict,
        description='Other names of a metric, mapped to the canonical one: {"auc": "val_auc"}. Names are normalised.',
    )
    tracking_uri: TrackingUri | None = Field(
        default=None,
        description="The MLflow tracking server of the linked experiments; when null, the service's "
        "MLFLOW_TRACKING_URI.",
    )
    writeback: bool = Field(
        default=True, description="Write entries back to the cited MLflow runs (description and labbook.* tags)."
    )
    min_effect: MinEffect | None = Field(
        default=None,
        description="The smallest change of the primary metric worth believing when no seed repeats measure the "
        "noise (absolute, in the metric's units); null: 0.005.",
    )
    recent_runs: RecentRuns | None = Field(
        default=None, description="An approach's progress is judged over its last N runs; null: 3."
    )
    stall_sessions: StallSessions | None = Field(
        default=None, description="N recent sessions without a gain beyond the noise make a stall; null: 3."
    )

    _aliases = field_validator("metric_aliases")(_normalize_aliases)


class ProjectCreate(ProjectFields):
    slug: Slug = Field(description="URL name: lowercase letters, digits and dashes, 2-64 characters.")
    name: Name
    primary_metric: MetricName = Field(description="Normalised: 'Val AUC' is stored as 'val_auc'.")
    metric_direction: Direction = Field(description="'max' if higher is better, 'min' if lower is better.")

    _metric = field_validator("primary_metric")(normalize_metric_name)


class ProjectUpdate(Strict):
    name: Name | None = None
    goal: str | None = Field(default=None, max_length=10_000)
    primary_metric: MetricName | None = None
    metric_direction: Direction | None = None
    target_value: float | None = Field(default=None, allow_inf_nan=False)
    deadline: date | None = None
    mlflow_experiments: list[Annotated[str, StringConstraints(min_length=1, max_length=500)]] | None = None
    metric_aliases: dict[str, str] | None = None
    tracking_uri: TrackingUri | None = None
    writeback: bool | None = None
    min_effect: MinEffect | None = None
    recent_runs: RecentRuns | None = None
    stall_sessions: StallSessions | None = None

    _aliases = field_validator("metric_aliases")(_normalize_aliases)

    @field_validator("primary_metric")
    @classmethod
    def _metric(cls, value: str | None) -> str | None:
        return None if value is None else normalize_metric_name(value)


class ProjectPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    slug: str
    name: str
    goal: str
    primary_metric: str
    metric_direction: Direction
    target_value: float | None
    deadline: date | None
    mlflow_experiments: list[str]
    metric_aliases: dict[str, str]
    tracking_uri: str | None
    writeback: bool
    min_effect: float | None = None
    recent_runs: int | None = None
    stall_sessions: int | None = None
    created_at: datetime
    updated_at: datetime


class RunPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    run_id: str | None
    run_name: str | None
    key: str = Field(description="The run ID, or `name:<run name>` for runs known only by name.")
    source: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    notes: str | None
    experiment_id: str | None
    status: str | None
    start_time: datetime | None
    end_time: datetime | None
    duration_s: float | None
    parent_run_id: str | None
    git_commit: str | None
    source_name: str | None = Field(description="The entry point: the script or notebook that ran.")
    source_type: str | None
    owner: str | None
    data_version: str | None
    datasets: list[dict[str, Any]] = Field(description="Logged dataset inputs: name, digest, source, context.")
    seed: str | None
    environment: dict[str, Any] = Field(description="Python and library versions where logged, and where read from.")
    hardware: str | None
    split: str | None
    artifact_uri: str | None
    synced_at: datetime | None = Field(description="When the run was last read from MLflow.")
    created_at: datetime
    updated_at: datetime


class RunTableImport(Strict):
    table: str = Field(min_length=1, description="A Markdown pipe table or CSV, as pasted.")
    format: TableFormat | None = Field(default=None, description="Detected from the text when omitted.")


class ImportedColumn(BaseModel):
    header: str
    role: str
    name: str | None


class ImportWarning(BaseModel):
    line: int
    column: str | None
    message: str


class ImportedRow(BaseModel):
    line: int
    key: str
    action: Literal["created", "updated", "unchanged"]
    warnings: list[ImportWarning]


class RunImportResult(BaseModel):
    format: TableFormat
    created: int
    updated: int
    unchanged: int
    columns: list[ImportedColumn]
    rows: list[ImportedRow]
    warnings: list[ImportWarning] = Field(description="Every value that was interpreted, line by line.")


class LogCreate(Strict):
    text: str = Field(max_length=500_000, description="The brain dump, stored verbatim.")
    run_table: str | None = Field(default=None, description="An optional pasted run table (Markdown or CSV).")
    run_table_format: TableFormat | None = None
    run_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=300)]] = Field(
        default_factory=list, description="Run IDs (or names) this session is about."
    )
    author: Name | None = Field(default=None, description="Defaults to the name of the token that posts.")
    session_date: date | None = Field(default=None, description="The day of the session; defaults to today (UTC).")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the brain dump is empty")
        return value  # verbatim: never stripped


class RedactionCreate(Strict):
    strings: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        min_length=1, description="Exact strings to remove from the stored text and run table."
    )
    reason: str = Field(default="", max_length=2_000)


class RedactionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    field: str
    occurrences: int
    removed_sha256: str = Field(description="Fingerprint of the removed string; the string itself is not kept.")
    reason: str
    redacted_by: str
    redacted_at: datetime


class EntryPublic(BaseModel):
    id: int
    project: str = Field(description="The project's slug.")
    kind: str = Field(description="`log_entry` (a structured brain dump); more kinds follow.")
    log_id: int | None = Field(description="The brain dump it was composed from, if any.")
    version: int = Field(description="The version shown; every correction adds one, none is ever rewritten.")
    body: dict[str, Any] = Field(description="The document as JSON, in the schema of its kind (`schema_version`).")
    markdown: str = Field(description="The same document rendered as Markdown.")
    run_ids: list[str] = Field(description="Every stored run the entry cites, in order.")
    provider: str = Field(description="What phrased it: `offline` (the built-in composer) or a model's name.")
    template: str
    template_version: str
    schema_version: str
    created_at: datetime
    updated_at: datetime
    writeback: list[WritebackStatus] = Field(
        default_factory=list,
        description="Write-back to each cited MLflow run: pending, delivered or dead, with attempts and last error.",
    )


class EntryVersionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    provider: str
    edited_by: str = Field(description="Who made this version: `labbook` for the composed one, else a token's name.")
    reason: str = Field(description="Why this version was made.")
    run_ids: list[str]
    body: dict[str, Any]
    markdown: str
    created_at: datetime


class EntryUpdate(Strict):
    """A human correction: the fields sent replace the current ones; the rest are kept."""

    tldr: str | None = Field(default=None, max_length=600)
    hypothesis: list[Item] | None = None
    experiments: list[Experiment] | None = Field(
        default=None, description="`stored` and `run_name` are always refreshed from the stored run."
    )
    observations: list[Item] | None = None
    conclusions: list[Item] | None = None
    did_not_work: list[Item] | None = None
    open_questions: list[Item] | None = None
    next_steps: list[Item] | None = None
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2_000)] = Field(
        description="Why the entry is being corrected; kept with the new version."
    )


class LogPublic(BaseModel):
    id: int
    project: str
    text: str
    run_table: str | None
    run_table_format: str | None
    run_refs: list[str]
    author: str
    channel: str
    session_date: date
    received_at: datetime
    received_sha256: str
    redactions: list[RedactionPublic]
    run_import: RunImportResult | None = None
    entry_id: int | None = Field(default=None, description="The `log_entry` composed from this dump, if any.")
    log_entry: EntryPublic | None = Field(
        default=None,
        description="On the answer to a new dump: the entry composed from it (null if composing failed; the dump "
        "is stored either way). On reads, follow `entry_id`.",
    )


class TokenCreate(Strict):
    name: Name = Field(description="Who uses it; the default author of what it posts.")
    projects: list[Slug] | None = Field(default=None, description="Limit the token to these project slugs.")


class TokenPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str = Field(description="The first characters of the token, to recognise it.")
    projects: list[str] | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="The secret. Shown once; only its hash is stored.")


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    database: str = Field(description="The backend that answered: sqlite or postgresql.")


# --- MLflow sync ------------------------------------------------------------------------------------------------------


class SyncedExperiment(BaseModel):
    experiment_id: str
    name: str
    mode: Literal["full", "incremental"] = Field(
        description="full: every run was read (first sync, full=true, or a new tracking server); incremental: "
        "runs started since the last sync and runs that were still open then."
    )
    runs_read: int = Field(description="Runs read from MLflow and compared with the stored ones.")
    created: int
    updated: int
    unchanged: int
    open_runs: int = Field(description="Runs still RUNNING or SCHEDULED: read again by the next sync.")


class SyncResult(BaseModel):
    tracking_uri: str = Field(description="The MLflow tracking server that was read (any password hidden).")
    full: bool = Field(description="Whether a full sync was asked for.")
    experiments: list[SyncedExperiment]
    created: int
    updated: int
    unchanged: int
    open_runs: int
    seconds: float


# --- Write-back outbox ------------------------------------------------------------------------------------------------


OutboxState = Literal["pending", "delivered", "dead"]


class WritebackStatus(BaseModel):
    """Where one entry's write-back to one MLflow run stands (the latest outbox item for that run)."""

    outbox_id: int = Field(validation_alias="id")
    run_id: str
    state: OutboxState
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None


class OutboxItemPublic(BaseModel):
    id: int
    project: str = Field(description="The project's slug.")
    entry_id: int | None = Field(description="The entry whose change queued this write-back.")
    run_id: str = Field(description="The MLflow run written to.")
    kind: str = Field(
        description="`run_note`: the run's Labbook section in its description, and labbook.entry_ids; "
        "`run_tags`: the run's labbook.approach, labbook.approach_status and labbook.finding.* tags; "
        "`model_version_tags`: a selection decision's ID and link on the selected run's registered model versions."
    )
    state: OutboxState = Field(description="pending (queued or retrying), delivered, or dead (will not be retried).")
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    # Write-back of labbook.* tags (issue 5): what a delivered item did, where there is something to say.
    outcome: str | None = Field(
        default=None,
        description="What a delivered item did, when worth saying: the model versions it tagged, or that the run "
        "has no registered model version.",
    )


class OutboxPage(Page[OutboxItemPublic]):
    counts: dict[str, int] = Field(description="Items in each state, under the same filters except `state`.")


EntryPublic.model_rebuild()  # its `writeback` field names WritebackStatus, defined above in this section


# --- Analysis, approaches, metric switches and documents (helper D) ---------------------------------------------------

NonBlank = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2_000)]
RunRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
ApproachName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class FindingPublic(BaseModel):
    kind: str = Field(
        description="baseline, missing_baseline, multi_change, within_noise, noise_unknown, seed_noise, "
        "duplicate, stall, repro_gap, current_best, approach_status or metric_switch."
    )
    message: str
    run_ids: list[str] = Field(description="The runs the finding comes from.")
    numbers: dict[str, float] = Field(description="Every number the message states, by name.")
    subject: str | None = Field(description="The run key or approach name the finding is about.")
    severity: Literal["info", "warning"]


class NoisePublic(BaseModel):
    source: Literal["seed_repeats", "min_effect"] = Field(
        description="seed_repeats: pooled std of runs that differ only in seed; min_effect: the configured minimum."
    )
    std: float | None
    min_gain: float = Field(description="The smallest gain on the metric in force worth believing.")


class ApproachMarkPublic(BaseModel):
    status: Literal["abandoned", "adopted"]
    reason: str
    by: str
    at: datetime | None


class ApproachPublic(BaseModel):
    name: str
    source: Literal["tag", "inferred", "override"] = Field(
        description="tag: the runs' approach tag; inferred: model family and changed keys; override: regrouped."
    )
    status: str = Field(description="The mark's status when marked, else the computed one.")
    computed_status: str = Field(description="active, converging, plateaued or exhausted, from the runs.")
    reason: str
    run_ids: list[str] = Field(description="The approach's runs, in history order.")
    best: str | None
    best_value: float | None
    gain_vs_baseline: float | None = Field(description="Signed so that positive is better.")
    recent_gain: float | None = Field(description="Best-so-far rise over the approach's last runs.")
    family: str | None
    changed_keys: list[str]
    mark: ApproachMarkPublic | None


class MetricSwitchPublic(BaseModel):
    metric: str
    direction: Direction
    effective: date
    reason: str
    previous_metric: str | None
    previous_direction: Direction | None
    entry_id: int | None


class FindingsPublic(BaseModel):
    metric: str = Field(description="The metric in force (after any switch).")
    direction: Direction
    baseline: str | None
    baseline_value: float | None
    best: str | None = Field(description="The best run on the metric in force.")
    best_value: float | None
    noise: NoisePublic
    stalled: bool
    metric_switches: list[MetricSwitchPublic]
    approaches: list[ApproachPublic]
    findings: list[FindingPublic]


class ApproachRunsAssign(Strict):
    run_keys: list[RunRef] = Field(
        min_length=1, max_length=1_000, description="Runs to put in this approach: keys, 6+ hex ID prefixes or names."
    )


class ApproachMarkCreate(Strict):
    status: Literal["abandoned", "adopted"]
    reason: NonBlank = Field(description="Why; shown wherever the approach's status is.")


class MetricSwitchCreate(Strict):
    metric: MetricName = Field(description="The new primary metric (normalised: 'Val F1' is 'val_f1').")
    direction: Direction | None = Field(
        default=None, description="Defaults to 'min' for loss- or error-like names, else 'max'."
    )
    reason: NonBlank
    effective_date: date | None = Field(default=None, description="From when it applies; defaults to today (UTC).")
    target_value: float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="The target on the new metric. A target is a value of one metric, so the old one is cleared "
        "when this is omitted.",
    )

    _metric = field_validator("metric")(normalize_metric_name)


class SummaryCreate(Strict):
    since: date | None = Field(default=None, description="First session day covered; from the start when omitted.")
    until: date | None = Field(default=None, description="Last session day covered; up to today when omitted.")


class NextExperimentsCreate(Strict):
    target: float | None = Field(
        default=None, allow_inf_nan=False, description="The value of the primary metric to reach."
    )
    deadline: date | None = None
    budget_runs: int | None = Field(default=None, ge=1, le=100_000)
    budget_hours: float | None = Field(default=None, gt=0, le=100_000)


class TriedCreate(Strict):
    proposal: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5_000)] = Field(
        description='What you are about to try, in words: "lightgbm with num_leaves=63 and class weights".'
    )


class CriterionCreate(Strict):
    name: Name
    weight: float = Field(ge=0, le=1_000)
    metric: MetricName | None = Field(default=None, description="A stored metric (or numeric param) of the runs.")
    direction: Direction = "max"
    why: str = Field(default="", max_length=2_000)
    scores: dict[str, float] = Field(
        default_factory=dict, description="Without `metric`: a person's score per finalist (run ref -> 0..1)."
    )


class DecisionCreate(Strict):
    finalists: list[RunRef] = Field(min_length=1, max_length=50, description="Run keys, 6+ hex prefixes or names.")
    criteria: list[CriterionCreate] = Field(min_length=1, max_length=20)
    selected: RunRef | None = Field(default=None, description="The run chosen; the top-ranked one when omitted.")
    rationale: str = Field(default="", max_length=10_000)
    title: str | None = Field(default=None, max_length=200)


class ReproductionCreate(Strict):
    run: RunRef = Field(description="The run to reproduce: key, 6+ hex prefix or name.")
    known: dict[str, Annotated[str, StringConstraints(max_length=2_000)]] = Field(
        default_factory=dict,
        max_length=20,
        description="Setup fields you know that the run did not record, e.g. data_version.",
    )


class BriefCreate(Strict):
    audience: str = Field(default="a teammate taking over", max_length=200)


class BaselinePublic(BaseModel):
    baseline: str | None = Field(description="The project's baseline run now (marked, tagged or declared), if any.")
    baseline_value: float | None = Field(description="Its value on the metric in force.")
    unmarked: list[str] = Field(description="Runs whose baseline mark this request removed.")


# -- one run's place in the history ------------------------------------------------------------------------------------


class ParamChangePublic(BaseModel):
    key: str
    before: str | None = Field(description="The value in the run compared against; null: the key was not set.")
    after: str | None = Field(description="The value in this run; null: the key is not set.")


class RunChangesPublic(BaseModel):
    run: str
    metric: str = Field(description="The metric in force.")
    value: float | None = Field(description="The run's value on it; null when not recorded (or the run failed).")
    approach: str | None
    baseline: str | None
    baseline_value: float | None
    vs_baseline: list[ParamChangePublic] = Field(description="What differs from the baseline's configuration.")
    closest: str | None = Field(
        description="The earlier run whose configuration differs in the fewest parameters (seeds ignored)."
    )
    closest_value: float | None
    vs_closest: list[ParamChangePublic]
    findings: list[FindingPublic] = Field(description="The findings about this run: multi-change, duplicate, ...")
