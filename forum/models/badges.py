"""Badges awarded to members; the badges themselves are declared in forum.services.badges."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import Base, CreatedAt, IntPK
from forum.models.posts import Post, Tag
from forum.models.users import User


class BadgeAward(Base):
    """One badge held by one member; ``subject`` tells repeat awards apart (a post, a tag).

    The unique (user, badge, subject) key makes awarding idempotent: a replay of the same
    event can never hand out the same badge twice.
    """

    __tablename__ = "badge_awards"
    __table_args__ = (
        UniqueConstraint("user_id", "badge_key", "subject"),
        Index("ix_badge_awards_badge_key_awarded_at", "badge_key", "awarded_at"),
    )

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    badge_key: Mapped[str] = mapped_column(String(64))
    # "" for once-only badges, "post:<id>" or "tag:<name>" for repeatable ones.
    subject: Mapped[str] = mapped_column(String(80), default="", server_default="")
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"))
    tag_id: Mapped[int | None] = mapped_column(ForeignKey("tags.id", ondelete="SET NULL"))
    awarded_at: Mapped[CreatedAt]

    user: Mapped[User] = relationship()
    post: Mapped[Post | None] = relationship()
    tag: Mapped[Tag | None] = relationship()

    def __repr__(self) -> str:
        return f"<BadgeAward {self.badge_key} {self.user_id} {self.subject}>"
