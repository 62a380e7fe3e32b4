"""An article's life cycle: unpublish, publish, delete, hand over, review-by, stale notices."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.models import AuditLog, Notification, Role
from forum.services import article_life, articles, visibility, wikilinks
from forum.services.errors import Conflict, Forbidden, NotFound, ValidationError
from tests.factories import make_article, make_user


def audit_actions(session: Session, article_id: int) -> list[str]:
    return list(
        session.scalars(
            select(AuditLog.action).where(AuditLog.target_id == article_id).order_by(AuditLog.id)
        )
    )


def notes_to(session: Session, user_id: int) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.recipient_id == user_id, Notification.kind == "article")
            .order_by(Notification.id)
        )
    )


def test_unpublished_article_is_a_draft_for_its_managers_only(session: Session) -> None:
    author, reader = make_user(session), make_user(session)
    moderator = make_user(session, role=Role.MODERATOR)
    article = make_article(session, author, title="Onboarding notes")
    article_life.unpublish(session, article, actor=author, reason="Out of date")
    assert article_life.is_draft(article)
    assert visibility.can_view(session, author, article)
    assert visibility.can_view(session, moderator, article)
    assert not visibility.can_view(session, reader, article)
    assert not visibility.can_view(session, None, article)
    assert wikilinks.find_by_title(session, "Onboarding notes") is None
    assert articles.list_articles(session)[1] == 0
    with pytest.raises(Conflict):
        article_life.unpublish(session, article, actor=author)
    article_life.publish(session, article, actor=moderator)
    assert not article.is_deleted and not article_life.is_draft(article)
    assert visibility.can_view(session, reader, article)
    assert audit_actions(session, article.id) == ["article.unpublish", "article.publish"]
    assert session.scalar(select(AuditLog.reason).where(AuditLog.target_id == article.id)) == (
        "Out of date"
    )


def test_only_author_owner_or_moderator_manage(session: Session) -> None:
    author, other = make_user(session), make_user(session)
    article = make_article(session, author)
    for action in (article_life.unpublish, article_life.delete):
        with pytest.raises(Forbidden):
            action(session, article, actor=other)
    with pytest.raises(Forbidden):
        article_life.hand_over(session, article, actor=other, username=other.username)
    assert audit_actions(session, article.id) == []


def test_delete_is_final_and_audited(session: Session) -> None:
    author = make_user(session)
    article = make_article(session, author)
    article_life.delete(session, article, actor=author, reason="Duplicate")
    assert article.is_deleted and not article_life.is_draft(article)
    with pytest.raises(Conflict):
        article_life.publish(session, article, actor=author)
    with pytest.raises(NotFound):
        article_life.delete(session, article, actor=author)
    draft = make_article(session, author)
    article_life.unpublish(session, draft, actor=author)
    article_life.delete(session, draft, actor=author)
    assert draft.is_deleted and not article_life.is_draft(draft)
    assert audit_actions(session, article.id) == ["article.delete"]
    assert audit_actions(session, draft.id) == ["article.unpublish", "article.delete"]


def test_hand_over_tells_the_new_owner_who_then_manages(session: Session) -> None:
    author = make_user(session, display_name="Ada")
    heir = make_user(session, "heir")
    article = make_article(session, author, title="Pager duty")
    with pytest.raises(ValidationError):
        article_life.hand_over(session, article, actor=author, username="ghost")
    with pytest.raises(ValidationError):
        article_life.hand_over(session, article, actor=author, username=author.username)
    assert article_life.hand_over(session, article, actor=author, username="@Heir") == heir
    assert article.owner_id == heir.id
    [note] = notes_to(session, heir.id)
    assert note.text.startswith("Ada handed the article “Pager duty” over to you")
    assert note.params == {"slug": article.slug}
    assert article_life.can_manage(heir, article)
    article_life.unpublish(session, article, actor=heir)
    assert visibility.can_view(session, heir, article)
    reason = session.scalar(select(AuditLog.reason).where(AuditLog.action == "article.hand_over"))
    assert reason == f"From {author.username} to heir"


def test_review_by_date_must_be_ahead(session: Session) -> None:
    author = make_user(session)
    article = make_article(session, author)
    today = dt.date(2030, 1, 10)
    for bad in (today, today - dt.timedelta(days=1), today + dt.timedelta(days=6 * 366)):
        with pytest.raises(ValidationError):
            article_life.set_review_by(session, article, actor=author, review_by=bad, today=today)
    article_life.set_review_by(
        session, article, actor=author, review_by=dt.date(2030, 3, 1), today=today
    )
    assert article.review_by is not None
    assert article.review_by.date() == dt.date(2030, 3, 1)


def test_owners_are_told_once_per_staleness_period(session: Session) -> None:
    owner = make_user(session)
    stale = make_article(session, owner, title="Old build steps")
    fresh = make_article(session, owner, title="New build steps")
    gone = make_article(session, owner, title="Gone build steps")
    now = utcnow()
    stale.review_by = now - dt.timedelta(days=1)
    gone.review_by = now - dt.timedelta(days=1)
    article_life.delete(session, gone, actor=owner)
    session.flush()
    assert article_life.notify_stale(session, now=now) == 1
    assert article_life.notify_stale(session, now=now + dt.timedelta(days=1)) == 0
    [note] = notes_to(session, owner.id)
    assert "“Old build steps” is due for review" in note.text
    assert note.params == {"slug": stale.slug}
    # Reviewed, then stale again: a new period, a new notice.
    articles.mark_reviewed(session, stale, actor=owner, review_after=dt.timedelta(days=2), now=now)
    assert article_life.notify_stale(session, now=now + dt.timedelta(days=1)) == 0
    assert article_life.notify_stale(session, now=now + dt.timedelta(days=3)) == 1
    assert len(notes_to(session, owner.id)) == 2
    assert fresh.stale_notified_at is None
