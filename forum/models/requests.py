"""Tutorial requests: a member asks for a tutorial on a topic, colleagues +1 it."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import Base, CreatedAt, IntPK, value_enum
from forum.models.posts import Post, Tag
from forum.models.users import User


class RequestStatus(enum.StrEnum):
    """Open; proposed (an author named an article, awaiting confirmation); fulfilled."""

    OPEN = "open"
    PROPOSED = "proposed"
    FULFILLED = "fulfilled"


tutorial_request_tags = Table(
    "tutorial_request_tags",
    Base.metadata,
    Column("request_id", ForeignKey("tutorial_requests.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_tutorial_request_tags_tag_id", "tag_id"),
)


class TutorialRequest(Base):
    """A request for a tutorial on a topic; ``plus_count`` counts its +1s."""

    __tablename__ = "tutorial_requests"
    __table_args__ = (Index("ix_tutorial_requests_status_plus_count", "status", "plus_count"),)

    id: Mapped[IntPK]
    title: Mapped[str] = mapped_column(String(150))
    details_md: Mapped[str] = mapped_column(Text, default="")
    # Rendered and sanitised once on save; the only request HTML a template may mark safe.
    details_html: Mapped[str] = mapped_column(Text, default="")
    requester_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[RequestStatus] = mapped_column(
        value_enum(RequestStatus, 16),
        default=RequestStatus.OPEN,
        server_default=RequestStatus.OPEN.value,
    )
    plus_count: Mapped[int] = mapped_column(default=0, server_default="0")
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", ondelete="SET NULL"), index=True
    )
    fulfilled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    fulfilled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[CreatedAt]

    requester: Mapped[User | None] = relationship(foreign_keys=[requester_id])
    fulfilled_by: Mapped[User | None] = relationship(foreign_keys=[fulfilled_by_id])
    article: Mapped[Post | None] = relationship(foreign_keys=[article_id])
    tags: Mapped[list[Tag]] = relationship(secondary=tutorial_request_tags, order_by=Tag.name)

    @property
    def is_open(self) -> bool:
        """True until the requester or a moderator confirms an article fulfils the request."""
        return self.status is not RequestStatus.FULFILLED

    @property
    def is_proposed(self) -> bool:
        """An article is proposed and waits for the requester's or a moderator's confirmation."""
        return self.status is RequestStatus.PROPOSED

    def __repr__(self) -> str:
        return f"<TutorialRequest {self.id}>"


class TutorialRequestVote(Base):
    """One member's +1 on someone else's tutorial request."""

    __tablename__ = "tutorial_request_votes"
    __table_args__ = (
        UniqueConstraint("request_id", "user_id"),
        Index("ix_tutorial_request_votes_user_id", "user_id"),
    )

    id: Mapped[IntPK]
    request_id: Mapped[int] = mapped_column(ForeignKey("tutorial_requests.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[CreatedAt]
