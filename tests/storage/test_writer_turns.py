"""SQLite writers in one process take turns through a lock before `BEGIN IMMEDIATE` and hand it on at COMMIT or
ROLLBACK, so a waiting writer starts as soon as the lock is free instead of polling in SQLite's busy handler."""

from __future__ import annotations

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
