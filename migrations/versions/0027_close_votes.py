"""Vote to close: privileged members' votes to close an open question or reopen a closed one.

A vote stays pending (``settled_at`` empty) until the question closes or reopens; a partial
unique index keeps one pending vote of each kind per member and question.

Revision ID: 0027_close_votes
Revises: 0026_access_tokens
Create Date: 2026-12-12 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027_close_votes"
down_revision: str | None = "0026_access_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("settled_at IS NULL")


def upgrade() -> None:
    """Create the votes table (empty: nobody has voted yet)."""
    op.create_table(
        "close_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("voter_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("duplicate_of_id", sa.Integer(), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("kind IN ('close', 'reopen')", name=op.f("ck_close_votes_kind")),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["posts.id"],
            name=op.f("fk_close_votes_question_id_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["voter_id"],
            ["users.id"],
            name=op.f("fk_close_votes_voter_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"],
            ["posts.id"],
            name=op.f("fk_close_votes_duplicate_of_id_posts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_close_votes")),
    )
    op.create_index("ix_close_votes_question_id", "close_votes", ["question_id"], unique=False)
    op.create_index("ix_close_votes_voter_id", "close_votes", ["voter_id"], unique=False)
    op.create_index(
        "uq_close_votes_pending",
        "close_votes",
        ["question_id", "voter_id", "kind"],
        unique=True,
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    """Drop the votes."""
    op.drop_index("uq_close_votes_pending", table_name="close_votes")
    op.drop_index("ix_close_votes_voter_id", table_name="close_votes")
    op.drop_index("ix_close_votes_question_id", table_name="close_votes")
    op.drop_table("close_votes")
