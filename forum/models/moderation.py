"""Moderation: members' flags on posts and comments, warnings, and the code of conduct."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import Base, CreatedAt, IntPK
from forum.models.posts import Comment, Post
from forum.models.users import User

_OPEN = text("status = 'open'")
_PENDING = text("settled_at IS NULL")


class Flag(Base):
    """A member's report that a post or a comment needs a moderator's attention."""

    __tablename__ = "flags"
    __table_args__ = (
        CheckConstraint("(post_id IS NULL) <> (comment_id IS NULL)", name="one_target"),
        Index("ix_flags_status", "status"),
        Index("ix_flags_post_id", "post_id"),
        Index("ix_flags_comment_id", "comment_id"),
        # One open flag per member per target; closed ones stay as history.
        Index(
            "uq_flags_open_post",
            "reporter_id",
            "post_id",
            unique=True,
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
        Index(
            "uq_flags_open_comment",
            "reporter_id",
            "comment_id",
            unique=True,
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
    )

    id: Mapped[IntPK]
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    # dismissed, edited, hidden, deleted or warned: what the moderator did about it.
    resolution: Mapped[str | None] = mapped_column(String(16))
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[CreatedAt]

    reporter: Mapped[User] = relationship(foreign_keys=[reporter_id])
    resolved_by: Mapped[User | None] = relationship(foreign_keys=[resolved_by_id])
    post: Mapped[Post | None] = relationship()
    comment: Mapped[Comment | None] = relationship()

    @property
    def outcome(self) -> str | None:
        """What the flagger is told: "helpful" (a moderator acted on it), "declined", or None
        while it is open."""
        if self.status == "open" or self.resolution is None:
            return None
        return "declined" if self.resolution == "dismissed" else "helpful"

    @property
    def target_type(self) -> str:
        """Either "post" or "comment", as the audit log names targets."""
        return "post" if self.post_id is not None else "comment"

    @property
    def target_id(self) -> int:
        """The id of the flagged post or comment."""
        return self.post_id if self.post_id is not None else int(self.comment_id or 0)

    def __repr__(self) -> str:
        return f"<Flag {self.id} {self.target_type}:{self.target_id} {self.status}>"


class ModerationWarning(Base):
    """A moderator's written warning to a member about something they posted."""

    __tablename__ = "moderation_warnings"
    __table_args__ = (Index("ix_moderation_warnings_member_id", "member_id"),)

    id: Mapped[IntPK]
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    moderator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[CreatedAt]

    member: Mapped[User] = relationship(foreign_keys=[member_id])
    moderator: Mapped[User | None] = relationship(foreign_keys=[moderator_id])


class ConductRevision(Base):
    """One saved version of the code of conduct; the newest is the one shown."""

    __tablename__ = "conduct_revisions"

    id: Mapped[IntPK]
    body_md: Mapped[str] = mapped_column(Text)
    # Rendered and sanitised once on save.
    body_html: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(String(300), default="")
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[CreatedAt]

    editor: Mapped[User | None] = relationship()


class CloseVote(Base):
    """A privileged member's vote to close an open question, or to reopen a closed one.

    A vote is pending until the question closes (or reopens): then every pending vote of that
    kind is settled (``settled_at``), and the next round starts from none.
    """

    __tablename__ = "close_votes"
    __table_args__ = (
        CheckConstraint("kind IN ('close', 'reopen')", name="kind"),
        Index("ix_close_votes_question_id", "question_id"),
        Index("ix_close_votes_voter_id", "voter_id"),
        # One pending vote of each kind per member per question.
        Index(
            "uq_close_votes_pending",
            "question_id",
            "voter_id",
            "kind",
            unique=True,
            sqlite_where=_PENDING,
            postgresql_where=_PENDING,
        ),
    )

    id: Mapped[IntPK]
    question_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    voter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    #: For close votes: one of the moderators' close reasons.
    reason: Mapped[str | None] = mapped_column(String(32))
    #: For duplicate votes: the original question the voter chose.
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"))
    settled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[CreatedAt]

    voter: Mapped[User] = relationship(foreign_keys=[voter_id])

    def __repr__(self) -> str:
        return f"<CloseVote {self.kind} {self.question_id} by {self.voter_id}>"
