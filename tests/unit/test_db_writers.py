"""Transactions that will write take SQLite's write lock first instead of failing mid-way."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from forum.db import WRITE_OPTION, get_session, make_engine, writing


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    made = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}", busy_timeout_ms=300)
    with made.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    return made


def _other_process_writes(engine: Engine) -> None:
    other = make_engine(str(engine.url), busy_timeout_ms=300)
    try:
        with other.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
    finally:
        other.dispose()


def test_a_plain_transaction_that_read_before_another_write_cannot_write(engine: Engine) -> None:
    # The failure the writer mode prevents: SQLite cannot upgrade a stale read snapshot.
    with Session(engine) as session:
        session.execute(text("SELECT count(*) FROM t")).scalar()
        _other_process_writes(engine)
        with pytest.raises(OperationalError, match="locked"):
            session.execute(text("INSERT INTO t VALUES (1)"))


def test_a_writer_transaction_holds_the_lock_from_its_first_read(engine: Engine) -> None:
    with Session(writing(engine)) as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar() == 0
        # Another process now waits for the lock (and gives up after its busy timeout)…
        with pytest.raises(OperationalError, match="locked"):
            _other_process_writes(engine)
        # …while this transaction writes what it decided on what it read.
        session.execute(text("INSERT INTO t VALUES (1)"))
        session.commit()
    _other_process_writes(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM t ORDER BY n")).scalars().all() == [1, 2]


def test_writing_leaves_a_connection_as_it_is(engine: Engine) -> None:
    with engine.connect() as conn:
        assert writing(conn) is conn
        assert WRITE_OPTION not in conn.get_execution_options()


@pytest.mark.parametrize(
    ("method", "writes"),
    [("GET", False), ("HEAD", False), ("POST", True), ("PUT", True), ("DELETE", True)],
)
def test_state_changing_requests_get_a_writer_session(
    app: Flask, method: str, writes: bool
) -> None:
    with app.test_request_context("/", method=method):
        session = get_session()
        bind = session.get_bind()
        assert bool(bind.get_execution_options().get(WRITE_OPTION)) is writes
