"""Notifications: staging them in a member's inbox, preferences per kind, marking them read.

Every caller stages notifications in the same transaction as the action that causes them, with
:func:`notify`. Each kind goes where the member chose (:data:`CHANNELS`): the inbox only, the
inbox and an instant email (queued in the same transaction, see ``forum.services.mailqueue``),
the inbox and the daily or weekly digest (``forum.services.digests``), or nowhere.
``users.unread_notifications`` is a denormalised counter kept here with atomic UPDATEs, so the
page header shows the unread count without a query of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from forum.db import utcnow
from forum.models import Notification, NotificationPreference, User
from forum.services import mailqueue, visibility
from forum.services.errors import NotFound, ValidationError

KINDS = (
    "answer",
    "comment",
    "reply",
    "mention",
    "accepted",
    "badge",
    "mentoring",
    "buddy",
    "circle_session",
    "followed_tag",
    "request_fulfilled",
    "moderation",
    "flag",
    "flag_outcome",
    "suggested_edit",
    "article",
    "followed_post",
    "session_reminder",
    "bounty",
)

#: What each kind is about, as the preferences page lists it.
KIND_LABELS: dict[str, str] = {
    "answer": "Answers to my questions",
    "comment": "Comments on my posts",
    "reply": "Replies to my comments",
    "mention": "@mentions of me",
    "accepted": "My answer accepted",
    "badge": "Badges I earn",
    "mentoring": "Mentoring requests and pairings",
    "buddy": "Buddy pairings",
    "circle_session": "Learning circle sessions",
    "followed_tag": "New questions in tags I follow",
    "request_fulfilled": "Tutorial requests fulfilled",
    "moderation": "Moderation of my posts",
    "flag": "New flags to handle (moderators)",
    "flag_outcome": "What the moderators decided about my flags",
    "suggested_edit": "Reviews of the edits I suggest",
    "article": "My articles: hand-overs and reviews due",
    "followed_post": "Activity on questions and articles I follow",
    "session_reminder": "Reminders of circle sessions, a day before",
    "bounty": "Bounties on my questions and awarded to my answers",
}

CHANNELS = ("inbox", "instant", "daily", "weekly", "off")
#: Channels whose notifications go out in the digest of that period.
DIGEST_CHANNELS = ("daily", "weekly")
DEFAULT_CHANNEL = "inbox"
#: Kinds that reach members by email at once unless they choose otherwise.
DEFAULT_CHANNELS: dict[str, str] = {"answer": "instant", "mention": "instant"}
#: What an unsubscribe link moves a kind to: still in the inbox, no more email.
UNSUBSCRIBED_CHANNEL = "inbox"
MAX_TEXT_LENGTH = 500
PAGE_SIZE = 30


def _unread_delta(session: Session, user_id: int, delta: int) -> None:
    """Move a member's unread counter by ``delta`` in the database, never below zero."""
    if delta == 0:
        return
    new_value = User.unread_notifications + delta
    if delta < 0:
        new_value = func.max(new_value, 0) if _is_sqlite(session) else func.greatest(new_value, 0)
    session.execute(
        update(User)
        .where(User.id == user_id)
        .values(unread_notifications=new_value)
        .execution_options(synchronize_session=False)
    )
    # Only a member already loaded in this session needs refreshing; never query for one.
    user = session.identity_map.get(identity_key(User, user_id))
    if user is not None:
        session.expire(user, ["unread_notifications"])


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def default_channel(kind: str) -> str:
    """Where ``kind`` goes for a member who never chose."""
    return DEFAULT_CHANNELS.get(kind, DEFAULT_CHANNEL)


def channel_for(session: Session, user_id: int, kind: str) -> str:
    """How this member wants ``kind`` delivered (one of :data:`CHANNELS`)."""
    channel = session.scalar(
        select(NotificationPreference.channel).where(
            NotificationPreference.user_id == user_id, NotificationPreference.kind == kind
        )
    )
    return channel or default_channel(kind)


def preferences(session: Session, user: User) -> dict[str, str]:
    """Every kind with the member's chosen channel, in the order of :data:`KINDS`."""
    chosen = {
        kind: channel
        for kind, channel in session.execute(
            select(NotificationPreference.kind, NotificationPreference.channel).where(
                NotificationPreference.user_id == user.id
            )
        )
    }
    return {kind: chosen.get(kind, default_channel(kind)) for kind in KINDS}


def set_preferences(session: Session, user: User, choices: Mapping[str, str]) -> None:
    """Store the member's channel for each kind named in ``choices``."""
    errors = [
        f"Unknown choice for {kind!r}."
        for kind, channel in choices.items()
        if kind not in KINDS or channel not in CHANNELS
    ]
    if errors:
        raise ValidationError({"preferences": errors})
    existing = {
        p.kind: p
        for p in session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == user.id)
        )
    }
    for kind, channel in choices.items():
        if kind in existing:
            existing[kind].channel = channel
        else:
            session.add(NotificationPreference(user_id=user.id, kind=kind, channel=channel))


