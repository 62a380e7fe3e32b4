"""Recognition: the reputation ledger and awarded badges.

Revision ID: 0005_recognition
Revises: 0004_search
Create Date: 2026-11-25 14:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_recognition"
down_revision: str | None = "0004_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "reputation_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("account", sa.String(length=16), nullable=False),
        sa.Column("cap_day", sa.Date(), nullable=True),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_reputation_events_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_reputation_events_post_id_posts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_reputation_events_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reputation_events")),
    )
    op.create_index("ix_reputation_events_post_id", "reputation_events", ["post_id"], unique=False)
    op.create_index(
        "ix_reputation_events_user_id_created_at",
        "reputation_events",
        ["user_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "badge_awards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("badge_key", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=80), server_default="", nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.Column("tag_id", sa.Integer(), nullable=True),
        sa.Column(
            "awarded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_badge_awards_post_id_posts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name=op.f("fk_badge_awards_tag_id_tags"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_badge_awards_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_badge_awards")),
        sa.UniqueConstraint(
            "user_id",
            "badge_key",
            "subject",
            name=op.f("uq_badge_awards_user_id_badge_key_subject"),
        ),
    )
    op.create_index(
        "ix_badge_awards_badge_key_awarded_at",
        "badge_awards",
        ["badge_key", "awarded_at"],
        unique=False,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_badge_awards_badge_key_awarded_at", table_name="badge_awards")
    op.drop_table("badge_awards")
    op.drop_index("ix_reputation_events_user_id_created_at", table_name="reputation_events")
    op.drop_index("ix_reputation_events_post_id", table_name="reputation_events")
    op.drop_table("reputation_events")
