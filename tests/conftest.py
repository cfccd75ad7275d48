"""Fixtures: the real app on a fresh database per test.

The database is a new SQLite file in the test's tmp dir, or, when `LABBOOK_TEST_POSTGRES_URL` names a PostgreSQL
server (scripts/test starts one), a new PostgreSQL database created for the test and dropped after it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from app.config import Settings
from app.main import create_app
from app.storage.db import make_engine, migrate
from tests.mlflow_server import MlflowServer

ADMIN_TOKEN = "test-admin-token-0123456789"
POSTGRES_URL = os.environ.get("LABBOOK_TEST_POSTGRES_URL")


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    if POSTGRES_URL is None:
        yield f"sqlite:///{tmp_path / 'labbook.db'}"
        return
    name = f"lb_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _admin_engine() -> Engine:
    url = make_url(str(POSTGRES_URL)).set(drivername="postgresql+psycopg")
    return create_engine(url, isolation_level="AUTOCOMMIT")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # outbox_worker="off": no background delivery thread; write-back tests drive delivery themselves.
    return Settings(data_dir=tmp_path / "data", api_tokens=ADMIN_TOKEN, database_url=database_url, outbox_worker="off")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as test_client:
        yield test_client


@pytest.fixture
def anon(client: TestClient) -> TestClient:
    """A client of the same app that sends no token."""
    return TestClient(client.app)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.sqlalchemy_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A plain session: tests commit where they mean to; what they leave uncommitted is rolled back."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """One real MLflow tracking server for the whole session (SQLite store, loopback, one worker). Tests that write
    to it create their own experiment, so they never see each other's runs."""
    server = MlflowServer(root=tmp_path_factory.mktemp("mlflow")).start()
    yield server
    server.stop()
