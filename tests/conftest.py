"""Fixtures: the real app on a fresh database per test.

The database is a new SQLite file in the test's tmp dir, or, when `LABBOOK_TEST_POSTGRES_URL` names a PostgreSQL
server (scripts/test starts one), a new PostgreSQL database created for the test and dropped after it. Either way it
starts as a copy of a template that the real migrations brought to head once per test process (once per
pytest-xdist worker): a file copy on SQLite, `CREATE DATABASE ... TEMPLATE` on PostgreSQL. The migrations' own tests
(tests/storage/test_db.py) still run them down and up for real on their copy.

The app, SQLAlchemy and MLflow are imported inside the fixtures: pytest-xdist's controller process loads this file
too but runs no test, and importing them there would cost it seconds.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy import Connection, Engine
    from sqlmodel import Session

    from app.config import Settings
    from tests.mlflow_server import MlflowServer

ADMIN_TOKEN = "test-admin-token-0123456789"
# Retrieval (Chroma and the embedding model) is off unless a test turns it on (`retrieval="on"`): the tests of
# tests/retrieval/ run it for real; the rest would pay a Chroma store and a model per test for nothing they check.
os.environ.setdefault("LABBOOK_RETRIEVAL", "off")
POSTGRES_URL = os.environ.get("LABBOOK_TEST_POSTGRES_URL")
# pytest-xdist names its workers gw0, gw1, ...; a plain pytest run is a single process.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(autouse=True)
def _index_queue_off() -> Iterator[None]:
    """Services called without an app queue no index items and consult no index, whatever app an earlier test
    started."""
    from app.services import index_queue, memory

    index_queue.configure(enabled=False)
    memory.configure(None)
    yield
    index_queue.configure(enabled=False)
    memory.configure(None)


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated to head once per test process: a SQLite file's path, or a PostgreSQL database's name.
    No test connects to it; each gets a copy (`database_url`)."""
    from sqlalchemy import text

    from app.storage.db import make_engine, migrate

    if POSTGRES_URL is None:
        path = tmp_path_factory.mktemp("template") / "labbook.db"
        engine = make_engine(f"sqlite:///{path}")
        migrate(engine)
        with engine.connect() as conn:
            # Everything into the main file (WAL mode), so that copying this one file copies the whole database.
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        engine.dispose()
        yield str(path)
        return
    # One template per worker: PostgreSQL copies a database only while no one else is connected to it.
    name = f"lb_template_{WORKER}_{uuid.uuid4().hex[:8]}"
    with _postgres_admin() as admin:
        admin.execute(text(f'CREATE DATABASE "{name}"'))
        engine = make_engine(_postgres_url(name, driver="postgresql+psycopg"))
        migrate(engine)
        engine.dispose()
        # Copying waits, in steps of 0.1 s, while anyone is connected to the template; with connections refused
        # not even autovacuum comes near it.
        admin.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
    yield name
    with _postgres_admin() as admin:
        admin.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def database_url(tmp_path: Path, template_database: str) -> Iterator[str]:
    """A fresh database of the test's own, already at the migrations' head."""
    with fresh_database(tmp_path / "labbook.db", template_database) as url:
        yield url


@pytest.fixture
def other_database_url(tmp_path: Path, template_database: str) -> Iterator[str]:
    """A second fresh database, beside `database_url` (a restore's target)."""
    with fresh_database(tmp_path / "other.db", template_database) as url:
        yield url


@contextmanager
def fresh_database(path: Path, template_database: str) -> Iterator[str]:
    """A copy of the template: the SQLite file `path`, or a new PostgreSQL database dropped afterwards."""
    from sqlalchemy import text

    if POSTGRES_URL is None:
        shutil.copyfile(template_database, path)
        yield f"sqlite:///{path}"
        return
    name = f"lb_test_{uuid.uuid4().hex[:12]}"
    with _postgres_admin() as admin:
        admin.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"'))
    try:
        yield _postgres_url(name)
    finally:
        with _postgres_admin() as admin:
            admin.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _postgres_url(database: str | None = None, *, driver: str | None = None) -> str:
    """`LABBOOK_TEST_POSTGRES_URL`, on another database or with another driver."""
    from sqlalchemy.engine import make_url

    url = make_url(str(POSTGRES_URL))
    url = url.set(database=database or url.database, drivername=driver or url.drivername)
    return url.render_as_string(hide_password=False)


@contextmanager
def _postgres_admin() -> Iterator[Connection]:
    """A connection to the database `LABBOOK_TEST_POSTGRES_URL` names, outside any transaction (CREATE and DROP
    DATABASE need that)."""
    from sqlalchemy import create_engine

    engine = create_engine(_postgres_url(driver="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    from app.config import Settings

    # outbox_worker="off": no background delivery thread; write-back tests drive delivery themselves.
    # auto_migrate=False: the database is a copy of the migrated template, so the app's start-up migration would find
    # nothing to do (settings a test builds itself keep the default and still run it).
    return Settings(
        data_dir=tmp_path / "data",
        api_tokens=ADMIN_TOKEN,
        database_url=database_url,
        outbox_worker="off",
        auto_migrate=False,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as test_client:
        yield test_client


@pytest.fixture
def anon(client: TestClient) -> TestClient:
    """A client of the same app that sends no token."""
    from fastapi.testclient import TestClient

    return TestClient(client.app)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """An engine on the test's database, already at head (tests/storage/test_db.py migrates it down and up itself)."""
    from app.storage.db import make_engine

    engine = make_engine(settings.sqlalchemy_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A plain session: tests commit where they mean to; what they leave uncommitted is rolled back."""
    from sqlmodel import Session

    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """One real MLflow tracking server for the whole session (SQLite store, loopback, one worker), so one per
    pytest-xdist worker (each has its own tmp dir; the port is a free one). Tests that write to it create their own
    experiment, so they never see each other's runs."""
    from tests.mlflow_server import MlflowServer

    server = MlflowServer(root=tmp_path_factory.mktemp("mlflow")).start()
    yield server
    server.stop()


# -- pytest-xdist (scripts/test: `--numprocesses logical --dist loadfile --no-loadscope-reorder`) ----------------------

# Files whose tests start real processes (`labbook` console scripts, MLflow servers, the demo's training), longest
# first: tens of seconds each. Under xdist each file goes to one worker (its module-scoped fixtures are built once),
# and these files are handed out first, so the quick files fill in around them and no worker is left alone with a
# long file at the end. Only the order changes; a stale list costs time, never a result.
SLOW_FIRST = (
    "tests/evals/test_retrieval_eval.py",
    "tests/test_cli.py",
    "tests/test_cli_user_commands.py",
    "tests/test_cli_commands.py",
    "tests/test_demo.py",
    "tests/test_serve.py",
    "tests/test_cli_documents.py",
    "tests/api/test_schemathesis.py",
    "tests/api/test_mcp.py",
    "tests/api/test_sync_api.py",
    "tests/integrations/test_tags_writeback.py",
    "tests/integrations/test_outage.py",
    "tests/integrations/test_mlflow_sync.py",
    "tests/integrations/test_writeback.py",
    "tests/integrations/test_mlflow_server_fixture.py",
    "tests/api/test_concurrency.py",
    "tests/api/test_idempotency_live.py",
)


@pytest.hookimpl(trylast=True)  # after deselection; the order workers report is the order xdist hands files out
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return  # a plain run keeps the collection order
    rank = {path: i for i, path in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(SLOW_FIRST)))  # stable within a file
