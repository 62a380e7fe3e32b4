"""Pages issue a bounded number of SQL statements, however many answers and comments they show."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from forum.db import get_engine
from forum.services import votes
from tests.conftest import Browser
from tests.factories import make_answer, make_comment, make_question, make_user

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@contextmanager
def counted(app: Flask) -> Iterator[list[str]]:
    """Record the SQL statements the app's engine runs (transaction control aside)."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
            statements.append(statement)

    engine = get_engine(app)
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def big_thread(session: Session) -> int:
    """A question with 30 answers and 100 comments (some replies), votes and an acceptance."""
    asker = make_user(session, "asker")
    people = [make_user(session, reputation=1000) for _ in range(10)]
    question = make_question(session, asker, tags=("python", "sql", "ops"))
    answers = [make_answer(session, question, people[n % 10]) for n in range(30)]
    posts = [question, *answers]
    comments = []
    for n in range(100):
        post = posts[n % len(posts)]
        parent = comments[n - len(posts)] if n >= len(posts) and n % 3 == 0 else None
        if parent is not None and parent.post_id != post.id:
            parent = None
        comments.append(make_comment(session, post, people[n % 10], parent=parent))
    session.commit()
    reader = make_user(session, "reader", reputation=1000)
    session.commit()
    for post in posts[:10]:
        votes.cast(session, voter=reader, post_id=post.id, value=1)
        session.commit()
    for comment in comments[:10]:
        votes.cast_on_comment(session, voter=reader, comment_id=comment.id)
        session.commit()
    question.accepted_answer_id = answers[5].id
    session.commit()
    return int(question.id)


def test_question_page_with_30_answers_and_100_comments_is_bounded(
    app: Flask, browser: Browser, big_thread: int
) -> None:
    browser.login("reader")
    browser.get("/")  # the login's own work is not the page's
    with counted(app) as statements:
        response = browser.get(f"/questions/{big_thread}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count('class="post post--answer') == 30
    assert len(re.findall(r'id="comment-\d+"', page)) == 100
    assert len(statements) <= 8, "\n\n".join(statements)
    print(f"\nquestion page (member, first view): {len(statements)} statements")
    # A second view within the hour is not counted again and costs one statement less.
    with counted(app) as again:
        assert browser.get(f"/questions/{big_thread}").status_code == 200
    assert len(again) <= len(statements)
    print(f"question page (member, repeat view): {len(again)} statements")


def test_question_page_for_a_visitor_is_bounded(app: Flask, client: Any, big_thread: int) -> None:
    with counted(app) as statements:
        response = client.get(f"/questions/{big_thread}")
    assert response.status_code == 200
    assert len(statements) <= 7, "\n\n".join(statements)
    print(f"\nquestion page (visitor): {len(statements)} statements")


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/questions", 4),
        ("/questions?tab=unanswered", 4),
        ("/questions?tab=active", 4),
        ("/questions?tab=top-week", 4),
        ("/questions?tab=my-tags", 5),
        ("/tags", 3),
        ("/tags/python", 8),
    ],
)
def test_lists_are_bounded(
    app: Flask, browser: Browser, session: Session, path: str, limit: int
) -> None:
    author = make_user(session)
    for n in range(40):
        question = make_question(
            session, author, tags=("python", f"topic{n % 7}"), anonymous=n % 5 == 0
        )
        make_answer(session, question)
    make_user(session, "reader")
    session.commit()
    browser.login("reader")
    browser.get("/")
    with counted(app) as statements:
        response = browser.get(path)
    assert response.status_code == 200
    assert len(statements) <= limit, "\n\n".join(statements)
    print(f"\n{path}: {len(statements)} statements")
