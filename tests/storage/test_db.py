"""The schema, the engine and the column types, on SQLite and (under scripts/test) PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import cast

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import Session, SQLModel, select

from app.errors import ConcurrentWrite
from app.storage import entries as entry_store
from app.storage import runs as run_store
from app.storage.db import alembic_config, migrate
from app.storage.models import Entry, EntryVersion, Project, Run
from app.storage.runs import MetricFilter, TextFilter


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_migrate_is_idempotent_and_reversible(engine: Engine) -> None:
    migrate(engine)
    command.downgrade(alembic_config(engine), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate(engine)
    tables = {"project", "run", "session_log", "redaction", "api_token", "entry", "entry_version"}
    assert tables <= set(inspect(engine).get_table_names())


def test_engine_is_set_up_for_its_backend(engine: Engine) -> None:
    """SQLite: WAL and foreign keys on every connection. PostgreSQL: the psycopg 3 driver and UTF-8."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        else:
            assert engine.dialect.driver == "psycopg"
            assert conn.execute(text("SHOW server_encoding")).scalar() == "UTF8"


def _project(session: Session, slug: str = "p") -> Project:
    project = Project(slug=slug, name=slug, primary_metric="auc", metric_direction="max")
    session.add(project)
    session.flush()
    return project


def test_datetimes_come_back_as_aware_utc(session: Session) -> None:
    created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    project = _project(session)
    project.created_at = created
    session.commit()
    session.expire_all()
    stored = session.exec(select(Project)).one()
    assert stored.created_at == created
    assert stored.created_at.tzinfo is not None
    assert stored.created_at.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(session: Session) -> None:
    project = _project(session)
    project.created_at = datetime(2026, 1, 1)  # noqa: DTZ001 - the point of the test
    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()


def test_run_keys_are_unique_per_project(session: Session) -> None:
    a, b = _project(session, "a"), _project(session, "b")
    session.add(Run(project_id=a.id or 0, key="r1"))
    session.add(Run(project_id=b.id or 0, key="r1"))
    session.flush()
    session.add(Run(project_id=a.id or 0, key="r1"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_an_entry_version_number_is_taken_once(session: Session) -> None:
    """Two corrections racing for version 2: the second is a ConcurrentWrite (409), never a duplicate."""
    project = _project(session)
    fields = {"body": {}, "markdown": "# t\n", "run_ids": [], "provider": "offline"}
    entry = Entry(
        project_id=project.id or 0,
        kind="log_entry",
        template="log_entry",
        template_version="1",
        schema_version="log_entry/1",
        **fields,
    )
    entry_store.add_entry(session, entry)
    for version in (1, 2):
        entry_store.add_version(session, EntryVersion(entry_id=entry.id or 0, version=version, edited_by="a", **fields))
    with pytest.raises(ConcurrentWrite):
        entry_store.add_version(session, EntryVersion(entry_id=entry.id or 0, version=2, edited_by="b", **fields))


def test_runs_need_an_existing_project(session: Session) -> None:
    session.add(Run(project_id=12345, key="r1"))
    with pytest.raises(IntegrityError):
        session.flush()


class TestRunFilters:
    @pytest.fixture
    def project_id(self, session: Session) -> int:
        project = _project(session)
        rows = [
            ("r1", {"model": "lgbm", "lr": "0.1"}, {"auc": 0.8, "loss": 0.5}, {"team": "a"}),
            ("r2", {"model": "lgbm", "lr": "0.05"}, {"auc": 0.9}, {}),
            ("r3", {"model": "xgb"}, {"auc": 0.85, "loss": 0.3}, {"team": "b"}),
        ]
        for key, params, metrics, tags in rows:
            session.add(Run(project_id=project.id or 0, key=key, params=params, metrics=metrics, tags=tags))
        session.flush()
        return project.id or 0

    @pytest.mark.parametrize(
        ("metrics", "params", "tags", "expected"),
        [
            ([MetricFilter("auc", ">", 0.82)], [], [], ["r2", "r3"]),
            ([MetricFilter("auc", "<=", 0.85)], [], [], ["r1", "r3"]),
            ([MetricFilter("auc", "!=", 0.9)], [], [], ["r1", "r3"]),
            ([MetricFilter("loss", None)], [], [], ["r1", "r3"]),
            ([], [TextFilter("model", "lgbm")], [], ["r1", "r2"]),
            ([], [TextFilter("lr", None)], [], ["r1", "r2"]),
            ([], [], [TextFilter("team", "b")], ["r3"]),
            ([MetricFilter("auc", ">=", 0.8)], [TextFilter("model", "lgbm")], [TextFilter("team", None)], ["r1"]),
            ([MetricFilter("missing", ">", 0)], [], [], []),
        ],
    )
    def test_filters_in_sql(
        self,
        session: Session,
        project_id: int,
        metrics: list[MetricFilter],
        params: list[TextFilter],
        tags: list[TextFilter],
        expected: list[str],
    ) -> None:
        found = run_store.list_runs(
            session, project_id=project_id, after_id=0, limit=10, metrics=metrics, params=params, tags=tags
        )
        assert [r.key for r in found] == expected

    def test_keyset_pages(self, session: Session, project_id: int) -> None:
        first = run_store.list_runs(session, project_id=project_id, after_id=0, limit=2)
        rest = run_store.list_runs(session, project_id=project_id, after_id=first[-1].id or 0, limit=2)
        assert [r.key for r in first + rest] == ["r1", "r2", "r3"]


def test_json_roundtrip_keeps_unicode_and_floats(session: Session) -> None:
    project = _project(session)
    session.add(Run(project_id=project.id or 0, key="ü-1", params={"note": "naïve → β"}, metrics={"auc": 0.1 + 0.2}))
    session.commit()
    session.expire_all()
    run = session.exec(select(Run)).one()
    assert run.params == {"note": "naïve → β"}
    assert run.metrics["auc"] == 0.1 + 0.2
    assert run.created_at <= datetime.now(UTC)


def test_run_rows_are_plain_tuples_in_insertion_order(session: Session) -> None:
    project = Project(slug="p", name="P", primary_metric="auc", metric_direction="max")
    session.add(project)
    session.flush()
    session.add(Run(project_id=cast(int, project.id), key="b", run_id="b", metrics={"auc": 0.8}, params={"lr": "0.1"}))
    session.add(Run(project_id=cast(int, project.id), key="name:x", run_name="x"))
    session.flush()
    assert run_store.run_rows(session, project_id=cast(int, project.id)) == [
        ("b", "b", None, {"auc": 0.8}, {"lr": "0.1"}),
        ("name:x", None, "x", {}, {}),
    ]
