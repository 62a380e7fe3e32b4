"""Learning paths: ordered articles and questions members enrol in and work through."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from forum.db import Base, CreatedAt, IntPK, UpdatedAt
from forum.models.posts import Post
from forum.models.users import User


class LearningPath(Base):
    """A curated, ordered list of posts; a department may suggest one to its new members."""

    __tablename__ = "learning_paths"

    id: Mapped[IntPK]
    title: Mapped[str] = mapped_column(String(200))
    description_md: Mapped[str] = mapped_column(Text, default="")
    description_html: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # At most one onboarding path per department (NULLs don't collide).
    onboarding_department: Mapped[str | None] = mapped_column(String(80), unique=True)
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[UpdatedAt]

    owner: Mapped[User | None] = relationship()
    steps: Mapped[list[PathStep]] = relationship(
        back_populates="path",
        order_by=lambda: (PathStep.position, PathStep.id),
        cascade="all, delete-orphan",
    )

    def __repr__(self) -> str:
        return f"<LearningPath {self.id}>"


class PathStep(Base):
    """One article or question of a path, at a position (lowest first)."""

    __tablename__ = "path_steps"
    __table_args__ = (
        UniqueConstraint("path_id", "post_id"),
        Index("ix_path_steps_post_id", "post_id"),
    )

    id: Mapped[IntPK]
    path_id: Mapped[int] = mapped_column(ForeignKey("learning_paths.id", ondelete="CASCADE"))
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[CreatedAt]

    path: Mapped[LearningPath] = relationship(back_populates="steps")
    post: Mapped[Post] = relationship()


class PathEnrolment(Base):
    """A member working through a path; ``completed_at`` is set when every step is done."""

    __tablename__ = "path_enrolments"
    __table_args__ = (
        UniqueConstraint("path_id", "user_id"),
        Index("ix_path_enrolments_user_id", "user_id"),
    )

    id: Mapped[IntPK]
    path_id: Mapped[int] = mapped_column(ForeignKey("learning_paths.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[CreatedAt]
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    path: Mapped[LearningPath] = relationship()
    user: Mapped[User] = relationship()


class StepCompletion(Base):
    """A step an enrolled member ticked as done."""

    __tablename__ = "path_step_completions"
    __table_args__ = (
        UniqueConstraint("enrolment_id", "step_id"),
        Index("ix_path_step_completions_step_id", "step_id"),
    )

    id: Mapped[IntPK]
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("path_enrolments.id", ondelete="CASCADE"))
    step_id: Mapped[int] = mapped_column(ForeignKey("path_steps.id", ondelete="CASCADE"))
    created_at: Mapped[CreatedAt]
