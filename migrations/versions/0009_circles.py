"""Learning circles: circles, members, sessions and workshops, RSVPs, ratings, resources, feeds.

Revision ID: 0009_circles
Revises: 0008_mentoring_paths
Create Date: 2026-11-25 16:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_circles"
down_revision: str | None = "0008_mentoring_paths"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _created(name: str = "created_at") -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "circles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description_md", sa.Text(), nullable=False),
        sa.Column("description_html", sa.Text(), nullable=False),
        sa.Column("facilitator_id", sa.Integer(), nullable=False),
        sa.Column("size_limit", sa.Integer(), nullable=False),
        _created(),
        _created("updated_at"),
        sa.CheckConstraint("size_limit >= 2", name=op.f("ck_circles_size_limit_at_least_two")),
        sa.ForeignKeyConstraint(
            ["facilitator_id"],
            ["users.id"],
            name=op.f("fk_circles_facilitator_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_circles")),
    )
    op.create_table(
        "circle_tags",
        sa.Column("circle_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["circle_id"],
            ["circles.id"],
            name=op.f("fk_circle_tags_circle_id_circles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name=op.f("fk_circle_tags_tag_id_tags"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("circle_id", "tag_id", name=op.f("pk_circle_tags")),
    )
    op.create_index("ix_circle_tags_tag_id", "circle_tags", ["tag_id"], unique=False)
    op.create_table(
        "circle_members",
        sa.Column("circle_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _created("joined_at"),
        sa.ForeignKeyConstraint(
            ["circle_id"],
            ["circles.id"],
            name=op.f("fk_circle_members_circle_id_circles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_circle_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("circle_id", "user_id", name=op.f("pk_circle_members")),
    )
    op.create_index("ix_circle_members_user_id", "circle_members", ["user_id"], unique=False)
    op.create_table(
        "circle_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("circle_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("meeting", "workshop", name="sessionkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=150), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("agenda_md", sa.Text(), nullable=False),
        sa.Column("agenda_html", sa.Text(), nullable=False),
        sa.Column("notes_md", sa.Text(), nullable=True),
        sa.Column("notes_html", sa.Text(), nullable=True),
        sa.Column("presenter_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("sequence", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        _created(),
        _created("updated_at"),
        sa.CheckConstraint(
            "duration_minutes > 0", name=op.f("ck_circle_sessions_duration_positive")
        ),
        sa.ForeignKeyConstraint(
            ["circle_id"],
            ["circles.id"],
            name=op.f("fk_circle_sessions_circle_id_circles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_circle_sessions_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["presenter_id"],
            ["users.id"],
            name=op.f("fk_circle_sessions_presenter_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_circle_sessions")),
    )
    op.create_index(
        "ix_circle_sessions_circle_id_starts_at",
        "circle_sessions",
        ["circle_id", "starts_at"],
        unique=False,
    )
    op.create_table(
        "circle_rsvps",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "response",
            sa.Enum("yes", "maybe", "no", name="rsvpresponse", native_enum=False, length=8),
            nullable=False,
        ),
        _created("updated_at"),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["circle_sessions.id"],
            name=op.f("fk_circle_rsvps_session_id_circle_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_circle_rsvps_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "user_id", name=op.f("pk_circle_rsvps")),
    )
    op.create_index("ix_circle_rsvps_user_id", "circle_rsvps", ["user_id"], unique=False)
    op.create_table(
        "workshop_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        _created(),
        _created("updated_at"),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_workshop_ratings_rating_range")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["circle_sessions.id"],
            name=op.f("fk_workshop_ratings_session_id_circle_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_workshop_ratings_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workshop_ratings")),
        sa.UniqueConstraint(
            "session_id", "user_id", name=op.f("uq_workshop_ratings_session_id_user_id")
        ),
    )
    op.create_index("ix_workshop_ratings_user_id", "workshop_ratings", ["user_id"], unique=False)
    op.create_table(
        "circle_resources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("circle_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        _created(),
        sa.ForeignKeyConstraint(
            ["added_by_id"],
            ["users.id"],
            name=op.f("fk_circle_resources_added_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["circle_id"],
            ["circles.id"],
            name=op.f("fk_circle_resources_circle_id_circles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_circle_resources_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_circle_resources")),
        sa.UniqueConstraint(
            "circle_id", "post_id", name=op.f("uq_circle_resources_circle_id_post_id")
        ),
    )
    op.create_index("ix_circle_resources_post_id", "circle_resources", ["post_id"], unique=False)
    op.create_table(
        "calendar_tokens",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        _created(),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_calendar_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_calendar_tokens")),
        sa.UniqueConstraint("token", name=op.f("uq_calendar_tokens_token")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("calendar_tokens")
    op.drop_index("ix_circle_resources_post_id", table_name="circle_resources")
    op.drop_table("circle_resources")
    op.drop_index("ix_workshop_ratings_user_id", table_name="workshop_ratings")
    op.drop_table("workshop_ratings")
    op.drop_index("ix_circle_rsvps_user_id", table_name="circle_rsvps")
    op.drop_table("circle_rsvps")
    op.drop_index("ix_circle_sessions_circle_id_starts_at", table_name="circle_sessions")
    op.drop_table("circle_sessions")
    op.drop_index("ix_circle_members_user_id", table_name="circle_members")
    op.drop_table("circle_members")
    op.drop_index("ix_circle_tags_tag_id", table_name="circle_tags")
    op.drop_table("circle_tags")
    op.drop_table("circles")
