"""Post vectors for semantic ranking.

- ``post_vectors``: post_id (primary key; deleted with the post), model_key (model name and
  version), content_hash (of the model key and the text embedded), vector (float16 bytes),
  embedding, updated_at. On PostgreSQL where the pgvector extension can be created,
  ``embedding`` is ``vector(384)`` with an HNSW index (cosine); elsewhere it is plain bytes,
  unused, and semantic ranking on PostgreSQL reports itself off.

Revision ID: 0037_post_vectors
Revises: 0036_sso_deactivation
Create Date: 2026-12-12 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0037_post_vectors"
down_revision: str | None = "0036_sso_deactivation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _pgvector(bind: sa.engine.Connection) -> bool:
    """Create the extension when the server has it and we may; say whether it is there."""
    available = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
    ).scalar()
    if not available:
        return False
    savepoint = bind.begin_nested()
    try:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS vector"))
        savepoint.commit()
        return True
    except sa.exc.DBAPIError:
        savepoint.rollback()  # no right to create it: semantic ranking stays off
        return False


def upgrade() -> None:
    """Create the table (empty: `forum search sync` or the outbox fill it)."""
    bind = op.get_bind()
    pgvector = bind.dialect.name == "postgresql" and _pgvector(bind)
    op.create_table(
        "post_vectors",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("model_key", sa.String(length=80), nullable=False),
        sa.Column("content_hash", sa.String(length=40), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_post_vectors_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("post_id", name=op.f("pk_post_vectors")),
    )
    if pgvector:
        op.execute("ALTER TABLE post_vectors ALTER COLUMN embedding TYPE vector(384) USING NULL")
        op.execute(
            "CREATE INDEX ix_post_vectors_embedding ON post_vectors"
            " USING hnsw (embedding vector_cosine_ops)"
        )
    else:
        op.create_index("ix_post_vectors_embedding", "post_vectors", ["embedding"])


def downgrade() -> None:
    """Drop the table (the extension stays: other objects may use it)."""
    op.drop_index("ix_post_vectors_embedding", table_name="post_vectors")
    op.drop_table("post_vectors")
