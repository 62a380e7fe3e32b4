"""Members' visits: when each was last seen and when their previous visit ended.

- ``users.last_seen_at``: moved forward when a login starts and when a login session is
  recorded as used (at most every few minutes), never on every request.
- ``users.previous_visit_at``: the end of the member's previous visit (the last time seen
  before a gap of an hour or more), which the front page's "since your last visit" counts from.

Revision ID: 0018_visits
Revises: 0017_cpu
Create Date: 2026-12-07 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_visits"
down_revision: str | None = "0017_cpu"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the two visit times (unknown for everyone until their next visit)."""
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("previous_visit_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop the visit times."""
    with op.batch_alter_table("users") as batch:
        batch.drop_column("previous_visit_at")
        batch.drop_column("last_seen_at")
