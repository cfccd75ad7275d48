"""the full run model, MLflow sync state, the artifact cache and the write-back outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON text elsewhere (as app.storage.types.JSONType; repeated so the migration stays frozen).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
WHEN = sa.DateTime(timezone=True)

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RUN_COLUMNS = (
    ("experiment_id", sa.String(length=64)),
    ("status", sa.String(length=16)),
    ("start_time", WHEN),
    ("end_time", WHEN),
    ("duration_s", sa.Float()),
    ("parent_run_id", sa.String(length=64)),
    ("git_commit", sa.String(length=64)),
    ("source_name", sa.String(length=500)),
    ("source_type", sa.String(length=32)),
    ("owner", sa.String(length=200)),
    ("data_version", sa.String(length=500)),
    ("seed", sa.String(length=64)),
    ("hardware", sa.String(length=500)),
    ("split", sa.String(length=500)),
    ("artifact_uri", sa.String(length=1000)),
    ("synced_at", WHEN),
)


def upgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tracking_uri", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("writeback", sa.Boolean(), nullable=False, server_default=sa.true()))

    with op.batch_alter_table("run", schema=None) as batch_op:
        for name, type_ in _RUN_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
        batch_op.add_column(sa.Column("datasets", JSON, nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("environment", JSON, nullable=False, server_default="{}"))

    op.create_table(
        "tracking_sync",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("experiment_id", sa.String(length=64), nullable=False),
        sa.Column("experiment_name", sa.String(length=500), nullable=False),
        sa.Column("tracking_uri", sa.String(length=1000), nullable=False),
        sa.Column("max_start_time_ms", sa.BigInteger(), nullable=True),
        sa.Column("open_run_ids", JSON, nullable=False),
        sa.Column("runs_seen", sa.Integer(), nullable=False),
        sa.Column("last_sync_at", WHEN, nullable=True),
        sa.Column("last_full_sync_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "experiment_id", name="uq_tracking_sync_project_experiment"),
    )

    op.create_table(
        "artifact_cache",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uri", sa.String(length=1000), nullable=False),
        sa.Column("content", JSON, nullable=False),
        sa.Column("fetched_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("artifact_cache", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_artifact_cache_uri"), ["uri"], unique=True)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", WHEN, nullable=False),
        sa.Column("claimed_until", WHEN, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("delivered_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(["entry_id"], ["entry.id"]),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_state_due", ["state", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_outbox_entry", ["entry_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("artifact_cache")
    op.drop_table("tracking_sync")
    with op.batch_alter_table("run", schema=None) as batch_op:
        for name in ("environment", "datasets", *(name for name, _ in reversed(_RUN_COLUMNS))):
            batch_op.drop_column(name)
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_column("writeback")
        batch_op.drop_column("tracking_uri")
