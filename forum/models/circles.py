"""Learning circles: small groups with a facilitator, their meetings and peer-led workshops."""

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
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import Base, CreatedAt, IntPK, UpdatedAt, value_enum
from forum.models.posts import Post, Tag
from forum.models.users import User


class SessionKind(enum.StrEnum):
    """A circle meeting, or a workshop where one member presents."""

    MEETING = "meeting"
    WORKSHOP = "workshop"


class RsvpResponse(enum.StrEnum):
    """A member's answer to "will you come?"."""

    YES = "yes"
    MAYBE = "maybe"
    NO = "no"


circle_tags = Table(
    "circle_tags",
    Base.metadata,
    Column("circle_id", ForeignKey("circles.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_circle_tags_tag_id", "tag_id"),
)


class Circle(Base):
    """A small learning group around some topics, led by its facilitator."""

    __tablename__ = "circles"
    __table_args__ = (CheckConstraint("size_limit >= 2", name="size_limit_at_least_two"),)

    id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(String(100))
    description_md: Mapped[str] = mapped_column(Text, default="")
    # Rendered and sanitised once on save; the only circle HTML a template may mark safe.
    description_html: Mapped[str] = mapped_column(Text, default="")
    facilitator_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    size_limit: Mapped[int] = mapped_column(default=8)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]

    facilitator: Mapped[User] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=circle_tags, order_by=Tag.name)

    def __repr__(self) -> str:
        return f"<Circle {self.id} {self.name!r}>"


class CircleMember(Base):
    """A member of a circle (the facilitator is one too)."""

    __tablename__ = "circle_members"
    __table_args__ = (Index("ix_circle_members_user_id", "user_id"),)

    circle_id: Mapped[int] = mapped_column(
        ForeignKey("circles.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    joined_at: Mapped[CreatedAt]

    user: Mapped[User] = relationship()


class CircleSession(Base):
    """A meeting or workshop of a circle; ``starts_at`` is stored in UTC.

    ``timezone`` is the IANA zone the facilitator scheduled in: pages and calendar feeds
    show the start in it. ``sequence`` counts changes, as iCalendar's SEQUENCE.
    """

    __tablename__ = "circle_sessions"
    __table_args__ = (
        Index("ix_circle_sessions_circle_id_starts_at", "circle_id", "starts_at"),
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
    )

    id: Mapped[IntPK]
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"))
    kind: Mapped[SessionKind] = mapped_column(
        value_enum(SessionKind, 16), default=SessionKind.MEETING
    )
    title: Mapped[str] = mapped_column(String(150))
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    timezone: Mapped[str] = mapped_column(String(64))
    duration_minutes: Mapped[int] = mapped_column(default=60)
    location: Mapped[str | None] = mapped_column(String(200))
    link: Mapped[str | None] = mapped_column(String(500))
    agenda_md: Mapped[str] = mapped_column(Text, default="")
    agenda_html: Mapped[str] = mapped_column(Text, default="")
    notes_md: Mapped[str | None] = mapped_column(Text)
    notes_html: Mapped[str | None] = mapped_column(Text)
    presenter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sequence: Mapped[int] = mapped_column(default=0, server_default="0")
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: The start time its members were last reminded of (a new time reminds them again).
    reminded_for: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]

    circle: Mapped[Circle] = relationship()
    presenter: Mapped[User | None] = relationship(foreign_keys=[presenter_id])

    @property
    def is_workshop(self) -> bool:
        """True for a peer-led workshop."""
        return self.kind is SessionKind.WORKSHOP

    @property
    def is_cancelled(self) -> bool:
        """True once the facilitator has called it off."""
        return self.cancelled_at is not None

    def __repr__(self) -> str:
        return f"<CircleSession {self.id} {self.kind} {self.title!r}>"


class Rsvp(Base):
    """A member's yes, maybe or no to one circle session."""

    __tablename__ = "circle_rsvps"
    __table_args__ = (Index("ix_circle_rsvps_user_id", "user_id"),)

    session_id: Mapped[int] = mapped_column(
        ForeignKey("circle_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    response: Mapped[RsvpResponse] = mapped_column(value_enum(RsvpResponse, 8))
    updated_at: Mapped[UpdatedAt]

    user: Mapped[User] = relationship()


class Attendance(Base):
    """The facilitator's record of whether a member came to a session.

    A row overrides the member's RSVP: ``present`` false marks someone who said yes as absent.
    """

    __tablename__ = "circle_attendance"
    __table_args__ = (Index("ix_circle_attendance_user_id", "user_id"),)

    session_id: Mapped[int] = mapped_column(
        ForeignKey("circle_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    present: Mapped[bool] = mapped_column(default=True)
    marked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[UpdatedAt]


class WorkshopRating(Base):
    """An attendee's 1–5 rating of a workshop, with an optional comment; one per attendee."""

    __tablename__ = "workshop_ratings"
    __table_args__ = (
        UniqueConstraint("session_id", "user_id"),
        Index("ix_workshop_ratings_user_id", "user_id"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
    )

    id: Mapped[IntPK]
    session_id: Mapped[int] = mapped_column(ForeignKey("circle_sessions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    rating: Mapped[int] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]

    user: Mapped[User] = relationship()


class CircleResource(Base):
    """An article or question linked from a circle's page."""

    __tablename__ = "circle_resources"
    __table_args__ = (
        UniqueConstraint("circle_id", "post_id"),
        Index("ix_circle_resources_post_id", "post_id"),
    )

    id: Mapped[IntPK]
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"))
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[CreatedAt]

    post: Mapped[Post] = relationship()
    added_by: Mapped[User | None] = relationship()


class CalendarToken(Base):
    """A member's secret for their personal calendar feed (subscribed to without a login)."""

    __tablename__ = "calendar_tokens"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[CreatedAt]

    user: Mapped[User] = relationship()
