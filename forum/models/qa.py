"""Q&A extras: comment votes, followed tags, tag synonyms and counted views."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import Base, CreatedAt, IntPK, utcnow
from forum.models.posts import Tag


class CommentVote(Base):
    """One member's up vote on one comment (comments have no down votes)."""

    __tablename__ = "comment_votes"
    __table_args__ = (
        UniqueConstraint("user_id", "comment_id"),
        Index("ix_comment_votes_comment_id", "comment_id"),
    )

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    created_at: Mapped[CreatedAt]


class TagFollow(Base):
    """A member follows a tag: its questions appear under "my tags"."""

    __tablename__ = "tag_follows"
    __table_args__ = (Index("ix_tag_follows_tag_id", "tag_id"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[CreatedAt]


class TagSynonym(Base):
    """Another name for a tag: posts tagged with ``name`` get the target tag instead."""

    __tablename__ = "tag_synonyms"

    id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(String(35), unique=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"))
    created_at: Mapped[CreatedAt]

    tag: Mapped[Tag] = relationship()


class PostView(Base):
    """The last counted view of a post by one viewer (a member, or a hashed address)."""

    __tablename__ = "post_views"

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    viewer: Mapped[str] = mapped_column(String(64), primary_key=True)
    viewed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
