"""The optional model: a project's `llm` switch, how each entry was phrased, and validated answers by prompt hash

Revision ID: 0008_llm_phrasing
Revises: 0007_project_revision
Create Date: 2026-12-09
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON text elsewhere (as app.storage.types.JSONType; repeated so the migration stays frozen).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0008_llm_phrasing"
down_revision: str | None = "0007_project_revision"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.add_column(sa.Column("llm", sa.String(length=8), nullable=False, server_default="auto"))
    # Entries stored before this revision were all written by the offline composer.
    with op.batch_alter_table("entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phrasing", sa.String(length=16), nullable=False, server_default="offline"))
        batch_op.add_column(sa.Column("phrasing_reason", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("llm", JSON, nullable=True))
    op.create_table(
        "llm_response",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("prompt_sha256", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("model", "prompt_sha256", name="uq_llm_response_model_prompt"),
    )


def downgrade() -> None:
    op.drop_table("llm_response")
    with op.batch_alter_table("entry", schema=None) as batch_op:
        batch_op.drop_column("llm")
        batch_op.drop_column("phrasing_reason")
        batch_op.drop_column("phrasing")
    with op.batch_alter_table("project", schema=None) as batch_op:
        batch_op.drop_column("llm")
