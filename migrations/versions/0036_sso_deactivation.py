"""Who deactivated a member: ``users.deactivated_by_sso``.

True while the member is deactivated because their company sign-in said they are no longer in
the group allowed to use forum; a later sign-in from that group reactivates them. False for
every other deactivation (an admin, the command line, SCIM), which only an admin undoes.

Revision ID: 0036_sso_deactivation
Revises: 0035_suggested_edits
Create Date: 2026-12-12 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0036_sso_deactivation"
down_revision: str | None = "0035_suggested_edits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column (False for every existing member)."""
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("deactivated_by_sso", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    """Drop the column."""
    with op.batch_alter_table("users") as batch:
        batch.drop_column("deactivated_by_sso")
