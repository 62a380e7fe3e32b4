"""Bounties: reputation offered on a question for a week, awarded to an answer.

- ``bounties``: id, question_id, open_question_id (the question while open, unique: one open
  bounty per question), offerer_id, amount, reason, status (open, awarded, auto-awarded,
  expired), started_at, ends_at, settled_at, awarded_answer_id, recipient_id, awarded_amount.

Revision ID: 0034_bounties
Revises: 0033_two_factor
Create Date: 2026-12-12 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034_bounties"
down_revision: str | None = "0033_two_factor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table (empty: no bounty yet)."""
    op.create_table(
        "bounties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("open_question_id", sa.Integer(), nullable=True),
        sa.Column("offerer_id", sa.Integer(), nullable=True),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "awarded",
                "auto-awarded",
                "expired",
                name="bountystatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("awarded_answer_id", sa.Integer(), nullable=True),
        sa.Column("recipient_id", sa.Integer(), nullable=True),
        sa.Column("awarded_amount", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_bounties_amount_positive")),
        sa.CheckConstraint(
            "awarded_amount >= 0", name=op.f("ck_bounties_awarded_amount_nonnegative")
        ),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["posts.id"],
            name=op.f("fk_bounties_question_id_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["open_question_id"],
            ["posts.id"],
            name=op.f("fk_bounties_open_question_id_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["offerer_id"],
            ["users.id"],
            name=op.f("fk_bounties_offerer_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["awarded_answer_id"],
            ["posts.id"],
            name=op.f("fk_bounties_awarded_answer_id_posts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["users.id"],
            name=op.f("fk_bounties_recipient_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bounties")),
        sa.UniqueConstraint("open_question_id", name=op.f("uq_bounties_open_question_id")),
    )
    op.create_index("ix_bounties_question_id", "bounties", ["question_id"], unique=False)
    op.create_index("ix_bounties_status_ends_at", "bounties", ["status", "ends_at"], unique=False)
    op.create_index("ix_bounties_offerer_id", "bounties", ["offerer_id"], unique=False)
    op.create_index("ix_bounties_recipient_id", "bounties", ["recipient_id"], unique=False)


def downgrade() -> None:
    """Drop the table (the ledger keeps its bounty events)."""
    op.drop_table("bounties")
