"""Suggested edits: proposed changes to others' questions and answers, and their review.

- ``suggested_edits``: id, post_id, proposer_id (both deleted with their row), title, body_md,
  tags_text, summary, base_revision (the post's revision the proposal was written against),
  status (pending, approved, rejected or superseded; one pending per post), reviewer_id,
  review_comment, revision_number (the revision an approval recorded), reviewed_at, created_at.

Revision ID: 0035_suggested_edits
Revises: 0034_bounties
Create Date: 2026-12-07 07:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0035_suggested_edits"
down_revision: str | None = "0034_bounties"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    """Create the table (empty: nobody has suggested an edit yet)."""
    op.create_table(
        "suggested_edits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("proposer_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("body_md", sa.Text(), nullable=False),
        sa.Column("tags_text", sa.String(length=400), nullable=False),
        sa.Column("summary", sa.String(length=300), nullable=False),
        sa.Column("base_revision", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("review_comment", sa.String(length=500), server_default="", nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'superseded')",
            name=op.f("ck_suggested_edits_status"),
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_suggested_edits_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["proposer_id"],
            ["users.id"],
            name=op.f("fk_suggested_edits_proposer_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["users.id"],
            name=op.f("fk_suggested_edits_reviewer_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggested_edits")),
    )
    op.create_index("ix_suggested_edits_status", "suggested_edits", ["status"], unique=False)
    op.create_index(
        "ix_suggested_edits_proposer_id", "suggested_edits", ["proposer_id"], unique=False
    )
    op.create_index(
        "uq_suggested_edits_pending",
        "suggested_edits",
        ["post_id"],
        unique=True,
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    """Drop the table."""
    op.drop_index("uq_suggested_edits_pending", table_name="suggested_edits")
    op.drop_index("ix_suggested_edits_proposer_id", table_name="suggested_edits")
    op.drop_index("ix_suggested_edits_status", table_name="suggested_edits")
    op.drop_table("suggested_edits")
