"""Suggested edits: changes to others' posts proposed by members who may not yet edit directly."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import Base, CreatedAt, IntPK
from forum.models.posts import Post
from forum.models.users import User

_PENDING = text("status = 'pending'")

#: The states of a suggestion: waiting, applied, turned down, or overtaken by another edit.
STATUSES = ("pending", "approved", "rejected", "superseded")


class SuggestedEdit(Base):
    """A proposed new title, body and tags for a question or answer, waiting for review.

    ``base_revision`` is the post's revision number the proposal was written against: an
    approval applies only while the post is still at it. ``reviewer_id`` and ``review_comment``
    say who decided and why; ``revision_number`` is the revision an approval recorded.
    """

    __tablename__ = "suggested_edits"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'superseded')", name="status"
        ),
        Index("ix_suggested_edits_status", "status"),
        Index("ix_suggested_edits_proposer_id", "proposer_id"),
        # One pending suggestion per post; decided ones stay as history.
        Index(
            "uq_suggested_edits_pending",
            "post_id",
            unique=True,
            sqlite_where=_PENDING,
            postgresql_where=_PENDING,
        ),
    )

    id: Mapped[IntPK]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    proposer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str | None] = mapped_column(String(200))
    body_md: Mapped[str] = mapped_column(Text)
    tags_text: Mapped[str] = mapped_column(String(400), default="")
    summary: Mapped[str] = mapped_column(String(300))
    base_revision: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    review_comment: Mapped[str] = mapped_column(String(500), default="", server_default="")
    revision_number: Mapped[int | None]
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[CreatedAt]

    post: Mapped[Post] = relationship()
    proposer: Mapped[User] = relationship(foreign_keys=[proposer_id])
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])

    @property
    def tag_list(self) -> list[str]:
        """The proposed tags as names."""
        return self.tags_text.split()

    def __repr__(self) -> str:
        return f"<SuggestedEdit {self.id} post={self.post_id} {self.status}>"
