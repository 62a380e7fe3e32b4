"""Drafts: the text of a question, answer or article a member has not sent yet.

Revision ID: 0020_drafts
Revises: 0019_uploads
Create Date: 2026-12-07 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_drafts"
down_revision: str | None = "0019_uploads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the drafts table (one draft per member, kind and target) and each member's count
    of drafts, so that pages offer a draft without a query for the many who have none."""
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("draft_count", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("tags", sa.String(length=300), nullable=False),
        sa.Column("article_type", sa.String(length=10), nullable=False),
        sa.Column("base_revision", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_drafts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drafts")),
        sa.UniqueConstraint(
            "user_id", "kind", "target_id", name=op.f("uq_drafts_user_id_kind_target_id")
        ),
    )


def downgrade() -> None:
    """Drop the drafts and their count."""
    op.drop_table("drafts")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("draft_count")
