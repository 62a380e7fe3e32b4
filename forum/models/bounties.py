"""Bounties: reputation a member offers on a question, for a week, to reward an answer."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import Base, CreatedAt, IntPK, value_enum
from forum.models.posts import Post
from forum.models.users import User


class BountyStatus(enum.StrEnum):
    """Where a bounty stands: open until awarded or settled after its grace period."""

    OPEN = "open"
    AWARDED = "awarded"
    AUTO_AWARDED = "auto-awarded"
    EXPIRED = "expired"


class Bounty(Base):
    """Reputation ``offerer`` put on ``question``; it left them when the bounty started.

    ``open_question_id`` holds the question's id while the bounty is open and NULL after: its
    unique constraint allows one open bounty per question. ``recipient_id`` is the author of
    the awarded answer at the time of the award; the reputation ledger derives the bounty
    account from the offers and these awards (see ``forum.services.reputation``), so deleting
    the answer or the question later takes nothing back.
    """

    __tablename__ = "bounties"
    __table_args__ = (
        Index("ix_bounties_question_id", "question_id"),
        Index("ix_bounties_status_ends_at", "status", "ends_at"),
        Index("ix_bounties_offerer_id", "offerer_id"),
        Index("ix_bounties_recipient_id", "recipient_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("awarded_amount >= 0", name="awarded_amount_nonnegative"),
    )

    id: Mapped[IntPK]
    question_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    open_question_id: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), unique=True
    )
    offerer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    amount: Mapped[int]
    reason: Mapped[str] = mapped_column(String(32))
    status: Mapped[BountyStatus] = mapped_column(
        value_enum(BountyStatus, 16), default=BountyStatus.OPEN
    )
    started_at: Mapped[CreatedAt]
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    awarded_answer_id: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", ondelete="SET NULL")
    )
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    awarded_amount: Mapped[int] = mapped_column(default=0, server_default="0")

    question: Mapped[Post] = relationship(foreign_keys=[question_id])
    offerer: Mapped[User | None] = relationship(foreign_keys=[offerer_id])
    awarded_answer: Mapped[Post | None] = relationship(foreign_keys=[awarded_answer_id])
    recipient: Mapped[User | None] = relationship(foreign_keys=[recipient_id])

    @property
    def is_open(self) -> bool:
        """Whether the bounty still waits for its award."""
        return self.status is BountyStatus.OPEN

    def __repr__(self) -> str:
        return f"<Bounty {self.id} +{self.amount} on {self.question_id} {self.status}>"
