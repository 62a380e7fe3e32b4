"""Skills members state, mentorships with their goals and check-ins, and buddy pairs."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import Base, CreatedAt, IntPK
from forum.models.posts import Tag
from forum.models.users import User


class MemberSkill(Base):
    """A tag a member says they can help with (``help``) or want to learn (``learn``)."""

    __tablename__ = "member_skills"
    __table_args__ = (
        UniqueConstraint("user_id", "tag_id", "kind"),
        CheckConstraint("kind IN ('help', 'learn')", name="kind_known"),
        Index("ix_member_skills_tag_id_kind", "tag_id", "kind"),
    )

    id: Mapped[IntPK]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[CreatedAt]

    user: Mapped[User] = relationship()
    tag: Mapped[Tag] = relationship()


class Mentorship(Base):
    """A mentee's request to a mentor; once accepted, an active pairing until one ends it.

    ``status`` is ``requested``, ``declined``, ``active`` or ``ended``. Each side may leave a
    rating (1–5) and a few words of feedback when the pairing ends.
    """

    __tablename__ = "mentorships"
    __table_args__ = (
        CheckConstraint("mentor_id <> mentee_id", name="not_self"),
        CheckConstraint(
            "status IN ('requested', 'declined', 'active', 'ended')", name="status_known"
        ),
        CheckConstraint("mentee_rating BETWEEN 1 AND 5", name="mentee_rating_range"),
        CheckConstraint("mentor_rating BETWEEN 1 AND 5", name="mentor_rating_range"),
        Index("ix_mentorships_mentor_id_status", "mentor_id", "status"),
        Index("ix_mentorships_mentee_id_status", "mentee_id", "status"),
    )

    id: Mapped[IntPK]
    mentor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    mentee_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    tag_id: Mapped[int | None] = mapped_column(ForeignKey("tags.id", ondelete="SET NULL"))
    goal: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    response_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[CreatedAt]
    responded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    mentee_rating: Mapped[int | None] = mapped_column(SmallInteger)
    mentee_feedback: Mapped[str | None] = mapped_column(Text)
    mentor_rating: Mapped[int | None] = mapped_column(SmallInteger)
    mentor_feedback: Mapped[str | None] = mapped_column(Text)

    mentor: Mapped[User] = relationship(foreign_keys=[mentor_id])
    mentee: Mapped[User] = relationship(foreign_keys=[mentee_id])
    tag: Mapped[Tag | None] = relationship()
    goals: Mapped[list[MentorshipGoal]] = relationship(
        back_populates="mentorship", order_by="MentorshipGoal.id", cascade="all, delete-orphan"
    )
    checkins: Mapped[list[CheckIn]] = relationship(
        back_populates="mentorship", order_by="CheckIn.id", cascade="all, delete-orphan"
    )

    def involves(self, user: User) -> bool:
        """True when ``user`` is the mentor or the mentee."""
        return user.id in (self.mentor_id, self.mentee_id)

    def __repr__(self) -> str:
        return f"<Mentorship {self.id} {self.status}>"


class MentorshipGoal(Base):
    """A goal the pair shares; either of them may add it or mark it reached."""

    __tablename__ = "mentorship_goals"
    __table_args__ = (Index("ix_mentorship_goals_mentorship_id", "mentorship_id"),)

    id: Mapped[IntPK]
    mentorship_id: Mapped[int] = mapped_column(ForeignKey("mentorships.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(String(300))
    done: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[CreatedAt]

    mentorship: Mapped[Mentorship] = relationship(back_populates="goals")


class CheckIn(Base):
    """A check-in note of a mentorship, in Markdown rendered once on save."""

    __tablename__ = "mentorship_checkins"
    __table_args__ = (Index("ix_mentorship_checkins_mentorship_id", "mentorship_id"),)

    id: Mapped[IntPK]
    mentorship_id: Mapped[int] = mapped_column(ForeignKey("mentorships.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body_md: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[CreatedAt]

    mentorship: Mapped[Mentorship] = relationship(back_populates="checkins")
    author: Mapped[User | None] = relationship()


class BuddyPair(Base):
    """A new member and the colleague who shows them around (one buddy per new member)."""

    __tablename__ = "buddy_pairs"
    __table_args__ = (
        UniqueConstraint("newcomer_id"),
        CheckConstraint("newcomer_id <> buddy_id", name="not_self"),
        Index("ix_buddy_pairs_buddy_id", "buddy_id"),
    )

    id: Mapped[IntPK]
    newcomer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    buddy_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    paired_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[CreatedAt]

    newcomer: Mapped[User] = relationship(foreign_keys=[newcomer_id])
    buddy: Mapped[User] = relationship(foreign_keys=[buddy_id])
    paired_by: Mapped[User | None] = relationship(foreign_keys=[paired_by_id])
