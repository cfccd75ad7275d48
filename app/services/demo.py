"""The demo project: a churn model's first week, as a pasted run table and two end-of-session brain dumps.

Seeding is idempotent: a second start finds the project and the token and reuses both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import cast

from sqlmodel import Session

from app.config import Settings
from app.services import auth, logs, projects, runs
from app.services.auth import Principal
from app.services.schemas import LogCreate, ProjectCreate, TokenCreate
from app.storage import logs as log_store
from app.storage import projects as project_store
from app.storage import runs as run_store
from app.storage.models import Project

DEMO_SLUG = "churn-demo"
TOKEN_FILE = "demo-token"

RUN_TABLE = """\
| Run ID | Model | Key hyperparams | Val AUC | Notes |
|---|---|---|---|---|
| 1f3a9c20 | logreg | C=1.0, class_weight=balanced | 0.801 | baseline |
| 9b22c4f0 | lightgbm | lr=0.05, num_leaves=31 | 0.861 | |
| 5c6d70a1 | lightgbm+smote | lr=0.05, num_leaves=31, smote=true | 0.858 | smote on train folds only |
| 0d81ee3b | xgboost | eta=0.05, max_depth=6 | 0.857 | 2x slower to train |
| 7e4b1d55 | lightgbm | lr=0.1, num_leaves=31 | .84ish | diverged-ish |
| a4c2e8f1 | lightgbm | lr=0.05, num_leaves=63 | 0.862 | |
| b7d3f9a2 | lightgbm | lr=0.05, num_leaves=63, seed=1 | 0.859 | seed repeat |
| c8e4a0b3 | lightgbm | lr=0.05, num_leaves=63, seed=2 | 0.863 | seed repeat |
"""

DUMPS = (
    (
        date(2026, 11, 23),
        "Kicked off churn. Baseline logreg 1f3a9c20 gets val auc 0.801, class_weight balanced.\n"
        "lightgbm 9b22c4f0 jumps to .861 with defaults-ish params, big win.\n"
        "hypothesis: trees pick up the tenure x plan interactions the linear model can't.\n"
        "next: try smote for the 7% positive rate, and xgboost for comparison.",
    ),
    (
        date(2026, 11, 24),
        "ok so today: smote (5c6d70a1) vs none (9b22c4f0) -> smote didnt help at all, .858 vs .861. "
        "xgb 0d81ee3b about the same as lgbm but 2x slower to train. tried lr 0.1 on lgbm too, diverged-ish "
        "(auc .84). open q: is the val split leaking by customer id? tomorrow: group split by customer, "
        "drop smote for good",
    ),
)


@dataclass(frozen=True)
class DemoSeeded:
    slug: str
    runs: int
    logs: int
    created: bool


def seed_demo(session: Session) -> DemoSeeded:
    """Create the demo project with its runs and brain dumps, unless it already exists."""
    project = project_store.get_project_by_slug(session, DEMO_SLUG)
    created = project is None
    if project is None:
        project = _create(session)
    project_id = cast(int, project.id)
    return DemoSeeded(
        slug=DEMO_SLUG,
        runs=len(run_store.list_runs(session, project_id=project_id, after_id=0, limit=10_000)),
        logs=len(log_store.list_logs(session, project_id=project_id, after_id=0, limit=10_000)),
        created=created,
    )


def _create(session: Session) -> Project:
    principal = Principal(name="demo")
    projects.create_project(session, principal=principal, body=_project())
    project = projects.resolve_project(session, principal=principal, slug=DEMO_SLUG)
    runs.import_table(session, project=project, text=RUN_TABLE, format="markdown")
    for day, text in DUMPS:
        body = LogCreate(text=text, author="Dana (demo)", session_date=day)
        logs.create_log(session, project=project, principal=principal, body=body)
    return project


def _project() -> ProjectCreate:
    return ProjectCreate(
        slug=DEMO_SLUG,
        name="Customer churn (demo)",
        goal="Flag subscribers likely to cancel in the next 30 days, so retention can call them first.",
        primary_metric="Val AUC",
        metric_direction="max",
        target_value=0.88,
        metric_aliases={"auc": "val_auc", "roc_auc": "val_auc"},
    )


def ensure_demo_token(session: Session, *, settings: Settings) -> str:
    """The demo's token, kept in a file only its owner can read, so every start can print it again."""
    path = Path(settings.data_dir) / TOKEN_FILE
    if path.exists():
        secret = path.read_text().strip()
        if auth.token_is_active(session, secret):
            return secret
    created = auth.create_token(session, body=TokenCreate(name="demo"))
    _write_private(path, created.token)
    return created.token


def _write_private(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
