"""Indexes for the questions asked about one member (badge rules after every post, profiles).

- ``ix_posts_author_kind_score`` replaces ``ix_posts_author_id``: "this member's answers with a
  score of at least N" was answered by walking every answer with that score (the kind and
  score index) instead of the member's own posts.
- ``ix_revisions_editor_id``: "this member's edits and reviews" read every revision.
- ``ix_comments_author_id``: "this member's comments with a score of at least N" read every
  comment.

Revision ID: 0014_member_indexes
Revises: 0013_performance
Create Date: 2026-11-25 20:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014_member_indexes"
down_revision: str | None = "0013_performance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the member indexes; the author one supersedes the single-column index."""
    op.create_index("ix_posts_author_kind_score", "posts", ["author_id", "kind", "score"])
    op.drop_index("ix_posts_author_id", table_name="posts")
    op.create_index("ix_revisions_editor_id", "revisions", ["editor_id"])
    op.create_index("ix_comments_author_id", "comments", ["author_id"])


def downgrade() -> None:
    """Back to the single-column author index."""
    op.drop_index("ix_comments_author_id", table_name="comments")
    op.drop_index("ix_revisions_editor_id", table_name="revisions")
    op.create_index("ix_posts_author_id", "posts", ["author_id"])
    op.drop_index("ix_posts_author_kind_score", table_name="posts")
