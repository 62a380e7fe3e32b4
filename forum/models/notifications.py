"""Notifications: the inbox entries, per-kind delivery preferences and recorded @mentions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import Base, CreatedAt, IntPK
from forum.models.users import User


class Notification(Base):
    """One message in a member's inbox.

    ``endpoint`` and ``params`` name the page to open (the URL is built when the inbox is
    rendered, so services never need Flask). ``text`` is plain text, escaped when shown.
    ``emailed_at`` is set once the notification went out by email (a digest, or an instant
    email queued for it).
    """

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_recipient_id_read_at", "recipient_id", "read_at"),
        Index("ix_notifications_recipient_id_created_at", "recipient_id", "created_at"),
    )

    id: Mapped[IntPK]
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    endpoint: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[CreatedAt]
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    emailed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    recipient: Mapped[User] = relationship(foreign_keys=[recipient_id])
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])

    @property
    def is_read(self) -> bool:
        """Whether the recipient has marked it read."""
        return self.read_at is not None

    def __repr__(self) -> str:
        return f"<Notification {self.kind} to {self.recipient_id}>"


class NotificationPreference(Base):
    """How one member wants one kind delivered: ``inbox``, ``instant`` (inbox and an email at
    once), ``daily`` or ``weekly`` (inbox and that digest) or ``off``; no row: the kind's default
    (``forum.services.notifications.DEFAULT_CHANNELS``)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "kind"),)

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(8), default="inbox")


class Mention(Base):
    """A member mentioned in a text: ``subject`` is ``post:<id>``, ``comment:<id>``, ``tag:<id>``.

    Recorded so that editing the text never notifies the same member twice.
    """

    __tablename__ = "mentions"
    __table_args__ = (UniqueConstraint("subject", "user_id"),)

    id: Mapped[IntPK]
    subject: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[CreatedAt]


class PostFollow(Base):
    """A member following a question or an article: told of new answers, comments and edits.

    Askers and authors follow their own posts from the start; anyone may follow or unfollow.
    Who follows a post is never shown to others.
    """

    __tablename__ = "post_follows"
    __table_args__ = (
        UniqueConstraint("user_id", "post_id"),
        Index("ix_post_follows_post_id", "post_id"),
    )

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    created_at: Mapped[CreatedAt]


class MailDelivery(Base):
    """One email waiting to go out, sent, or given up on (the instant-email queue).

    Written in the transaction that caused it (a notification, a reminder); sent after the
    commit by a background thread of the app, or by ``forum mail send``. ``next_attempt_at``
    is when it is due next: a failed attempt moves it on with exponential backoff, and after
    the last attempt the state becomes ``failed``. ``key`` makes a reminder unique (once per
    session or period). Links are built when the mail is composed, from ``endpoint`` and
    ``params`` as a notification's are.
    """

    __tablename__ = "mail_deliveries"
    __table_args__ = (
        Index("ix_mail_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_mail_deliveries_created_at", "created_at"),
    )

    id: Mapped[IntPK]
    recipient_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    to_address: Mapped[str] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    endpoint: Mapped[str | None] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: An iCalendar file sent along (a circle session's reminder).
    ics: Mapped[str | None] = mapped_column(Text)
    key: Mapped[str | None] = mapped_column(String(120), unique=True)
    state: Mapped[str] = mapped_column(String(8), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[CreatedAt]
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    recipient: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<MailDelivery {self.id} {self.kind} {self.state}>"
