"""Members who come and go: when a member was deactivated, and claim links.

- ``users.deactivated_at``: when an admin last deactivated the member (``is_active`` says
  whether they are deactivated now).
- ``claim_links``: single-use links that let a member imported without a password set one;
  only the SHA-256 of each link's secret is kept.

Revision ID: 0024_claim_links
Revises: 0023_webhooks_hooks
Create Date: 2026-12-16 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_claim_links"
down_revision: str | None = "0023_webhooks_hooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column and create ``claim_links``."""
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "claim_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_claim_links_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_claim_links_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_claim_links_token_hash")),
    )
    op.create_index(op.f("ix_claim_links_user_id"), "claim_links", ["user_id"], unique=False)


def downgrade() -> None:
    """Drop ``claim_links`` and the column."""
    op.drop_index(op.f("ix_claim_links_user_id"), table_name="claim_links")
    op.drop_table("claim_links")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("deactivated_at")
