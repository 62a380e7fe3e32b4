"""Tutorial requests, their tags and their +1s.

Revision ID: 0012_requests
Revises: 0011_moderation
Create Date: 2026-11-25 16:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_requests"
down_revision: str | None = "0011_moderation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "tutorial_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=150), nullable=False),
        sa.Column("details_md", sa.Text(), nullable=False),
        sa.Column("details_html", sa.Text(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("open", "fulfilled", name="requeststatus", native_enum=False, length=16),
            server_default="open",
            nullable=False,
        ),
        sa.Column("plus_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("fulfilled_by_id", sa.Integer(), nullable=True),
        sa.Column("fulfilled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["posts.id"],
            name=op.f("fk_tutorial_requests_article_id_posts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["fulfilled_by_id"],
            ["users.id"],
            name=op.f("fk_tutorial_requests_fulfilled_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["users.id"],
            name=op.f("fk_tutorial_requests_requester_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tutorial_requests")),
    )
    op.create_index(
        op.f("ix_tutorial_requests_article_id"), "tutorial_requests", ["article_id"], unique=False
    )
    op.create_index(
        op.f("ix_tutorial_requests_requester_id"),
        "tutorial_requests",
        ["requester_id"],
        unique=False,
    )
    op.create_index(
        "ix_tutorial_requests_status_plus_count",
        "tutorial_requests",
        ["status", "plus_count"],
        unique=False,
    )
    op.create_table(
        "tutorial_request_tags",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["tutorial_requests.id"],
            name=op.f("fk_tutorial_request_tags_request_id_tutorial_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["tags.id"],
            name=op.f("fk_tutorial_request_tags_tag_id_tags"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", "tag_id", name=op.f("pk_tutorial_request_tags")),
    )
    op.create_index(
        "ix_tutorial_request_tags_tag_id", "tutorial_request_tags", ["tag_id"], unique=False
    )
    op.create_table(
        "tutorial_request_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["tutorial_requests.id"],
            name=op.f("fk_tutorial_request_votes_request_id_tutorial_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_tutorial_request_votes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tutorial_request_votes")),
        sa.UniqueConstraint(
            "request_id", "user_id", name=op.f("uq_tutorial_request_votes_request_id_user_id")
        ),
    )
    op.create_index(
        "ix_tutorial_request_votes_user_id", "tutorial_request_votes", ["user_id"], unique=False
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_tutorial_request_votes_user_id", table_name="tutorial_request_votes")
    op.drop_table("tutorial_request_votes")
    op.drop_index("ix_tutorial_request_tags_tag_id", table_name="tutorial_request_tags")
    op.drop_table("tutorial_request_tags")
    op.drop_index("ix_tutorial_requests_status_plus_count", table_name="tutorial_requests")
    op.drop_index(op.f("ix_tutorial_requests_requester_id"), table_name="tutorial_requests")
    op.drop_index(op.f("ix_tutorial_requests_article_id"), table_name="tutorial_requests")
    op.drop_table("tutorial_requests")
