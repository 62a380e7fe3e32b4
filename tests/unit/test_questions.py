"""The questions, answers and comments services without a request."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from forum.models import Role
from forum.services import answers, comments, questions
from forum.services.errors import Conflict, Forbidden, NotFound, ValidationError
from forum.services.questions import Tab
from tests.factories import make_answer, make_comment, make_question, make_user


@pytest.mark.parametrize(
    ("title", "body", "tags", "fields"),
    [
        ("short", "body", ["a"], {"title"}),
        ("A perfectly fine title", "", ["a"], {"body"}),
        ("A perfectly fine title", "body", [], {"tags"}),
        ("A perfectly fine title", "body", ["a", "b", "c", "d", "e", "f"], {"tags"}),
        ("A perfectly fine title", "body", ["UPPER"], {"tags"}),
        ("A perfectly fine title", "body", ["c#", "c++", "node.js", "a-b"], set()),
    ],
)
def test_validation(title: str, body: str, tags: list[str], fields: set[str]) -> None:
    assert set(questions.validate(title, body, tags)) == fields


def test_slugs() -> None:
    assert questions.slugify("How do I use C# & .NET?") == "how-do-i-use-c-net"
    assert questions.slugify("???") == "question"


def test_anonymous_questions_and_the_askers_answers_hide_the_author(session: Session) -> None:
    asker = make_user(session, display_name="Secret Person")
    question = make_question(session, asker, anonymous=True)
    own = make_answer(session, question, asker)
    other = make_answer(session, question)
    make_comment(session, question, asker, body="from the asker")
    session.commit()
    page = questions.page(session, question.id, viewer=None)
    assert page.author_label == "Anonymous colleague" and page.author_username is None
    labels = {view.answer.id: view.author_label for view in page.answers}
    assert labels[own.id] == "Anonymous colleague (asker)"
    assert labels[other.id] != labels[own.id]
    assert own.is_anonymous and not other.is_anonymous
    node = page.threads[question.id][0]
    assert node.author_label == "Anonymous colleague (asker)" and node.author_username is None


def test_answering_a_closed_question_is_refused(session: Session) -> None:
    question = make_question(session)
    moderator = make_user(session, role=Role.MODERATOR)
    questions.close(session, moderator=moderator, question_id=question.id, reason="needs-detail")
    with pytest.raises(ValidationError):
        answers.answer(session, author=make_user(session), question_id=question.id, body_md="x")
    with pytest.raises(Conflict):
        questions.close(session, moderator=moderator, question_id=question.id, reason="off-topic")


def test_only_moderators_close_and_reasons_are_checked(session: Session) -> None:
    question = make_question(session)
    with pytest.raises(Forbidden):
        questions.close(
            session, moderator=make_user(session), question_id=question.id, reason="off-topic"
        )
    moderator = make_user(session, role=Role.MODERATOR)
    with pytest.raises(ValidationError):
        questions.close(session, moderator=moderator, question_id=question.id, reason="boring")
    with pytest.raises(ValidationError):
        questions.close(
            session,
            moderator=moderator,
            question_id=question.id,
            reason="duplicate",
            duplicate_of_id=question.id,
        )


def test_comment_edit_window_and_reply_depth(session: Session) -> None:
    question = make_question(session)
    author = make_user(session)
    first = make_comment(session, question, author)
    reply = make_comment(session, question, parent=first)
    deeper = make_comment(session, question, parent=reply)
    assert deeper.parent_id == first.id  # two levels: replies join the thread
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=11)
    with pytest.raises(Forbidden):
        comments.edit(session, editor=author, comment_id=first.id, body="late", now=later)
    with pytest.raises(Forbidden):
        comments.edit(session, editor=make_user(session), comment_id=first.id, body="not mine")
    comments.edit(session, editor=author, comment_id=first.id, body="in time")
    assert first.body_md == "in time"
    other = make_question(session)
    with pytest.raises(NotFound):
        comments.add(session, author=author, post_id=other.id, body="x", parent_id=first.id)


def test_counts_follow_answers_and_comments(session: Session) -> None:
    question = make_question(session)
    answer = make_answer(session, question)
    comment = make_comment(session, answer)
    session.commit()
    session.refresh(question)
    session.refresh(answer)
    assert (question.answer_count, answer.comment_count) == (1, 1)
    comments.delete(session, actor=comment.author, comment_id=comment.id)
    answers.delete(session, actor=answer.author, answer_id=answer.id)
    session.commit()
    session.refresh(question)
    session.refresh(answer)
    assert (question.answer_count, answer.comment_count) == (0, 0)


def test_record_view_counts_once_per_hour(session: Session) -> None:
    question = make_question(session)
    session.commit()
    now = dt.datetime.now(dt.UTC)
    assert questions.record_view(session, question.id, "u:1", now=now)
    assert not questions.record_view(
        session, question.id, "u:1", now=now + dt.timedelta(minutes=59)
    )
    assert questions.record_view(session, question.id, "u:2", now=now)
    assert questions.record_view(session, question.id, "u:1", now=now + dt.timedelta(minutes=61))
    session.commit()
    session.refresh(question)
    assert question.view_count == 3


@contextmanager
def _statements(session: Session) -> Iterator[list[str]]:
    """The SQL statements the session's engine runs inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_remembered_views_skip_only_views_that_could_not_count(session: Session) -> None:
    question = make_question(session)
    session.commit()
    worker, other_worker = questions.SeenViews(), questions.SeenViews()
    now = dt.datetime.now(dt.UTC)
    assert questions.record_view(session, question.id, "u:1", now=now, seen=worker)
    session.commit()
    # A time is remembered only once read back from the database (a repeat view).
    assert not worker.blocks(question.id, "u:1", now - questions.VIEW_WINDOW)
    assert not questions.record_view(session, question.id, "u:1", now=now, seen=worker)
    session.commit()
    with _statements(session) as statements:
        later = now + dt.timedelta(minutes=30)
        assert not questions.record_view(session, question.id, "u:1", now=later, seen=worker)
    assert statements == []
    # Another worker knows nothing yet and asks the database, which refuses too.
    assert not questions.record_view(session, question.id, "u:1", now=later, seen=other_worker)
    session.commit()
    # After the hour the memory no longer blocks: the view counts, once over both workers.
    after = now + dt.timedelta(minutes=61)
    assert questions.record_view(session, question.id, "u:1", now=after, seen=worker)
    session.commit()
    assert not questions.record_view(session, question.id, "u:1", now=after, seen=other_worker)
    assert questions.record_view(session, question.id, "u:2", now=after, seen=other_worker)
    session.commit()
    session.refresh(question)
    assert question.view_count == 3


