"""what a brain dump says: proposed approach marks, answered open questions, and the auto-apply setting

Revision ID: 0006_declared_marks
Revises: 0005_idempotency_keys
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

WHEN = sa.DateTime(timezone=True)

revision: str = "0006_declared_marks"
down_revision: str | None = "0005_idempotency_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("auto_apply_declared_marks", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    op.create_table(
        "approach_mark_proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("log_id", sa.Integer(), nullable=False),
        sa.Column("proposed_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.ForeignKeyConstraint(["log_id"], ["session_log.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name", name="uq_approach_mark_proposal_project_name"),
    )
    with op.batch_alter_table("approach_mark_proposal", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_approach_mark_proposal_project_id"), ["project_id"], unique=False)

    op.create_table(
        "answered_question",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("log_id", sa.Integer(), nullable=False),
        sa.Column("answer_entry_id", sa.Integer(), nullable=True),
        sa.Column("quote", sa.Text(), nullable=False),
        sa.Column("answered_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.ForeignKeyConstraint(["entry_id"], ["entry.id"]),
        sa.ForeignKeyConstraint(["log_id"], ["session_log.id"]),
        sa.ForeignKeyConstraint(["answer_entry_id"], ["entry.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("answered_question", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_answered_question_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_answered_question_entry_id"), ["entry_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("answered_question", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_answered_question_entry_id"))
        batch_op.drop_index(batch_op.f("ix_answered_question_project_id"))
    op.drop_table("answered_question")
    with op.batch_alter_table("approach_mark_proposal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approach_mark_proposal_project_id"))
    op.drop_table("approach_mark_proposal")
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_column("auto_apply_declared_marks")
