"""Indexes for the busiest pages at 100k posts: question lists and the question page.

- ``ix_posts_kind_last_activity_at``: the "Active" list walks questions by last activity.
- ``ix_posts_kind_score_created_at``: the "Top" lists walk questions by score, newest first.
- ``ix_posts_duplicate_of_id``: the question page lists the questions closed as its duplicates.

Revision ID: 0013_performance
Revises: 0012_requests
Create Date: 2026-11-25 16:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013_performance"
down_revision: str | None = "0012_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_posts_kind_last_activity_at": ["kind", "last_activity_at"],
    "ix_posts_kind_score_created_at": ["kind", "score", "created_at"],
    "ix_posts_duplicate_of_id": ["duplicate_of_id"],
}


def upgrade() -> None:
    """Create the indexes."""
    for name, columns in INDEXES.items():
        op.create_index(name, "posts", columns)


def downgrade() -> None:
    """Drop the indexes."""
    for name in INDEXES:
        op.drop_index(name, table_name="posts")