def test_views_written_in_a_longer_transaction_are_never_remembered(session: Session) -> None:
    question = make_question(session)
    session.commit()
    worker = questions.SeenViews()
    now = dt.datetime.now(dt.UTC)
    assert questions.record_view(session, question.id, "u:1", now=now, seen=worker)
    # Same transaction: the row read back is this transaction's own, uncommitted write.
    assert not questions.record_view(session, question.id, "u:1", now=now, seen=worker)
    session.rollback()
    assert not worker.blocks(question.id, "u:1", now - questions.VIEW_WINDOW)
    assert questions.record_view(session, question.id, "u:1", now=now, seen=worker)
    session.commit()
    session.refresh(question)
    assert question.view_count == 1


def test_remembered_views_are_bounded() -> None:
    worker = questions.SeenViews(size=2)
    now = dt.datetime.now(dt.UTC)
    since = now - questions.VIEW_WINDOW
    worker.remember(1, "u:1", now)
    worker.remember(2, "u:1", now.replace(tzinfo=None))
    assert worker.blocks(1, "u:1", since) and worker.blocks(2, "u:1", since)
    worker.remember(3, "u:1", now)
    assert worker.blocks(3, "u:1", since)
    assert not worker.blocks(1, "u:1", since) and not worker.blocks(2, "u:1", since)


def test_visitor_keys_never_hold_the_address() -> None:
    key = questions.viewer_key(None, "10.1.2.3", "secret")
    assert "10.1.2.3" not in key and key == questions.viewer_key(None, "10.1.2.3", "secret")
    assert key != questions.viewer_key(None, "10.1.2.4", "secret")


def test_my_tags_is_empty_for_visitors(session: Session) -> None:
    make_question(session)
    session.commit()
    rows, total = questions.list_questions(session, tab=Tab.MY_TAGS, viewer=None)
    assert (rows, total) == ([], 0)
