"""A request needs one pooled connection at a time; a pool that stays empty answers 503 quickly."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from forum.db import get_engine, make_engine, writing
from forum.models import BadgeAward, SearchOutbox
from forum.search import get_backend, search_config
from forum.search.query import parse
from tests.conftest import Browser
from tests.factories import make_question, make_user

ONE_CONNECTION = {
    "DB_POOL_SIZE": 1,
    "DB_MAX_OVERFLOW": 0,
    "DB_POOL_TIMEOUT": 2,
    "SQLITE_BUSY_TIMEOUT_MS": 1000,
}


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """The app's pool holds one connection and waits at most 2 s for it (SQLite's lock: 1 s)."""
    return {**app_config, **ONE_CONNECTION}


def test_the_pool_is_sized_as_configured(app: Flask) -> None:
    pool: Any = get_engine(app).pool
    assert (pool.size(), pool._max_overflow, pool._timeout) == (1, 0, 2)


def test_a_vote_with_a_one_connection_pool_awards_badges_and_indexes(
    app: Flask, browser: Browser, session: Session
) -> None:
    asker = make_user(session, "asker")
    voter = make_user(session, "voter", reputation=1000)
    question = make_question(session, asker, title="Where do we keep the build cache keys?")
    session.commit()
    question_id, voter_id = question.id, voter.id
    browser.login("voter")

    started = time.monotonic()
    response = browser.post(f"/posts/{question_id}/vote", {"value": "1"})
    elapsed = time.monotonic() - started

    # Awarding and the search drain after the commit used to wait for a second connection
    # (here: 2 s, then the awarding failed and the rows stayed in the outbox).
    assert response.status_code == 303
    assert elapsed < 2
    assert get_engine(app).pool.checkedout() == 0  # type: ignore[attr-defined]
    awarded = session.scalars(
        select(BadgeAward.badge_key).where(BadgeAward.user_id == voter_id)
    ).all()
    assert "supporter" in awarded
    assert session.scalar(select(func.count()).select_from(SearchOutbox)) == 0
    hits = get_backend(search_config(app.config)).search(
        session, parse("build cache keys"), sort="relevance", offset=0, limit=5
    )
    assert [(hit.id, hit.post_score) for hit in hits.hits] == [(question_id, 1)]
    session.commit()


def test_no_connection_within_the_pool_timeout_answers_503_with_retry_after(
    app: Flask, client: Any
) -> None:
    app.config["DB_POOL_TIMEOUT"] = 0.2
    engine = get_engine(app)
    engine.pool._timeout = 0.2  # type: ignore[attr-defined]
    with engine.connect():  # the only connection, held elsewhere
        started = time.monotonic()
        page = client.get("/questions")
        api = client.get("/questions", headers={"Accept": "application/json"})
        elapsed = time.monotonic() - started
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "2"
    assert "try again" in page.get_data(as_text=True).lower()
    assert api.status_code == 503
    assert api.get_json()["status"] == 503
    assert elapsed < 5
    # Once the connection is back, the same page works.
    assert client.get("/questions").status_code == 200


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_sqlite_writer_whose_turn_does_not_come_answers_503(
    app: Flask, browser: Browser, session: Session
) -> None:
    url = app.config["DATABASE_URL"]
    asker = make_user(session, "asker")
    make_user(session, "voter", reputation=1000)
    question = make_question(session, asker)
    session.commit()
    question_id = question.id
    browser.login("voter")
    token = browser.csrf_token()
    # Another process (an engine with a queue of its own) holds the write lock meanwhile.
    other = make_engine(url, busy_timeout_ms=300)
    try:
        with Session(writing(other)) as holder:
            holder.execute(text("SELECT 1"))
            started = time.monotonic()
            response = browser.client.post(
                f"/posts/{question_id}/vote", data={"value": "1", "csrf_token": token}
            )
            elapsed = time.monotonic() - started
            holder.rollback()
    finally:
        other.dispose()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert elapsed < 5  # the busy timeout (1 s), not a hang
    assert "Back button still has what you typed" in response.get_data(as_text=True)
    # The lock is free again: the same vote goes through.
    again = browser.client.post(
        f"/posts/{question_id}/vote", data={"value": "1", "csrf_token": token}
    )
    assert again.status_code == 303
