"""The reputation ledger: append-only events whose sum per member is their reputation."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import Base, CreatedAt, IntPK
from forum.models.posts import Post
from forum.models.users import User


class ReputationEvent(Base):
    """One change to a member's reputation; rows are only ever added, never changed.

    ``account`` names the part of reputation the event moves: ``votes`` (votes and helpful
    marks received, capped per UTC day ``cap_day``), ``downvotes_cast`` or ``acceptance``.
    ``post_id`` and ``actor_id`` say what caused it (the voted post and the voter, say).
    """

    __tablename__ = "reputation_events"
    __table_args__ = (
        Index("ix_reputation_events_user_id_created_at", "user_id", "created_at"),
        Index("ix_reputation_events_post_id", "post_id"),
    )

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    delta: Mapped[int]
    reason: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(16))
    cap_day: Mapped[dt.date | None] = mapped_column(Date)
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[CreatedAt]

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    post: Mapped[Post | None] = relationship()
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])

    def __repr__(self) -> str:
        return f"<ReputationEvent {self.user_id} {self.delta:+d} {self.reason}>"
