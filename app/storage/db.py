"""Engine, sessions and migrations.

SQLite (WAL, foreign keys on) is the zero-config default; PostgreSQL comes through `DATABASE_URL` with the same
code. The schema is owned by Alembic from the first table on, so an upgrade never needs a hand-written step.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


# An execution option: a transaction on a connection with it set is a writer's. On SQLite it begins with
# `BEGIN IMMEDIATE`, taking the write lock up front (waiting up to the busy timeout for it), so a transaction that
# reads and then writes can never fail with "database is locked" on the upgrade: in WAL mode a reader whose snapshot
# is older than another writer's commit cannot become a writer, and SQLite reports that at once, without waiting.
WRITER = "labbook_writer"
# Seconds a SQLite writer waits for the write lock before giving up.
SQLITE_BUSY_TIMEOUT = 30


def make_engine(url: str, *, pool_size: int = 5, max_overflow: int = 10, pool_timeout: float = 30) -> Engine:
    """An engine for `url`; for SQLite, creates the folder and turns on WAL, foreign keys and a busy timeout, and
    lets the caller mark writers (`writer`). The pool figures default to SQLAlchemy's; the service sizes them with
    its admission limit (`app.api.load.capacity`)."""
    parsed = make_url(url)
    pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **pool)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    else:
        pool = {}  # an in-memory database lives in one connection (SQLAlchemy's SingletonThreadPool)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT}, **pool)
    # One in-memory database per engine; a file's writers take turns with every engine on it in the process.
    turns = _writer_turns(str(Path(parsed.database).resolve())) if pool and parsed.database else _WriterTurns()
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", turns.begin)
    event.listen(engine, "commit", turns.commit)
    event.listen(engine, "rollback", turns.rollback)
    event.listen(engine, "checkin", turns.checkin)
    return engine


def writer(engine: Engine) -> Engine:
    """The same engine (and pool) whose transactions are a writer's: `BEGIN IMMEDIATE` on SQLite, no change on
    PostgreSQL, whose row locks and constraints already settle concurrent writers."""
    return engine.execution_options(**{WRITER: True})


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class _WriterTurns:
    """The writers of one SQLite database take turns before `BEGIN IMMEDIATE`, and hand the turn on as soon as their
    COMMIT or ROLLBACK is done. SQLite alone makes a waiting writer poll: its busy handler sleeps in growing steps
    (up to 100 ms), so under load a writer often sleeps long after the lock was free. In one process the writers queue
    on a lock and start at once; across processes (`--workers`) they meet on an advisory lock of a file beside the
    database (`<database>-writers`), polled every 2 ms at most. Only a writer's transaction (`writer`) takes a turn;
    readers never wait. The lock is a plain one: a request's transaction may begin on one thread of the pool and end
    on another."""

    HELD = "labbook_writer_turn"
    FILE_HELD = "labbook_writer_file_turn"

    def __init__(self, lock_file: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._lock_file = lock_file
        self._fd: int | None = None
        self._fd_pid = 0

    def begin(self, connection: Connection) -> None:
        """A writer's transaction begins at once, with the write lock. Any other keeps the sqlite3 module's own
        handling: reads see the latest commit, and the module begins a (deferred) transaction before the first
        write."""
        if not connection.get_execution_options().get(WRITER, False):
            return
        # Past the busy timeout the writer goes on without its turn, and SQLite's own wait decides.
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT
        if self._lock.acquire(timeout=SQLITE_BUSY_TIMEOUT):
            connection.info[self.HELD] = True
            if self._lock_file is not None and self._lock_across_processes(deadline):
                connection.info[self.FILE_HELD] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self._hand_on(connection.info)
            raise

    def commit(self, connection: Connection) -> None:
        # The event comes before SQLAlchemy's own COMMIT, which then finds no transaction open and does nothing.
        if connection.info.get(self.HELD):
            try:
                connection.connection.dbapi_connection.commit()  # type: ignore[union-attr]
            finally:
                self._hand_on(connection.info)

    def rollback(self, connection: Connection) -> None:
        if connection.info.get(self.HELD):
            try:
                connection.connection.dbapi_connection.rollback()  # type: ignore[union-attr]
            finally:
                self._hand_on(connection.info)

    def checkin(self, _dbapi_connection: Any, record: Any) -> None:
        """A connection back in the pool with its turn still held (its transaction never ended through SQLAlchemy,
        e.g. an invalidated connection) hands the turn on."""
        self._hand_on(record.info)

    def _lock_across_processes(self, deadline: float) -> bool:
        """The file lock, taken by this process's writer of the moment (it holds the in-process lock), or False once
        the deadline passes. The file is opened once per process: a lock inherited through fork would be shared."""
        try:
            if self._fd is None or self._fd_pid != os.getpid():
                self._fd = os.open(cast(Path, self._lock_file), os.O_RDWR | os.O_CREAT, 0o600)
                self._fd_pid = os.getpid()
            pause = 0.0002
            while True:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        return False
                    time.sleep(pause)
                    pause = min(pause * 2, 0.002)
        except OSError:
            logger.warning("db.writer_lock_file.unavailable", exc_info=True, extra={"path": str(self._lock_file)})
            return False

    def _hand_on(self, info: dict[str, Any]) -> None:
        if info.pop(self.FILE_HELD, False) and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        if info.pop(self.HELD, False):
            self._lock.release()


_turns: dict[str, _WriterTurns] = {}
_turns_lock = threading.Lock()


def _writer_turns(database: str) -> _WriterTurns:
    """One turn lock per database file in the process, shared by every engine on it."""
    with _turns_lock:
        if database not in _turns:
            _turns[database] = _WriterTurns(Path(f"{database}-writers"))
        return _turns[database]


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent)."""
    command.upgrade(alembic_config(engine), revision)
    logger.info("storage.migrated", extra={"revision": revision, "backend": engine.dialect.name})


def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error. Used by requests and CLI commands alike (a
    request that writes passes `writer(engine)`)."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def reading(session: Session) -> Iterator[Session]:
    """A session that only reads, on the database of `session` but outside its transactions: a writer's reads that
    need not hold SQLite's write lock (a brain dump composes its entry here, then writes it in a short transaction).
    Call it between the writer's transactions, so the request holds one pooled connection at a time."""
    bind = session.get_bind()
    engine = bind.execution_options(**{WRITER: False}) if isinstance(bind, Engine) else bind
    with Session(engine, expire_on_commit=False) as reader:
        try:
            yield reader
        finally:
            reader.rollback()


def ping(engine: Engine) -> str:
    """Round-trip to the database on a connection of its own; returns the backend's name (sqlite, postgresql)."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return engine.dialect.name
