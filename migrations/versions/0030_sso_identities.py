"""Single sign-on: the identities table.

- ``identities``: id, provider ('oidc' or 'ldap'), subject (the provider's stable id for the
  account), user_id (the member it signs in as; deleted with the member), created_at,
  last_login_at. (provider, subject) is unique.

Revision ID: 0030_sso_identities
Revises: 0029_access_registration
Create Date: 2026-12-10 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030_sso_identities"
down_revision: str | None = "0029_access_registration"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table (empty: nobody has signed in through a provider yet)."""
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_identities_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identities")),
        sa.UniqueConstraint("provider", "subject", name=op.f("uq_identities_provider_subject")),
    )
    op.create_index(op.f("ix_identities_user_id"), "identities", ["user_id"], unique=False)


def downgrade() -> None:
    """Drop the table."""
    op.drop_index(op.f("ix_identities_user_id"), table_name="identities")
    op.drop_table("identities")
