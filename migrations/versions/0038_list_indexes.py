"""Stored tag counts and an index for the articles' "recently updated" list.

- ``tags.question_count`` and ``tags.article_count``: the live questions and articles carrying
  each tag, filled here from post_tags and kept by the app on every change; the tags directory
  and a tag's page read them instead of counting post_tags on every view.
- ``ix_posts_kind_updated_at``: /articles?sort=updated walks articles by their last update.

Revision ID: 0038_list_indexes
Revises: 0037_post_vectors
Create Date: 2026-12-07 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0038_list_indexes"
down_revision: str | None = "0037_post_vectors"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNT = """
    (SELECT count(*) FROM post_tags JOIN posts ON posts.id = post_tags.post_id
     WHERE post_tags.tag_id = tags.id AND posts.kind = '{kind}' AND posts.deleted_at IS NULL)
"""


def upgrade() -> None:
    """Add and fill the counts; create the index."""
    with op.batch_alter_table("tags") as batch:
        batch.add_column(
            sa.Column("question_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("article_count", sa.Integer(), nullable=False, server_default="0")
        )
    op.execute(
        "UPDATE tags SET question_count = "
        + COUNT.format(kind="question")
        + ", article_count = "
        + COUNT.format(kind="article")
    )
    op.create_index("ix_posts_kind_updated_at", "posts", ["kind", "updated_at"])


def downgrade() -> None:
    """Drop the index and the counts."""
    op.drop_index("ix_posts_kind_updated_at", table_name="posts")
    with op.batch_alter_table("tags") as batch:
        batch.drop_column("article_count")
        batch.drop_column("question_count")
