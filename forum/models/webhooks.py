"""Webhooks: addresses told about what happens, and the outbox of their deliveries."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import Base, CreatedAt, IntPK, UpdatedAt
from forum.models.users import User


class Webhook(Base):
    """An address (an integration or a chat's incoming webhook) POSTed events it subscribed to.

    ``events`` holds the subscribed event names separated by spaces; ``format`` says how a
    delivery's body is shaped (``json``, ``slack``, ``teams`` or ``mattermost``). The secret
    signs every body (HMAC-SHA256), so it is kept as given.
    """

    __tablename__ = "webhooks"

    id: Mapped[IntPK]
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[str] = mapped_column(String(1000), default="")
    format: Mapped[str] = mapped_column(String(16), default="json")
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]

    created_by: Mapped[User | None] = relationship()

    @property
    def event_names(self) -> list[str]:
        """The subscribed events, in the order stored."""
        return self.events.split()

    def __repr__(self) -> str:
        return f"<Webhook {self.id} {self.url!r}>"


class WebhookDelivery(Base):
    """One event for one webhook: written in the transaction of the action, sent after it.

    ``status`` is ``pending`` (due at ``next_attempt_at``), ``delivered`` or ``failed`` (given
    up at ``give_up_at``). ``body`` is the exact text POSTed, so every attempt sends (and
    signs) the same bytes.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("uuid"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook_id", "webhook_id"),
    )

    id: Mapped[IntPK]
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    uuid: Mapped[str] = mapped_column(String(36))
    event: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    give_up_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[CreatedAt]
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    webhook: Mapped[Webhook] = relationship()

    def __repr__(self) -> str:
        return f"<WebhookDelivery {self.id} {self.event} {self.status}>"


class WebhookAttempt(Base):
    """One try at sending a delivery: the answer's status code or the error, and how long."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery_id", "delivery_id"),)

    id: Mapped[IntPK]
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    attempted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
