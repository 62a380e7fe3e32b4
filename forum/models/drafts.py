"""Drafts: what a member is writing in the ask, answer and article forms, kept on the server."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import Base, CreatedAt, IntPK, UpdatedAt
from forum.models.posts import PostKind
from forum.models.users import User


class Draft(Base):
    """One member's unsent text for one form: a new question, an answer, a new or edited article.

    ``target_id`` is the question an answer is for, or the article being edited; 0 for a new
    question or article (a number, not a nullable key, so the unique constraint holds everywhere).
    """

    __tablename__ = "drafts"
    __table_args__ = (UniqueConstraint("user_id", "kind", "target_id"),)

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    target_id: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[str] = mapped_column(String(300), default="")
    article_type: Mapped[str] = mapped_column(String(10), default="")
    # The revision an edit started from, so a restored edit still merges with later saves.
    base_revision: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]

    owner: Mapped[User] = relationship()

    @property
    def post_kind(self) -> PostKind:
        """What the draft becomes when sent."""
        return PostKind(self.kind)

    def __repr__(self) -> str:
        return f"<Draft {self.id} {self.kind}:{self.target_id} of user {self.user_id}>"
