"""Knowledge-base tables beside ``posts``: helpful feedback and wiki links for backlinks."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    ColumnElement,
    ForeignKey,
    Index,
    SQLColumnExpression,
    String,
    Text,
    UniqueConstraint,
    and_,
    true,
)
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


def helpful_by_someone_else(author_id: SQLColumnExpression[int | None]) -> ColumnElement[bool]:
    """A feedback row that counts as a helpful mark for the article's author.

    Only a "yes" from someone other than the author counts (a member marking their own
    article earns nothing). Reputation, badges, leaderboards and mentor suggestions all count
    helpful marks through this one condition; ``author_id`` is the article's author column
    (of ``Post`` or an alias of it) in the query that joins ``ArticleFeedback``.
    """
    return and_(ArticleFeedback.helpful == true(), ArticleFeedback.user_id != author_id)


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
