"""Knowledge-base tables beside ``posts``: helpful feedback and wiki links for backlinks."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import Base, CreatedAt, IntPK, UpdatedAt
from forum.models.posts import Post
from forum.models.users import User


class ArticleFeedback(Base):
    """One member's "Was this helpful?" answer on one article, with an optional private note."""

    __tablename__ = "article_feedback"
    __table_args__ = (
        UniqueConstraint("article_id", "user_id"),
        Index("ix_article_feedback_user_id", "user_id"),
    )

    id: Mapped[IntPK]
    article_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    helpful: Mapped[bool] = mapped_column(Boolean)
    # Seen only by the article's owner (and moderators).
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]

    article: Mapped[Post] = relationship()
    user: Mapped[User] = relationship()


class ArticleLink(Base):
    """A ``[[wiki link]]`` from one article to a title; ``target_id`` once that title exists."""

    __tablename__ = "article_links"
    __table_args__ = (Index("ix_article_links_target_id", "target_id"),)

    source_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    # The link text normalised (lower case, single spaces): how titles are matched.
    target_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    target_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"))

    source: Mapped[Post] = relationship(foreign_keys=[source_id])
