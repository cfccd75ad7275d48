"""Alembic environment: the engine is handed over by `app.storage.db.migrate`, never read from an ini file."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import app.storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode rebuilds the table instead
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
