"""Imports: the source-to-local id map, post attribution and related-post links.

Revision ID: 0006_import
Revises: 0005_recognition
Create Date: 2026-11-25 14:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_import"
down_revision: str | None = "0005_recognition"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "import_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("local_id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_records")),
        sa.UniqueConstraint(
            "site", "kind", "external_id", name=op.f("uq_import_records_site_kind_external_id")
        ),
    )
    op.create_table(
        "post_attributions",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("site", sa.String(length=100), nullable=False),
        sa.Column("source_url", sa.String(length=300), nullable=False),
        sa.Column("author_name", sa.String(length=100), nullable=True),
        sa.Column("author_url", sa.String(length=300), nullable=True),
        sa.Column("license", sa.String(length=32), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_post_attributions_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("post_id", name=op.f("pk_post_attributions")),
    )
    op.create_table(
        "related_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("related_post_id", sa.Integer(), nullable=False),
        sa.Column("link_type", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_related_posts_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["related_post_id"],
            ["posts.id"],
            name=op.f("fk_related_posts_related_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_related_posts")),
        sa.UniqueConstraint(
            "post_id", "related_post_id", name=op.f("uq_related_posts_post_id_related_post_id")
        ),
    )
    op.create_index(
        "ix_related_posts_related_post_id", "related_posts", ["related_post_id"], unique=False
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_related_posts_related_post_id", table_name="related_posts")
    op.drop_table("related_posts")
    op.drop_table("post_attributions")
    op.drop_table("import_records")
