"""Posts (questions, answers, articles in one table), their revisions, tags, votes, comments."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import Base, CreatedAt, IntPK, UpdatedAt, value_enum
from forum.models.users import User


class PostKind(enum.StrEnum):
    """The discriminator of the single-table ``posts`` hierarchy."""

    QUESTION = "question"
    ANSWER = "answer"
    ARTICLE = "article"


class ArticleType(enum.StrEnum):
    """Short tips and long, structured tutorials."""

    TIP = "tip"
    TUTORIAL = "tutorial"


post_tags = Table(
    "post_tags",
    Base.metadata,
    Column("post_id", ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_post_tags_tag_id", "tag_id"),
)


class Tag(Base):
    """A topic label; names are lower-case ``a-z0-9+#.-`` up to 35 characters."""

    __tablename__ = "tags"

    id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(String(35), unique=True)
    excerpt: Mapped[str | None] = mapped_column(Text)
    description_md: Mapped[str | None] = mapped_column(Text)
    description_html: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[CreatedAt]
    # Live (not deleted) questions and articles carrying the tag, kept by every flush that
    # changes a post's tags or liveness (forum.services.tags.recount): list pages read them
    # instead of counting post_tags on every view.
    question_count: Mapped[int] = mapped_column(default=0, server_default="0")
    article_count: Mapped[int] = mapped_column(default=0, server_default="0")

    def __repr__(self) -> str:
        return f"<Tag {self.name}>"


class Post(Base):
    """Anything members write that others vote on: questions, answers and articles."""

    __tablename__ = "posts"
    __table_args__ = (
        Index("ix_posts_kind_created_at", "kind", "created_at"),
        Index("ix_posts_parent_id", "parent_id"),
        # The member's posts of one kind by score (badge rules, profiles); author_id alone too.
        Index("ix_posts_author_kind_score", "author_id", "kind", "score"),
        # Question lists ("Active", "Top") and the question page's duplicates (0013).
        Index("ix_posts_kind_last_activity_at", "kind", "last_activity_at"),
        Index("ix_posts_kind_score_created_at", "kind", "score", "created_at"),
        Index("ix_posts_duplicate_of_id", "duplicate_of_id"),
        # Articles by last update (/articles?sort=updated, 0038).
        Index("ix_posts_kind_updated_at", "kind", "updated_at"),
        CheckConstraint("answer_count >= 0", name="answer_count_nonnegative"),
    )

    id: Mapped[IntPK]
    kind: Mapped[PostKind] = mapped_column(value_enum(PostKind, 16))
    title: Mapped[str | None] = mapped_column(String(200))
    body_md: Mapped[str] = mapped_column(Text, default="")
    # Rendered and sanitised once on save; the only post HTML a template may mark safe.
    body_html: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    score: Mapped[int] = mapped_column(default=0, server_default="0")
    comment_count: Mapped[int] = mapped_column(default=0, server_default="0")
    revision_count: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]
    last_activity_at: Mapped[CreatedAt]
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    # Questions
    accepted_answer_id: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", ondelete="SET NULL", use_alter=True)
    )
    answer_count: Mapped[int] = mapped_column(default=0, server_default="0")
    view_count: Mapped[int] = mapped_column(default=0, server_default="0")
    is_anonymous: Mapped[bool] = mapped_column(default=False, server_default=false())
    closed_reason: Mapped[str | None] = mapped_column(String(32))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # The moderator's explanation shown on a closed question.
    close_note: Mapped[str | None] = mapped_column(Text)
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", ondelete="SET NULL", use_alter=True)
    )
    # Answers
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    # Articles
    slug: Mapped[str | None] = mapped_column(String(200), unique=True)
    article_type: Mapped[ArticleType | None] = mapped_column(value_enum(ArticleType, 16))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    is_locked: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Past this date the article shows a notice and is listed at /articles/stale.
    review_by: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # A draft again: removed like a deleted article (deleted_at), but its owner may publish it.
    unpublished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # When the owner was last told the article is past review_by (once per staleness period).
    stale_notified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    tags: Mapped[list[Tag]] = relationship(secondary=post_tags, order_by=Tag.name)
    revisions: Mapped[list[Revision]] = relationship(
        back_populates="post", order_by="Revision.number", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"polymorphic_on": "kind"}

    @property
    def is_deleted(self) -> bool:
        """Soft-deleted posts stay in the table for history and undelete."""
        return self.deleted_at is not None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"


class Question(Post):
    """A question members answer; may be asked anonymously and closed."""

    accepted_answer: Mapped[Answer | None] = relationship(
        foreign_keys=[Post.accepted_answer_id], remote_side=[Post.id], post_update=True
    )
    answers: Mapped[list[Answer]] = relationship(
        foreign_keys=[Post.parent_id], back_populates="question"
    )

    __mapper_args__ = {"polymorphic_identity": PostKind.QUESTION}


class Answer(Post):
    """An answer to a question."""

    question: Mapped[Question] = relationship(
        foreign_keys=[Post.parent_id], remote_side=[Post.id], back_populates="answers"
    )

    __mapper_args__ = {"polymorphic_identity": PostKind.ANSWER}


class Article(Post):
    """A tip or tutorial in the knowledge base, with an owner who keeps it fresh."""

    owner: Mapped[User | None] = relationship(foreign_keys=[Post.owner_id])

    __mapper_args__ = {"polymorphic_identity": PostKind.ARTICLE}


class Revision(Base):
    """One saved state of a post: every edit appends one, numbered from 1."""

    __tablename__ = "revisions"
    __table_args__ = (
        UniqueConstraint("post_id", "number"),
        Index("ix_revisions_editor_id", "editor_id"),
    )

    id: Mapped[IntPK]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    number: Mapped[int]
    title: Mapped[str | None] = mapped_column(String(200))
    body_md: Mapped[str] = mapped_column(Text)
    tags_text: Mapped[str] = mapped_column(String(400), default="")
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    summary: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[CreatedAt]

    post: Mapped[Post] = relationship(back_populates="revisions")
    editor: Mapped[User | None] = relationship()


class Vote(Base):
    """One member's up (+1) or down (-1) vote on one post."""

    __tablename__ = "votes"
    __table_args__ = (
        UniqueConstraint("user_id", "post_id"),
        CheckConstraint("value IN (-1, 1)", name="value_is_unit"),
        Index("ix_votes_post_id", "post_id"),
    )

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    value: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[CreatedAt]


class Comment(Base):
    """A comment on a post, possibly replying to another comment on the same post."""

    __tablename__ = "comments"
    __table_args__ = (
        Index("ix_comments_post_id", "post_id"),
        Index("ix_comments_author_id", "author_id"),
    )

    id: Mapped[IntPK]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    score: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    post: Mapped[Post] = relationship()
    author: Mapped[User | None] = relationship()
    parent: Mapped[Comment | None] = relationship(
        remote_side="Comment.id", back_populates="replies"
    )
    replies: Mapped[list[Comment]] = relationship(back_populates="parent")
