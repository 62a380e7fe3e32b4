"""Articles' life cycle: unpublished drafts, and owners told once when an article goes stale.

- ``posts.unpublished_at``: when the owner or a moderator took the article back to a draft.
  An unpublished article is also removed (``deleted_at``), so every list, search and wiki link
  leaves it out; this column tells it from a deleted one, so it can be published again.
- ``posts.stale_notified_at``: when the owner was last told that the article is past its
  review-by date; told again only after the date moved on (an edit or a review).

Revision ID: 0022_article_life
Revises: 0021_departments
Create Date: 2026-12-09 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_article_life"
down_revision: str | None = "0021_departments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the two times (empty: every article is published and nobody was told yet)."""
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("unpublished_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("stale_notified_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    """Drop the two times."""
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("stale_notified_at")
        batch.drop_column("unpublished_at")