def unsubscribe(session: Session, user_id: int, kinds: list[str]) -> list[str]:
    """An unsubscribe link was used: stop emailing these kinds (they stay in the inbox).

    Only kinds that went by email change; returns those. Unknown kinds are ignored.
    """
    member = session.get(User, user_id)
    if member is None:
        raise NotFound("There is no such member.")
    current = preferences(session, member)
    changed = [
        kind
        for kind in dict.fromkeys(kinds)
        if kind in current and current[kind] in ("instant", *DIGEST_CHANNELS)
    ]
    if changed:
        set_preferences(session, member, {kind: UNSUBSCRIBED_CHANNEL for kind in changed})
        session.flush()
    return changed


def notify(
    session: Session,
    *,
    recipient: User,
    kind: str,
    text: str,
    endpoint: str,
    params: dict[str, int | str],
    actor: User | None = None,
    ics: str | None = None,
    mail_key: str | None = None,
) -> Notification | None:
    """Stage one notification (None when recipient == actor or the member turned this kind off).

    On the ``instant`` channel an email is queued too, in the same transaction (with ``ics``
    attached when given; ``mail_key`` queues it at most once).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    if actor is not None and actor.id == recipient.id:
        return None
    if not recipient.is_active:
        return None
    channel = channel_for(session, recipient.id, kind)
    if channel == "off":
        return None
    text = " ".join(text.split())
    if len(text) > MAX_TEXT_LENGTH:
        text = text[: MAX_TEXT_LENGTH - 1] + "…"
    notification = Notification(
        recipient_id=recipient.id,
        kind=kind,
        text=text,
        endpoint=endpoint,
        params=dict(params),
        actor_id=actor.id if actor is not None else None,
        created_at=utcnow(),
    )
    session.add(notification)
    _unread_delta(session, recipient.id, 1)
    if channel == "instant":
        queued = mailqueue.enqueue(
            session,
            recipient=recipient,
            kind=kind,
            subject=text,
            text=text,
            endpoint=endpoint,
            params=dict(params),
            ics=ics,
            key=mail_key,
        )
        if queued is not None:
            # Emailed on its own: never again in a digest (should the member switch to one).
            notification.emailed_at = notification.created_at
    return notification


@dataclass
class InboxPage:
    """One page of a member's inbox, newest first."""

    items: list[Notification]
    page: int
    pages: int
    total: int
    unread: int
    #: Items about a post the member may no longer see: shown without their text or link.
    removed: set[int] = field(default_factory=set)


def inbox(session: Session, user: User, *, page: int = 1, per_page: int = PAGE_SIZE) -> InboxPage:
    """The member's notifications, newest first, one page at a time."""
    base = select(Notification).where(Notification.recipient_id == user.id)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    items = list(
        session.scalars(
            base.order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    unread = (
        session.scalar(
            select(func.count()).where(
                Notification.recipient_id == user.id, Notification.read_at.is_(None)
            )
        )
        or 0
    )
    removed = visibility.removed_notifications(session, user, items)
    return InboxPage(
        items=items, page=page, pages=pages, total=total, unread=unread, removed=removed
    )


def get_own(session: Session, user: User, notification_id: int) -> Notification:
    """One of the member's own notifications (someone else's is 'not found')."""
    notification = session.get(Notification, notification_id)
    if notification is None or notification.recipient_id != user.id:
        raise NotFound("There is no such notification.")
    return notification


def mark_read(session: Session, user: User, notification_id: int) -> Notification:
    """Mark one of the member's notifications read (marking it twice changes nothing)."""
    notification = get_own(session, user, notification_id)
    result = session.execute(
        update(Notification)
        .where(Notification.id == notification.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    changed = getattr(result, "rowcount", 0) or 0
    session.expire(notification, ["read_at"])
    _unread_delta(session, user.id, -changed)
    return notification


def mark_all_read(session: Session, user: User) -> int:
    """Mark every unread notification of the member read; returns how many changed."""
    result = session.execute(
        update(Notification)
        .where(Notification.recipient_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    changed = getattr(result, "rowcount", 0) or 0
    for obj in session.identity_map.values():
        if isinstance(obj, Notification) and obj.recipient_id == user.id:
            session.expire(obj, ["read_at"])
    _unread_delta(session, user.id, -changed)
    return changed


def recount_unread(session: Session, user: User | None = None) -> None:
    """Bring ``users.unread_notifications`` in line with the rows (one member, or everyone)."""
    count = (
        select(func.count())
        .where(Notification.recipient_id == User.id, Notification.read_at.is_(None))
        .scalar_subquery()
    )
    stmt = update(User).values(unread_notifications=count)
    if user is not None:
        stmt = stmt.where(User.id == user.id)
    session.execute(stmt.execution_options(synchronize_session=False))
    if user is not None:
        session.expire(user, ["unread_notifications"])
