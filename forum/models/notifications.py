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
    ``emailed_at`` is set once the notification went out in an email digest.
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
    """How one member wants one kind delivered: ``inbox`` (default), ``email`` or ``off``."""

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
