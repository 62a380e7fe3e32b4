"""Work after a commit runs once the connection is back in the pool, merged when it can."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import EnvironBuilder

from forum import aftercommit
from forum.db import PoolSettings, make_engine


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    made = make_engine(
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        busy_timeout_ms=2000,
        pool=PoolSettings(size=1, max_overflow=0, timeout=1),
    )
    with made.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    return made


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(engine)
    aftercommit.attach(factory)
    return factory


def _defer_on_commit(session: Session, job: aftercommit.Job) -> None:
    def listener(s: Session) -> None:
        aftercommit.defer(s, job)

    event.listen(session, "after_commit", listener, once=True)


def test_deferred_work_runs_after_the_connection_is_returned(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    seen: list[Any] = []

    def job() -> None:
        seen.append(engine.pool.checkedout())  # type: ignore[attr-defined]
        # The only pooled connection is free: the job can write in a session of its own.
        with Session(engine) as other:
            other.execute(text("INSERT INTO t VALUES (2)"))
            other.commit()

    with sessions() as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        _defer_on_commit(session, job)
        session.commit()
        # The job has run by the time commit() returns.
        assert seen == [0]
        assert aftercommit.pending_jobs(session) == 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM t ORDER BY n")).scalars().all() == [1, 2]


def test_a_rollback_drops_the_jobs_and_a_failing_job_does_not_stop_the_others(
    sessions: sessionmaker[Session],
) -> None:
    ran: list[str] = []

    def failing() -> None:
        raise RuntimeError("boom")

    with sessions() as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        aftercommit.defer(session, lambda: ran.append("rolled back"))
        session.rollback()
        session.execute(text("INSERT INTO t VALUES (1)"))
        session.commit()
        assert ran == []
        session.execute(text("INSERT INTO t VALUES (1)"))
        _defer_on_commit(session, failing)
        aftercommit.defer(session, lambda: ran.append("second"))
        session.commit()
    assert ran == ["second"]


def test_merged_work_is_run_by_one_thread_in_rounds_while_others_hand_over() -> None:
    batches: list[set[int]] = []
    first_round_started = threading.Event()
    release_first_round = threading.Event()

    def award(items: set[int]) -> None:
        batches.append(set(items))
        if len(batches) == 1:
            first_round_started.set()
            assert release_first_round.wait(10)

    key = ("test-merge", object())
    runner = threading.Thread(target=aftercommit._run_merged, args=(key, {1}, award))
    runner.start()
    assert first_round_started.wait(10)
    # While the first round runs, twenty commits hand their items over and return at once.
    handed = [
        threading.Thread(target=aftercommit._run_merged, args=(key, {n}, award))
        for n in range(2, 22)
    ]
    for thread in handed:
        thread.start()
    for thread in handed:
        thread.join(timeout=10)
        assert not thread.is_alive()
    release_first_round.set()
    runner.join(timeout=10)
    assert batches == [{1}, set(range(2, 22))]
    assert key not in aftercommit._MERGING


def test_a_runner_hands_endless_rounds_to_a_thread_of_its_own() -> None:
    key = ("test-endless", object())
    threads: list[threading.Thread] = []
    done = threading.Event()

    def work(items: set[int]) -> None:
        threads.append(threading.current_thread())
        # Each round, another commit arrives: the requesting thread must still return.
        if len(threads) < 6:
            with aftercommit._MERGE_LOCK:
                aftercommit._MERGING[key].add(len(threads) + 100)
        else:
            done.set()

    aftercommit._run_merged(key, {1}, work)
    assert aftercommit.wait_idle(10)
    assert done.is_set()
    here = threading.current_thread()
    assert threads[: aftercommit.MAX_ROUNDS] == [here] * aftercommit.MAX_ROUNDS
    assert here not in threads[aftercommit.MAX_ROUNDS :]
    assert len(threads) == 6


def test_sessions_of_another_factory_run_no_jobs(engine: Engine) -> None:
    """Only the factories that asked for it run deferred work (no global listeners)."""
    ran: list[str] = []
    with Session(engine) as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        aftercommit.defer(session, lambda: ran.append("ran"))
        session.commit()
    assert ran == []


def test_work_left_by_a_runner_that_ended_is_taken_over() -> None:
    """A runner that ended without finishing its key's work does not block the key forever."""
    key = ("left-over", object())
    ended = threading.Thread(target=lambda: None)
    ended.start()
    ended.join()
    with aftercommit._MERGE_LOCK:
        aftercommit._MERGING[key] = {1}
        aftercommit._RUNNERS[key] = ended
    seen: list[set[int]] = []
    aftercommit._run_merged(key, {2}, lambda batch: seen.append(set(batch)))
    assert seen == [{1, 2}]
    assert key not in aftercommit._MERGING and key not in aftercommit._RUNNERS


def test_in_a_request_the_jobs_wait_until_the_response_is_sent(
    sessions: sessionmaker[Session],
) -> None:
    seen: list[str] = []
    app = Flask(__name__)
    aftercommit.init_app(app)

    def commit(label: str) -> None:
        with sessions() as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
            _defer_on_commit(session, lambda: seen.append(f"{label} job"))
            session.commit()
            seen.append(f"{label} committed")

    @app.post("/commit")
    def view() -> str:
        commit("view")
        return "done"

    @app.teardown_request
    def after(_error: BaseException | None) -> None:
        if request.args.get("teardown"):
            commit("teardown")  # the response has gone: its jobs run at once

    statuses: list[str] = []
    gunicorn = {"SERVER_SOFTWARE": "gunicorn/23.0.0"}
    environ = EnvironBuilder(path="/commit", method="POST", environ_base=gunicorn).get_environ()
    answer = app(environ, lambda status, _headers, _exc=None: statuses.append(status))
    assert b"".join(answer) == b"done" and statuses == ["200 OK"]
    # The whole response is out and the work has not run: the server runs it on close.
    assert seen == ["view committed"]
    answer.close()  # type: ignore[attr-defined]
    assert seen == ["view committed", "view job"]

    seen.clear()
    environ = EnvironBuilder(
        path="/commit?teardown=1", method="POST", environ_base=gunicorn
    ).get_environ()
    answer = app(environ, lambda status, _headers, _exc=None: None)
    assert seen == ["view committed", "teardown job", "teardown committed"]
    answer.close()  # type: ignore[attr-defined]
    assert seen == ["view committed", "teardown job", "teardown committed", "view job"]

    # Werkzeug's development server may wait on the client before closing a response: there
    # the work runs when the transaction ends, before the response goes out.
    seen.clear()
    development = {"SERVER_SOFTWARE": "Werkzeug/3.1.3"}
    environ = EnvironBuilder(path="/commit", method="POST", environ_base=development).get_environ()
    answer = app(environ, lambda status, _headers, _exc=None: None)
    assert seen == ["view job", "view committed"]
    answer.close()  # type: ignore[attr-defined]
    assert seen == ["view job", "view committed"]

    # The app's test client reads each response whole and closes it, like an HTTP client:
    # a call returns once the work has run.
    seen.clear()
    assert app.test_client().post("/commit").text == "done"
    assert seen == ["view committed", "view job"]
