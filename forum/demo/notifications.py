"""Demo notifications for Northwind Labs: @mentions in a few threads, email preferences, and
inboxes that look lived-in (older notifications read, recent ones not).

Most demo notifications come from the demo content itself (answers, comments, accepted
answers, followed tags and, at the end, badges); this step adds mentions and settles dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.demo.activity import READ_AFTER
from forum.models import Comment, Notification, Post, Question, User
from forum.services import comments, notifications

#: (question title, commenter, comment text with a mention)
MENTIONS: list[tuple[str, str, str]] = [
    (
        "Why is this PostgreSQL query slow only in production?",
        "diego",
        "@amara this looks like the plan flip we saw after the last vacuum. Worth a look?",
    ),
    (
        "How do I get kubectl access to the staging cluster?",
        "jonas",
        "@priya could we link this from the onboarding path? New joiners hit it every week.",
    ),
    (
        "How do I backfill a dbt incremental model for one month?",
        "sofia",
        "Thanks! @kwame this is the trick you asked about on Monday.",
    ),
]

#: Members who asked for some kinds by email (the daily digest).
EMAIL_PREFERENCES: dict[str, dict[str, str]] = {
    "amara": {"mention": "daily", "answer": "daily"},
    "tom": {"answer": "daily", "reply": "daily", "followed_tag": "daily"},
    "priya": {"badge": "off"},
}


def _user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def _add_mentions(session: Session) -> int:
    added = 0
    for title, username, text in MENTIONS:
        question = session.scalar(select(Question).where(Question.title == title))
        author = _user(session, username)
        if question is None or author is None:
            continue
        exists = session.scalar(
            select(Comment.id).where(Comment.post_id == question.id, Comment.body_md == text)
        )
        if exists is not None:
            continue
        comment = comments.add(session, author=author, post_id=question.id, body=text)
        # Recent, so the mentioned members find them unread.
        comment.created_at = utcnow() - dt.timedelta(hours=5 + 7 * added)
        added += 1
    session.flush()
    return added


def _source_time(session: Session, note: Notification) -> dt.datetime | None:
    """When the thing a notification is about happened (the demo content is backdated)."""
    anchor = str(note.params.get("_anchor", ""))
    if anchor.startswith("comment-") and anchor[8:].isdigit():
        return session.scalar(select(Comment.created_at).where(Comment.id == int(anchor[8:])))
    if anchor.startswith("post-") and anchor[5:].isdigit():
        return session.scalar(select(Post.created_at).where(Post.id == int(anchor[5:])))
    question_id = note.params.get("question_id")
    if isinstance(question_id, int):
        return session.scalar(select(Post.created_at).where(Post.id == question_id))
    return None


def _settle_dates(session: Session) -> None:
    """Date notifications like their sources; older ones have been read."""
    now = utcnow()
    for note in session.scalars(select(Notification).where(Notification.kind != "badge")):
        when = _source_time(session, note)
        if when is None:
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        note.created_at = when
        if now - when > READ_AFTER and note.read_at is None:
            note.read_at = when + dt.timedelta(hours=3)
    session.flush()
    notifications.recount_unread(session)


def load_notifications(
    session: Session, *, progress: Callable[[str], None] = lambda _m: None
) -> int:
    """Add the demo mentions and preferences; returns how many notifications exist."""
    for username, choices in EMAIL_PREFERENCES.items():
        member = _user(session, username)
        if member is not None:
            notifications.set_preferences(session, member, choices)
    session.flush()
    mentions = _add_mentions(session)
    _settle_dates(session)
    total = session.scalar(select(func.count()).select_from(Notification)) or 0
    progress(f"{total} notifications ({mentions} new mentions)")
    return total
