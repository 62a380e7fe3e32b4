"""Four processes write one Whoosh index at once and one dies in a drain: nothing is lost."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum import search
from forum.models import Post, SearchOutbox
from forum.search import outbox

WORKERS = 4
POSTS_PER_WORKER = 50


def _retrying(session: Session, change: Callable[[], Any]) -> Any:
    """Run and commit ``change``, again when SQLite reports a concurrent writer."""
    from sqlalchemy.exc import OperationalError

    # SQLite has one writer at a time; four processes and their drains queue for it, longer
    # on a slow machine. Bounded by time rather than by a count of attempts.
    deadline = time.monotonic() + 60
    attempt = 0
    while time.monotonic() < deadline:
        try:
            result = change()
            session.commit()
            return result
        except OperationalError:
            session.rollback()
            attempt += 1
            time.sleep(min(0.01 * attempt, 0.5))
    raise RuntimeError("the database stayed locked")


def _worker(config: dict[str, Any], number: int) -> None:
    """Create questions, edit some and answer some, committing each change."""
    from forum import create_app
    from forum.db import new_session
    from tests.factories import make_user, search_answer, search_question

    app = create_app(config)
    session = new_session(app)
    try:
        author = _retrying(session, lambda: make_user(session, f"writer{number}"))
        mine: list[Any] = []
        for n in range(POSTS_PER_WORKER):
            title = f"Worker {number} question {n}"
            body = f"Body {n} of {number}."
            mine.append(_retrying(session, partial(search_question, session, author, title, body)))
            if n % 3 == 2:
                new_title = f"Worker {number} question {n - 1} edited"
                _retrying(session, partial(setattr, mine[n - 1], "title", new_title))
            if n % 5 == 4:
                text = f"Answer from {number} to {n - 2}."
                _retrying(session, partial(search_answer, session, mine[n - 2], author, text))
    finally:
        session.close()
        search.close_backends()


def _dies_in_a_drain(config: dict[str, Any], ready: str) -> None:
    """Stage changes, then hang inside the index commit until killed."""
    from forum import create_app
    from forum.db import new_session
    from forum.search import whoosh_backend
    from tests.factories import make_user, search_question

    def hang(self: Any) -> None:
        Path(ready).write_text("draining", encoding="ascii")
        time.sleep(120)

    whoosh_backend._WhooshWriter.commit = hang  # type: ignore[method-assign]
    app = create_app(config)
    session = new_session(app)
    author = make_user(session, "doomed")
    for n in range(10):
        search_question(session, author, f"Doomed question {n}", "Written before the crash.")
    session.commit()  # the drain after this commit hangs while holding the writer lock


@pytest.mark.slow
def test_four_writers_and_a_killed_drain_lose_nothing(
    app: Flask, app_config: dict[str, Any], session: Session, tmp_path: Path
) -> None:
    context = multiprocessing.get_context("spawn")
    ready = tmp_path / "ready"
    doomed = context.Process(target=_dies_in_a_drain, args=(app_config, str(ready)))
    doomed.start()
    deadline = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), "the drain never started"
    workers = [context.Process(target=_worker, args=(app_config, n)) for n in range(WORKERS)]
    for worker in workers:
        worker.start()
    time.sleep(0.5)  # let the writers meet the held lock
    assert doomed.pid is not None
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.join(10)
    for worker in workers:
        worker.join(180)
        assert worker.exitcode == 0

    engine = session.get_bind()
    backend = search.session_backend(session)
    outbox.drain(engine, backend, timeout=30.0, budget=None)  # type: ignore[arg-type]
    assert session.scalar(select(func.count()).select_from(SearchOutbox)) == 0
    live = session.scalar(select(func.count()).select_from(Post).where(Post.deleted_at.is_(None)))
    assert live == WORKERS * POSTS_PER_WORKER + WORKERS * (POSTS_PER_WORKER // 5) + 10
    drift = outbox.verify(engine, backend)  # type: ignore[arg-type]
    assert (drift.missing, drift.stale, drift.extra) == ([], [], [])
    assert backend.versions(session).keys() == set(
        session.scalars(select(Post.id).where(Post.deleted_at.is_(None))).all()
    )
    assert search.search(session, "doomed").results.total == 10
    search.close_backends()
