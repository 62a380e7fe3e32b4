"""An article's life cycle: unpublish, publish again, delete, hand over, review-by, staleness.

The author, the owner and moderators manage an article. Unpublishing takes it back to a draft:
it is removed like a deleted article (``deleted_at``, so lists, search and wiki links leave it
out and what it earned is reversed) and marked ``unpublished_at``, so whoever manages it can
publish it again. Unpublishing, publishing, deleting and handing over are written to the audit
log. Owners are told once per staleness period when an article passes its review-by date.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from forum import events
from forum.db import utcnow
from forum.models import Article, AuditLog, User
from forum.services import notifications
from forum.services.errors import Conflict, Forbidden, NotFound, ValidationError

MAX_REASON = 500
#: How far ahead a review-by date may be set.
MAX_REVIEW_AHEAD = dt.timedelta(days=5 * 366)

ACTION_LABELS: dict[str, str] = {
    "article.unpublish": "Unpublished an article",
    "article.publish": "Published an article again",
    "article.delete": "Deleted an article",
    "article.hand_over": "Handed over an article",
}


def can_manage(user: User | None, article: Article) -> bool:
    """The author, the owner and moderators manage an article's life cycle."""
    return user is not None and (
        user.is_moderator or user.id in {article.author_id, article.owner_id}
    )


def is_draft(article: Article) -> bool:
    """Unpublished (a draft again) rather than published or deleted."""
    return article.unpublished_at is not None and article.deleted_at is not None


def _require_manager(actor: User, article: Article, what: str) -> None:
    if not can_manage(actor, article):
        raise Forbidden(f"Only the article's author, its owner or a moderator can {what} it.")


def _reason(reason: str) -> str:
    text = " ".join((reason or "").split())
    if len(text) > MAX_REASON:
        raise ValidationError({"reason": [f"Keep the reason to {MAX_REASON} characters."]})
    return text


def _audit(session: Session, actor: User, action: str, article: Article, reason: str) -> None:
    session.add(
        AuditLog(
            actor_id=actor.id,
            action=action,
            target_type="post",
            target_id=article.id,
            reason=reason,
        )
    )


def unpublish(session: Session, article: Article, *, actor: User, reason: str = "") -> None:
    """Take a published article back to a draft only its managers see; audited."""
    _require_manager(actor, article, "unpublish")
    note = _reason(reason)
    if article.deleted_at is not None:
        raise Conflict("This article is not published.")
    moment = utcnow()
    article.deleted_at = moment
    article.unpublished_at = moment
    session.flush()
    events.emit(session, events.PostDeleted(post=article, actor=actor))
    _audit(session, actor, "article.unpublish", article, note)
    session.flush()


def publish(session: Session, article: Article, *, actor: User) -> None:
    """Publish an unpublished article again; audited."""
    _require_manager(actor, article, "publish")
    if not is_draft(article):
        raise Conflict("Only an unpublished article can be published again.")
    article.deleted_at = None
    article.unpublished_at = None
    session.flush()
    events.emit(session, events.PostUndeleted(post=article, actor=actor))
    _audit(session, actor, "article.publish", article, "")
    session.flush()


def delete(session: Session, article: Article, *, actor: User, reason: str = "") -> None:
    """Delete an article (published or a draft) for good as far as members go; audited.

    The rows stay for the history and the audit log; moderators can still read it.
    """
    _require_manager(actor, article, "delete")
    note = _reason(reason)
    if article.deleted_at is not None and article.unpublished_at is None:
        raise NotFound("There is no article at this address.")
    if article.deleted_at is None:
        article.deleted_at = utcnow()
        session.flush()
        events.emit(session, events.PostDeleted(post=article, actor=actor))
    # A draft was removed when it was unpublished (and what it earned reversed then).
    article.unpublished_at = None
    _audit(session, actor, "article.delete", article, note)
    session.flush()


def hand_over(session: Session, article: Article, *, actor: User, username: str) -> User:
    """Make another member the article's owner, who is told; audited."""
    _require_manager(actor, article, "hand over")
    if article.deleted_at is not None and article.unpublished_at is None:
        raise NotFound("There is no article at this address.")
    name = (username or "").strip().lstrip("@").lower()
    new = session.scalar(select(User).where(User.username == name, User.is_active.is_(True)))
    if new is None:
        raise ValidationError({"username": ["Choose an active member by their username."]})
    if new.id == article.owner_id:
        raise ValidationError({"username": [f"{new.display_name} already owns this article."]})
    old = article.owner
    article.owner = new
    article.owner_id = new.id
    session.flush()
    notifications.notify(
        session,
        recipient=new,
        kind="article",
        text=f"{actor.display_name} handed the article “{article.title}” over to you: "
        "you now keep it up to date.",
        endpoint="wiki.detail",
        params={"slug": article.slug or ""},
        actor=actor,
    )
    was = old.username if old is not None else "nobody"
    _audit(session, actor, "article.hand_over", article, f"From {was} to {new.username}")
    session.flush()
    return new


def set_review_by(
    session: Session,
    article: Article,
    *,
    actor: User,
    review_by: dt.date,
    today: dt.date | None = None,
) -> None:
    """Set the date by which the article should be checked again (a day after today at least)."""
    _require_manager(actor, article, "set the review date of")
    if article.deleted_at is not None and article.unpublished_at is None:
        raise NotFound("There is no article at this address.")
    day = today or utcnow().date()
    if review_by <= day:
        raise ValidationError({"review_by": ["Choose a date after today."]})
    if review_by > day + MAX_REVIEW_AHEAD:
        raise ValidationError({"review_by": ["Choose a date within the next five years."]})
    article.review_by = dt.datetime.combine(review_by, dt.time(), tzinfo=dt.UTC)
    session.flush()


def notify_stale(session: Session, *, now: dt.datetime | None = None) -> int:
    """Tell the owner of each published article past its review-by date, once per period.

    A period ends when the date moves on (an edit, a review, a new date), so an owner is told
    again only when the article goes stale again. Returns how many articles were handled;
    members who chose e-mail for this kind get it in their next digest.
    """
    moment = now or utcnow()
    due = list(
        session.scalars(
            select(Article)
            .where(
                Article.deleted_at.is_(None),
                Article.owner_id.is_not(None),
                Article.review_by <= moment,
                or_(
                    Article.stale_notified_at.is_(None),
                    Article.stale_notified_at < Article.review_by,
                ),
            )
            .order_by(Article.review_by, Article.id)
            .options(selectinload(Article.owner))
        )
    )
    for article in due:
        if article.owner is not None:
            notifications.notify(
                session,
                recipient=article.owner,
                kind="article",
                text=f"Your article “{article.title}” is due for review: check it, edit what "
                "changed or confirm it is still accurate.",
                endpoint="wiki.detail",
                params={"slug": article.slug or ""},
            )
        article.stale_notified_at = moment
        events.emit(session, events.ArticleStale(article=article))
    session.flush()
    return len(due)
