"""Circle attendance and the stems of zero-result searches.

- ``circle_attendance``: session_id, user_id (primary key), present, marked_by_id (the
  facilitator or moderator who ticked the checklist; kept empty if they are deleted),
  updated_at. A row overrides the member's RSVP when deciding who may rate a workshop.
- ``zero_result_queries.stems``: the query's content words, stemmed and sorted, so "deploying
  docker" and "docker deployment" group together on the gaps page. Existing rows keep an empty
  value and are grouped by their lower-case query instead.

Revision ID: 0032_attendance
Revises: 0031_feed_secret_tokens
Create Date: 2026-12-11 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032_attendance"
down_revision: str | None = "0031_feed_secret_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the attendance table and add the stems column."""
    op.create_table(
        "circle_attendance",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.Column("marked_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["circle_sessions.id"],
            name=op.f("fk_circle_attendance_session_id_circle_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_circle_attendance_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["marked_by_id"],
            ["users.id"],
            name=op.f("fk_circle_attendance_marked_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("session_id", "user_id", name=op.f("pk_circle_attendance")),
    )
    op.create_index(
        "ix_circle_attendance_user_id", "circle_attendance", ["user_id"], unique=False
    )
    op.add_column(
        "zero_result_queries",
        sa.Column("stems", sa.String(length=500), server_default="", nullable=False),
    )


def downgrade() -> None:
    """Drop the column and the table."""
    with op.batch_alter_table("zero_result_queries") as batch:
        batch.drop_column("stems")
    op.drop_index("ix_circle_attendance_user_id", table_name="circle_attendance")
    op.drop_table("circle_attendance")
