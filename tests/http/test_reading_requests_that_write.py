"""Pages opened with GET that also write (an email confirmation link, a member's fruitless
search, the calendar feed secret) write even when another connection committed after the
request's first read: on SQLite a transaction that read cannot write after such a commit, so
these pages begin a writing transaction of their own first."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask, request, request_started
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from forum.db import get_session, new_session
from forum.models import CalendarToken, User, ZeroResultQuery
from forum.services.access import VerificationSigner
from forum.web import verification_signer
from tests.conftest import Browser
from tests.factories import make_user

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@contextmanager
def another_commit_after_the_first_read(app: Flask, path: str) -> Iterator[list[str]]:
    """While open, a request for ``path`` reads first (its snapshot begins), then another
    connection commits a change, before the view runs."""
    seen: list[str] = []

    def interleave(sender: Flask, **_extra: Any) -> None:
        if request.path != path:
            return
        get_session().scalar(select(func.count(User.id)))
        with new_session(app, writes=True) as other:
            other.execute(update(User).values(last_seen_at=func.now()))
            other.commit()
        seen.append(request.path)

    request_started.connect(interleave, app)
    try:
        yield seen
    finally:
        request_started.disconnect(interleave, app)


@pytest.fixture
def zoe(session: Session) -> User:
    user = make_user(session, "zoe", email="zoe@example.com", email_verified=False)
    session.commit()
    return user


@SQLITE_ONLY
def test_a_confirmation_link_confirms_after_another_commit(
    app: Flask, browser: Browser, session: Session, zoe: User
) -> None:
    with app.test_request_context():
        signer: VerificationSigner = verification_signer()
        token = signer.token(zoe)
    path = f"/verify-email/{token}"
    with another_commit_after_the_first_read(app, path) as seen:
        response = browser.get(path)
    assert seen == [path]
    assert response.status_code == 302
    session.expire_all()
    assert session.get(User, zoe.id).email_verified is True  # type: ignore[union-attr]


@SQLITE_ONLY
def test_a_fruitless_search_is_recorded_after_another_commit(
    app: Flask, browser: Browser, session: Session, zoe: User
) -> None:
    browser.login("zoe")
    with another_commit_after_the_first_read(app, "/search") as seen:
        response = browser.get("/search?q=quaternion+flux")
    assert seen == ["/search"]
    assert response.status_code == 200
    session.rollback()
    recorded = session.scalars(select(ZeroResultQuery.query)).all()
    assert recorded == ["quaternion flux"]


@SQLITE_ONLY
def test_the_calendar_secret_is_created_after_another_commit(
    app: Flask, browser: Browser, session: Session, zoe: User
) -> None:
    browser.login("zoe")
    with another_commit_after_the_first_read(app, "/circles/calendar") as seen:
        response = browser.get("/circles/calendar")
    assert seen == ["/circles/calendar"]
    assert response.status_code == 200
    session.rollback()
    token = session.get(CalendarToken, zoe.id)
    assert token is not None and token.token in response.get_data(as_text=True)
