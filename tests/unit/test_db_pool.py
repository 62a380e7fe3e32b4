"""The pool follows the server's threads; SQLite writers take turns in order, readers never wait."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from forum.config import DEFAULTS
from forum.db import (
    PoolSettings,
    WriterQueue,
    make_engine,
    pool_settings,
    writer_options,
    writing,
)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, PoolSettings(size=10, max_overflow=10, timeout=10)),
        ({"THREADS": 1}, PoolSettings(size=3, max_overflow=1, timeout=10)),
        ({"THREADS": 8}, PoolSettings(size=10, max_overflow=8, timeout=10)),
        (
            {"THREADS": 8, "DB_POOL_SIZE": 4, "DB_MAX_OVERFLOW": 0, "DB_POOL_TIMEOUT": 1.5},
            PoolSettings(size=4, max_overflow=0, timeout=1.5),
        ),
    ],
)
def test_pool_settings_follow_the_threads_unless_set(
    settings: dict[str, Any], expected: PoolSettings
) -> None:
    assert pool_settings({**DEFAULTS, **settings}) == expected


def test_an_in_memory_database_ignores_pool_sizes() -> None:
    engine = make_engine("sqlite://", pool=PoolSettings(size=1, max_overflow=0, timeout=1))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_the_writer_queue_serves_first_come_first_served() -> None:
    queue = WriterQueue()
    assert queue.acquire(1)
    order: list[int] = []
    threads = []
    for n in range(8):
        thread = threading.Thread(target=lambda n=n: (queue.acquire(10), order.append(n)))
        thread.start()
        threads.append(thread)
        deadline = time.monotonic() + 5
        while queue.waiting < n + 1 and time.monotonic() < deadline:
            time.sleep(0.001)  # wait until this one queues before starting the next
    for _ in range(8):
        queue.release()
        deadline = time.monotonic() + 5
        count = len(order)
        while len(order) == count and time.monotonic() < deadline:
            time.sleep(0.001)
    for thread in threads:
        thread.join(timeout=5)
    assert order == list(range(8))
    queue.release()
    assert queue.acquire(0)  # free again


def test_a_writer_whose_turn_does_not_come_gives_up_after_its_timeout() -> None:
    queue = WriterQueue()
    assert queue.acquire(1)
    started = time.monotonic()
    assert not queue.acquire(0.1)
    assert 0.05 < time.monotonic() - started < 2
    assert queue.waiting == 0


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    made = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}", busy_timeout_ms=3000)
    with made.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    return made


def test_concurrent_writers_queue_within_the_busy_timeout(engine: Engine) -> None:
    writers = 30
    hold = 0.01
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            with Session(writing(engine)) as session:
                session.execute(text("SELECT count(*) FROM t")).scalar()
                time.sleep(hold)  # work between the read and the write
                session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
                session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == writers


def test_a_reader_does_not_wait_for_a_writer(engine: Engine) -> None:
    with Session(writing(engine)) as writer:
        writer.execute(text("INSERT INTO t VALUES (1)"))
        # The write lock is held and the transaction open; a reader sees the last commit.
        started = time.monotonic()
        with engine.connect() as reader:
            assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 0
        assert time.monotonic() - started < 1
        writer.commit()


def test_a_writer_of_another_process_gives_up_after_the_busy_timeout(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    first = make_engine(url, busy_timeout_ms=200)
    # Another engine has a writer queue of its own, as another process would.
    other = make_engine(url, busy_timeout_ms=200)
    with first.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    with Session(writing(first)) as holder:
        holder.execute(text("INSERT INTO t VALUES (1)"))
        started = time.monotonic()
        with pytest.raises(OperationalError, match="locked"), Session(writing(other)) as waiter:
            waiter.execute(text("SELECT 1"))
        assert 0.15 < time.monotonic() - started < 3
        holder.commit()
    with Session(writing(other)) as waiter:
        waiter.execute(text("INSERT INTO t VALUES (2)"))
        waiter.commit()


def test_a_session_that_only_read_can_write_in_turn_with_a_short_wait(engine: Engine) -> None:
    with Session(writing(engine)) as holder:
        holder.execute(text("INSERT INTO t VALUES (1)"))
        # A page's session (not a writer) about to count a view: it queues behind the
        # holder and gives up after its own short wait, not the engine's busy timeout.
        with Session(engine) as page:
            started = time.monotonic()
            with pytest.raises(OperationalError, match="locked"):
                page.connection(execution_options=writer_options(100))
            assert 0.05 < time.monotonic() - started < 1.5
        holder.commit()
    with Session(engine) as page:
        page.connection(execution_options=writer_options(100))
        page.execute(text("INSERT INTO t VALUES (2)"))
        page.commit()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 2


def test_a_connection_thrown_away_mid_transaction_gives_its_turn_back(engine: Engine) -> None:
    broken = writing(engine).connect()
    broken.execute(text("INSERT INTO t VALUES (1)"))
    broken.invalidate()  # as after a lost connection: the transaction is gone with it
    broken.close()
    started = time.monotonic()
    with Session(writing(engine)) as next_writer:
        next_writer.execute(text("INSERT INTO t VALUES (2)"))
        next_writer.commit()
    assert time.monotonic() - started < 1
