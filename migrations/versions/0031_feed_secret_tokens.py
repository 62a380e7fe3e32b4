"""Feed secrets: the feed_tokens table.

- ``feed_tokens``: user_id (primary key; deleted with the member), token (unique, the secret
  that feed addresses carry on a members-only site), created_at.

Revision ID: 0031_feed_secret_tokens
Revises: 0030_sso_identities
Create Date: 2026-12-07 05:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031_feed_secret_tokens"
down_revision: str | None = "0030_sso_identities"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table (empty: secrets are made on first use)."""
    op.create_table(
        "feed_tokens",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_feed_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_feed_tokens")),
        sa.UniqueConstraint("token", name=op.f("uq_feed_tokens_token")),
    )


def downgrade() -> None:
    """Drop the table."""
    op.drop_table("feed_tokens")
