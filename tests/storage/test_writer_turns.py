"""SQLite writers in one process take turns through a lock before `BEGIN IMMEDIATE` and hand it on at COMMIT or
ROLLBACK, so a waiting writer starts as soon as the lock is free instead of polling in SQLite's busy handler."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from app.storage.db import _writer_turns, _WriterTurns, make_engine, writer


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    yield engine
    engine.dispose()


def _turns(tmp_path: Path) -> _WriterTurns:
    return _writer_turns(str((tmp_path / "turns.db").resolve()))


def test_a_second_writer_waits_for_the_first_to_commit_and_then_goes_at_once(sqlite: Engine, tmp_path: Path) -> None:
    turns = _turns(tmp_path)
    order: list[str] = []
    started = threading.Event()

    def second() -> None:
        started.set()
        with writer(sqlite).begin() as connection:
            order.append("second began")
            connection.execute(text("INSERT INTO t VALUES (2)"))
        order.append("second committed")

    with writer(sqlite).begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))
        thread = threading.Thread(target=second)
        thread.start()
        started.wait()
        thread.join(0.3)
        assert thread.is_alive() and order == []  # queued on the turn, not inside SQLite
        assert turns._lock.locked()
        order.append("first commits")
    thread.join(10)
    assert order == ["first commits", "second began", "second committed"]
    assert not turns._lock.locked()
    with sqlite.connect() as connection:
        assert connection.execute(text("SELECT n FROM t ORDER BY n")).scalars().all() == [1, 2]


def test_a_rolled_back_or_failed_writer_hands_the_turn_on(sqlite: Engine, tmp_path: Path) -> None:
    turns = _turns(tmp_path)
    with pytest.raises(RuntimeError, match="the request failed"), writer(sqlite).begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (3)"))
        assert turns._lock.locked()
        raise RuntimeError("the request failed")
    assert not turns._lock.locked()
    with pytest.raises(OperationalError, match="no such table"), writer(sqlite).begin() as connection:
        connection.execute(text("INSERT INTO missing VALUES (1)"))
    assert not turns._lock.locked()
    connection = writer(sqlite).connect()
    connection.execute(text("INSERT INTO t VALUES (4)"))
    connection.close()  # closed inside its transaction: rolled back, the turn handed on
    assert not turns._lock.locked()
    with sqlite.connect() as reader:
        assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 0


def test_readers_never_wait_for_a_writers_turn(sqlite: Engine, tmp_path: Path) -> None:
    with writer(sqlite).begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (5)"))
        seen: list[int] = []

        def read() -> None:
            with sqlite.connect() as reader:
                seen.append(reader.execute(text("SELECT count(*) FROM t")).scalar() or 0)

        thread = threading.Thread(target=read)
        thread.start()
        thread.join(5)
        assert not thread.is_alive() and seen == [0]  # the last commit, read while the writer holds its turn


HOLD_A_WRITER = """
import sys
from sqlalchemy import text
from app.storage.db import make_engine, writer
engine = make_engine(sys.argv[1])
with writer(engine).begin() as connection:
    connection.execute(text("INSERT INTO t VALUES (7)"))
    print("writing", flush=True)
    sys.stdin.readline()
print("committed", flush=True)
"""


def test_writers_in_other_processes_take_turns_on_a_file_lock_beside_the_database(
    sqlite: Engine, tmp_path: Path
) -> None:
    """Another process (another `--workers` worker) holds the turn while its writer's transaction is open, and
    hands it on when the transaction ends; this process's writers queue on the same file."""
    lock_file = tmp_path / "turns.db-writers"
    with subprocess.Popen(
        [sys.executable, "-c", HOLD_A_WRITER, f"sqlite:///{tmp_path / 'turns.db'}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    ) as child:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "writing"
        fd = os.open(lock_file, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            child.stdin.write("go\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "committed"
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        with writer(sqlite).begin() as connection:  # this process's writer takes the file's turn too
            connection.execute(text("INSERT INTO t VALUES (8)"))
            probe = os.open(lock_file, os.O_RDWR)
            try:
                with pytest.raises(BlockingIOError):
                    fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            finally:
                os.close(probe)
        with sqlite.connect() as reader:
            assert reader.execute(text("SELECT n FROM t ORDER BY n")).scalars().all() == [7, 8]
