"""the reasoning core: baseline marks, queued labbook.* tags, approach regrouping and marks

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON text elsewhere (as app.storage.types.JSONType; repeated so the migration stays frozen).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
WHEN = sa.DateTime(timezone=True)

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(sa.Column("min_effect", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("recent_runs", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("stall_sessions", sa.Integer(), nullable=True))

    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("baseline", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("labbook_tags", JSON, nullable=False, server_default="{}"))

    op.create_table(
        "approach_assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("run_key", sa.String(length=300), nullable=False),
        sa.Column("approach", sa.String(length=200), nullable=False),
        sa.Column("assigned_by", sa.String(length=200), nullable=False),
        sa.Column("assigned_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "run_key", name="uq_approach_assignment_project_run"),
    )
    with op.batch_alter_table("approach_assignment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_approach_assignment_project_id"), ["project_id"], unique=False)

    op.create_table(
        "approach_mark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("marked_by", sa.String(length=200), nullable=False),
        sa.Column("marked_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name", name="uq_approach_mark_project_name"),
    )
    with op.batch_alter_table("approach_mark", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_approach_mark_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("approach_mark", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approach_mark_project_id"))
    op.drop_table("approach_mark")
    with op.batch_alter_table("approach_assignment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approach_assignment_project_id"))
    op.drop_table("approach_assignment")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_column("labbook_tags")
        batch_op.drop_column("baseline")
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_column("stall_sessions")
        batch_op.drop_column("recent_runs")
        batch_op.drop_column("min_effect")
