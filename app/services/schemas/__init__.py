"""The API contract: request bodies (unknown fields are refused) and response shapes, shared by HTTP, CLI and MCP.

One module per resource; every name is re-exported here, so `from app.services.schemas import X` is the way in.
"""

from __future__ import annotations

from app.services.schemas.approaches import (
    ApproachMarkCreate,
    ApproachMarkPublic,
    ApproachName,
    ApproachProposedMarkPublic,
    ApproachPublic,
    ApproachRunsAssign,
    BaselinePublic,
)
from app.services.schemas.backup import BACKUP_FORMAT, BACKUP_VERSION, ProjectBackup
from app.services.schemas.common import (
    SLUG_RE,
    Count,
    Day,
    Direction,
    MetricName,
    Name,
    NonBlank,
    Number,
    Page,
    RunRef,
    Slug,
    Strict,
    T,
    TableFormat,
)
from app.services.schemas.documents import (
    BriefCreate,
    CriterionCreate,
    DecisionCreate,
    MetricSwitchCreate,
    NextExperimentsCreate,
    ReproductionCreate,
    SummaryCreate,
    TriedCreate,
)
from app.services.schemas.entries import (
    EntryPublic,
    EntryUpdate,
    EntryVersionPublic,
    OpenQuestionPublic,
    QuestionAnswerPublic,
)
from app.services.schemas.errors import ErrorDetail, ErrorPublic
from app.services.schemas.findings import (
    BestLeadPublic,
    FindingPublic,
    FindingsPublic,
    MetricSwitchPublic,
    NoisePublic,
    ParamChangePublic,
    RunChangesPublic,
)
from app.services.schemas.health import Health, LoadPublic
from app.services.schemas.logs import LogCreate, LogPublic, RedactionCreate, RedactionPublic
from app.services.schemas.outbox import OutboxItemPublic, OutboxPage, OutboxState, WritebackStatus
from app.services.schemas.projects import (
    MinEffect,
    ProjectCreate,
    ProjectFields,
    ProjectPublic,
    ProjectUpdate,
    RecentRuns,
    StallSessions,
    TrackingUri,
)
from app.services.schemas.runs import (
    ImportedColumn,
    ImportedRow,
    ImportWarning,
    RunImportResult,
    RunPublic,
    RunTableImport,
)
from app.services.schemas.search import SearchHit, SearchPage
from app.services.schemas.sync import SyncedExperiment, SyncResult
from app.services.schemas.tokens import TokenCreate, TokenCreated, TokenPublic

__all__ = [
    "BACKUP_FORMAT",
    "BACKUP_VERSION",
    "ProjectBackup",
    "SearchHit",
    "SearchPage",
    "ApproachMarkCreate",
    "ApproachMarkPublic",
    "ApproachName",
    "ApproachProposedMarkPublic",
    "ApproachPublic",
    "ApproachRunsAssign",
    "BaselinePublic",
    "BestLeadPublic",
    "BriefCreate",
    "Count",
    "CriterionCreate",
    "Day",
    "DecisionCreate",
    "Direction",
    "EntryPublic",
    "EntryUpdate",
    "EntryVersionPublic",
    "ErrorDetail",
    "ErrorPublic",
    "OpenQuestionPublic",
    "QuestionAnswerPublic",
    "FindingPublic",
    "FindingsPublic",
    "Health",
    "LoadPublic",
    "ImportWarning",
    "ImportedColumn",
    "ImportedRow",
    "LogCreate",
    "LogPublic",
    "MetricName",
    "MetricSwitchCreate",
    "MetricSwitchPublic",
    "MinEffect",
    "Name",
    "NextExperimentsCreate",
    "NoisePublic",
    "NonBlank",
    "Number",
    "OutboxItemPublic",
    "OutboxPage",
    "OutboxState",
    "Page",
    "ParamChangePublic",
    "ProjectCreate",
    "ProjectFields",
    "ProjectPublic",
    "ProjectUpdate",
    "RecentRuns",
    "RedactionCreate",
    "RedactionPublic",
    "ReproductionCreate",
    "RunChangesPublic",
    "RunImportResult",
    "RunPublic",
    "RunRef",
    "RunTableImport",
    "SLUG_RE",
    "Slug",
    "StallSessions",
    "Strict",
    "SummaryCreate",
    "SyncResult",
    "SyncedExperiment",
    "T",
    "TableFormat",
    "TokenCreate",
    "TokenCreated",
    "TokenPublic",
    "TrackingUri",
    "TriedCreate",
    "WritebackStatus",
]
