"""Outbox quarantine and per-member, per-day zero-result searches.

- ``search_outbox``: ``attempts``, ``quarantined_at`` and ``last_error``, so a row whose
  document fails to build is set aside (and reported) instead of being retried by every drain.
- ``zero_result_queries``: ``user_id``, ``normalized`` and ``day``, unique together, so a member
  counts once per normalised query and day; existing rows get their normalised text and day.

Revision ID: 0017_cpu
Revises: 0016_sessions
Create Date: 2026-12-06 18:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_cpu"
down_revision: str | None = "0016_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the quarantine columns and the zero-result searcher, normalised text and day."""
    with op.batch_alter_table("search_outbox") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_error", sa.String(length=500), nullable=True))
    with op.batch_alter_table("zero_result_queries") as batch:
        batch.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("normalized", sa.String(length=500), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("day", sa.Date(), nullable=True))
        batch.create_foreign_key(
            "fk_zero_result_queries_user_id_users", "users", ["user_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_unique_constraint(
            "uq_zero_result_queries_user_id_normalized_day", ["user_id", "normalized", "day"]
        )
    # Existing rows: lower case (spacing is left as it was), and the day they were made.
    sqlite = op.get_bind().dialect.name == "sqlite"
    day = "date(created_at)" if sqlite else "CAST(created_at AS DATE)"
    op.execute(f"UPDATE zero_result_queries SET normalized = lower(query), day = {day}")


def downgrade() -> None:
    """Drop the added columns."""
    with op.batch_alter_table("zero_result_queries") as batch:
        batch.drop_constraint("uq_zero_result_queries_user_id_normalized_day", type_="unique")
        batch.drop_constraint("fk_zero_result_queries_user_id_users", type_="foreignkey")
        batch.drop_column("day")
        batch.drop_column("normalized")
        batch.drop_column("user_id")
    with op.batch_alter_table("search_outbox") as batch:
        batch.drop_column("last_error")
        batch.drop_column("quarantined_at")
        batch.drop_column("attempts")
