"""Tables. API request and response shapes live in `app.services.schemas`, so storage knows nothing of HTTP."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Index, LargeBinary, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.storage.types import JSONType, UTCDateTime, new_revision, utcnow

# Every id (and entry version) is an INTEGER column, 32-bit on PostgreSQL: the largest value a request may name. No
# row has a bigger one, and a query with one fails instead of finding nothing (PostgreSQL's INTEGER parameter is out
# of range; SQLite binds no integer past 64 bits), so the API refuses it first.
MAX_ID = 2**31 - 1


def _json(**kw: Any) -> Any:
    return Field(sa_column=Column(JSONType, nullable=kw.pop("nullable", False)), **kw)


def _when(**kw: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=kw.pop("nullable", False)), **kw)


class Project(SQLModel, table=True):
    # One modelling problem: its goal, primary metric and direction, target and deadline, linked MLflow experiments.
    __tablename__ = "project"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    goal: str = Field(default="", sa_column=Column(Text, nullable=False))
    primary_metric: str = Field(max_length=250)
    metric_direction: str = Field(max_length=3)
    target_value: float | None = None
    deadline: date | None = None
    mlflow_experiments: list[str] = _json(default_factory=list)
    metric_aliases: dict[str, str] = _json(default_factory=dict)
    # The MLflow server of this project's experiments; None: MLFLOW_TRACKING_URI of the service's environment.
    tracking_uri: str | None = Field(default=None, max_length=1000)
    # Write entries back to the cited MLflow runs (their description and labbook.* tags).
    writeback: bool = Field(default=True)
    # Analysis settings (None: the defaults of app.analysis.model.AnalysisSettings). `min_effect` is the noise
    # threshold on the primary metric when no seed repeats exist; `recent_runs` the stretch an approach's progress is
    # judged over; `stall_sessions` the number of recent sessions without a gain beyond noise that make a stall.
    min_effect: float | None = None
    recent_runs: int | None = None
    stall_sessions: int | None = None
    # A verdict a brain dump declares on an approach is applied at once instead of waiting for a person's confirmation.
    auto_apply_declared_marks: bool = Field(default=False)
    # `auto`: a configured model reads this project's dumps and phrases its documents; `off`: the offline composer
    # alone.
    llm: str = Field(default="auto", sa_column=Column(String(8), nullable=False, server_default="auto"))
    # A fresh random value in the transaction of every write to what the analysis and the documents read (see
    # app.storage.revisions), so a cache keyed by it can never mistake one state for another.
    revision: int = Field(
        default_factory=new_revision, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    created_at: datetime = _when(default_factory=utcnow)
    updated_at: datetime = _when(default_factory=utcnow)


class Run(SQLModel, table=True):
    # One training/evaluation run. `key` is the run ID, or `name:<run name>` for tables that only name runs.
    __tablename__ = "run"
    __table_args__ = (UniqueConstraint("project_id", "key", name="uq_run_project_key"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    key: str = Field(max_length=300)
    run_id: str | None = Field(default=None, max_length=64, index=True)
    run_name: str | None = Field(default=None, max_length=250)
    source: str = Field(default="table", max_length=16)
    params: dict[str, str] = _json(default_factory=dict)
    metrics: dict[str, float] = _json(default_factory=dict)
    tags: dict[str, str] = _json(default_factory=dict)
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # What MLflow (or a W&B export) says about the run. A field the source does not record stays None, never guessed.
    experiment_id: str | None = Field(default=None, max_length=64)
    status: str | None = Field(default=None, max_length=16)  # MLflow's words: RUNNING, FINISHED, FAILED, KILLED, ...
    start_time: datetime | None = _when(default=None, nullable=True)
    end_time: datetime | None = _when(default=None, nullable=True)
    duration_s: float | None = None  # end - start, or a W&B export's Runtime
    parent_run_id: str | None = Field(default=None, max_length=64)  # sweeps and nested runs keep their parent
    # Reproducibility fields.
    git_commit: str | None = Field(default=None, max_length=64)
    source_name: str | None = Field(default=None, max_length=500)  # entry point: script or notebook
    source_type: str | None = Field(default=None, max_length=32)  # LOCAL, NOTEBOOK, JOB, PROJECT, ...
    owner: str | None = Field(default=None, max_length=200)  # mlflow.user
    data_version: str | None = Field(default=None, max_length=500)
    datasets: list[dict[str, Any]] = _json(default_factory=list)  # logged dataset inputs: name, digest, source, context
    seed: str | None = Field(default=None, max_length=64)
    environment: dict[str, Any] = _json(default_factory=dict)  # python, packages {name: version}, where read from
    hardware: str | None = Field(default=None, max_length=500)
    split: str | None = Field(default=None, max_length=500)
    artifact_uri: str | None = Field(default=None, max_length=1000)
    synced_at: datetime | None = _when(default=None, nullable=True)  # last read from MLflow
    # Marked as the project's baseline through the API (a `baseline` tag or a brain dump can declare one too).
    baseline: bool = Field(default=False)
    # The labbook.approach / labbook.finding.* tags last queued for write-back to MLflow, so only changes are queued.
    labbook_tags: dict[str, str] = _json(default_factory=dict)
    created_at: datetime = _when(default_factory=utcnow)
    updated_at: datetime = _when(default_factory=utcnow)


class SessionLog(SQLModel, table=True):
    # A brain dump exactly as received. Never edited; only a redaction may replace a pasted secret, with an audit row.
    __tablename__ = "session_log"
    __table_args__ = (Index("ix_session_log_project_date", "project_id", "session_date"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    run_table: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    run_table_format: str | None = Field(default=None, max_length=16)
    run_refs: list[str] = _json(default_factory=list)
    author: str = Field(max_length=200)
    channel: str = Field(default="api", max_length=32)
    session_date: date
    received_at: datetime = _when(default_factory=utcnow)
    received_sha256: str = Field(max_length=64)


class Redaction(SQLModel, table=True):
    # Audit record of a redaction: who, when, why, which field, how many occurrences, and a fingerprint of what
    # was removed (its sha256), never the removed text itself.
    __tablename__ = "redaction"

    id: int | None = Field(default=None, primary_key=True)
    log_id: int = Field(foreign_key="session_log.id", index=True)
    field: str = Field(max_length=32)
    occurrences: int
    removed_sha256: str = Field(max_length=64)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    redacted_by: str = Field(max_length=200)
    redacted_at: datetime = _when(default_factory=utcnow)


class ApiToken(SQLModel, table=True):
    # A bearer token created through the CLI or API: stored as a sha256 hash, optionally limited to some projects.
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=16)
    projects: list[str] | None = _json(default=None, nullable=True)
    created_at: datetime = _when(default_factory=utcnow)
    revoked_at: datetime | None = _when(default=None, nullable=True)
    last_used_at: datetime | None = _when(default=None, nullable=True)


class Entry(SQLModel, table=True):
    # A composed document (kind `log_entry`, later `phase_summary`, ...): the current version of its JSON body and
    # Markdown, the runs it cites, and what phrased it. Every version, the first included, is kept in EntryVersion.
    __tablename__ = "entry"
    __table_args__ = (Index("ix_entry_project_kind_id", "project_id", "kind", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id")
    kind: str = Field(max_length=32)
    log_id: int | None = Field(default=None, foreign_key="session_log.id", index=True)
    version: int = Field(default=1)
    body: dict[str, Any] = _json(default_factory=dict)
    markdown: str = Field(sa_column=Column(Text, nullable=False))
    run_ids: list[str] = _json(default_factory=list)
    provider: str = Field(max_length=200)
    template: str = Field(max_length=64)
    template_version: str = Field(max_length=64)
    schema_version: str = Field(max_length=32)
    # Who phrased the current version: `offline` (no model asked), `pending` (the offline version, a model's on its
    # way), `model`, or `offline_fallback` (the model's answer failed; `phrasing_reason` says why).
    phrasing: str = Field(default="offline", sa_column=Column(String(16), nullable=False, server_default="offline"))
    phrasing_reason: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    # The model call behind it: provider, model, prompt name, version and sha256, token counts, latency, attempts.
    llm: dict[str, Any] | None = _json(default=None, nullable=True)
    created_at: datetime = _when(default_factory=utcnow)
    updated_at: datetime = _when(default_factory=utcnow)


class LlmResponse(SQLModel, table=True):
    # A model's validated answer to one exact prompt (by its sha256): asking the same again costs nothing.
    __tablename__ = "llm_response"
    __table_args__ = (UniqueConstraint("model", "prompt_sha256", name="uq_llm_response_model_prompt"),)

    id: int | None = Field(default=None, primary_key=True)
    model: str = Field(max_length=200)
    prompt_sha256: str = Field(max_length=64)
    text: str = Field(sa_column=Column(Text, nullable=False))
    prompt_tokens: int = 0
    completion_tokens: int = 0
    created_at: datetime = _when(default_factory=utcnow)


class EntryVersion(SQLModel, table=True):
    # One version of an entry, never rewritten: version 1 as composed, then one per human correction, with who and why.
    __tablename__ = "entry_version"
    __table_args__ = (UniqueConstraint("entry_id", "version", name="uq_entry_version_entry_version"),)

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="entry.id")
    version: int
    body: dict[str, Any] = _json(default_factory=dict)
    markdown: str = Field(sa_column=Column(Text, nullable=False))
    run_ids: list[str] = _json(default_factory=list)
    provider: str = Field(max_length=200)
    edited_by: str = Field(max_length=200)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = _when(default_factory=utcnow)


class TrackingSync(SQLModel, table=True):
    # Where the last sync of one linked MLflow experiment stopped: the newest start time seen, and the runs that were
    # still running (re-read next time). A full sync ignores this and re-reads everything.
    __tablename__ = "tracking_sync"
    __table_args__ = (UniqueConstraint("project_id", "experiment_id", name="uq_tracking_sync_project_experiment"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id")
    experiment_id: str = Field(max_length=64)
    experiment_name: str = Field(default="", max_length=500)
    tracking_uri: str = Field(default="", max_length=1000)
    max_start_time_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    open_run_ids: list[str] = _json(default_factory=list)
    runs_seen: int = 0
    last_sync_at: datetime | None = _when(default=None, nullable=True)
    last_full_sync_at: datetime | None = _when(default=None, nullable=True)


class ArtifactCache(SQLModel, table=True):
    # What was read once from a run's artifacts (a logged model's requirements.txt, conda.yaml, python_env.yaml),
    # keyed by the artifact's URI, so a re-sync never downloads it again. `content` is the parsed result.
    __tablename__ = "artifact_cache"

    id: int | None = Field(default=None, primary_key=True)
    uri: str = Field(max_length=1000, unique=True, index=True)
    content: dict[str, Any] = _json(default_factory=dict)
    fetched_at: datetime = _when(default_factory=utcnow)


class OutboxItem(SQLModel, table=True):
    # One write-back to deliver to a tracking server (kind `run_note`: the run's Labbook section and labbook.* tags).
    # Stored in the same transaction as the entry that caused it; a worker delivers it with retries and backoff.
    # state: pending -> delivered, or dead (a permanent error, e.g. the run no longer exists).
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_state_due", "state", "next_attempt_at"),
        Index("ix_outbox_entry", "entry_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    entry_id: int | None = Field(default=None, foreign_key="entry.id")
    kind: str = Field(max_length=32)
    run_id: str = Field(max_length=64)
    payload: dict[str, Any] = _json(default_factory=dict)
    state: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = _when(default_factory=utcnow)
    claimed_until: datetime | None = _when(default=None, nullable=True)  # a worker's lease
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = _when(default_factory=utcnow)
    updated_at: datetime = _when(default_factory=utcnow)
    delivered_at: datetime | None = _when(default=None, nullable=True)


class ApproachAssignment(SQLModel, table=True):
    # A person regrouped a run into a named approach; this wins over the run's tag and over inference.
    __tablename__ = "approach_assignment"
    __table_args__ = (UniqueConstraint("project_id", "run_key", name="uq_approach_assignment_project_run"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    run_key: str = Field(max_length=300)
    approach: str = Field(max_length=200)
    assigned_by: str = Field(max_length=200)
    assigned_at: datetime = _when(default_factory=utcnow)


class ApproachMarkRow(SQLModel, table=True):
    # A person's verdict on an approach (abandoned or adopted) with the reason; the computed status is still reported.
    __tablename__ = "approach_mark"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_approach_mark_project_name"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    name: str = Field(max_length=200)
    status: str = Field(max_length=16)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    marked_by: str = Field(max_length=200)
    marked_at: datetime = _when(default_factory=utcnow)


class IdempotencyKey(SQLModel, table=True):
    # A POST's Idempotency-Key and the first answer to it, replayed to a retry. `scope` is the sha256 of the caller's
    # Authorization header, so two callers' keys never meet; `fingerprint` the sha256 of the request. state: pending
    # (running, leased from `claimed_at`) -> complete. `replay_path` is the created resource, set in the transaction
    # that creates it, so a retry after a crash finds it even when the first answer was never stored.
    __tablename__ = "idempotency_key"
    __table_args__ = (
        UniqueConstraint("scope", "key", name="uq_idempotency_key_scope_key"),
        Index("ix_idempotency_key_created_at", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=64)
    key: str = Field(max_length=200)
    fingerprint: str = Field(max_length=64)
    state: str = Field(default="pending", max_length=16)
    response_status: int | None = None
    media_type: str | None = Field(default=None, max_length=200)
    response_body: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    replay_path: str | None = Field(default=None, max_length=500)
    created_at: datetime = _when(default_factory=utcnow)
    claimed_at: datetime = _when(default_factory=utcnow)


class ApproachMarkProposal(SQLModel, table=True):
    # A verdict a brain dump declared on an approach ("dead end, dropping it"), waiting for a person to confirm it.
    __tablename__ = "approach_mark_proposal"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_approach_mark_proposal_project_name"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    name: str = Field(max_length=200)
    status: str = Field(max_length=16)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))  # the sentence that says it
    log_id: int = Field(foreign_key="session_log.id")
    proposed_at: datetime = _when(default_factory=utcnow)


class AnsweredQuestion(SQLModel, table=True):
    # An open question of an earlier log entry that a later brain dump answered, with the sentence and where.
    __tablename__ = "answered_question"

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    entry_id: int = Field(foreign_key="entry.id", index=True)  # the entry that asked
    question: str = Field(sa_column=Column(Text, nullable=False))
    log_id: int = Field(foreign_key="session_log.id")  # the dump that answered
    answer_entry_id: int | None = Field(default=None, foreign_key="entry.id")
    quote: str = Field(sa_column=Column(Text, nullable=False))
    answered_at: datetime = _when(default_factory=utcnow)
