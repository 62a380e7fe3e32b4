"""A GIN index on ``search_documents.title_document``.

Similar questions for a typed title rank the posts whose title and tags share its words: with
this index they are found without reading every document that has one of the words anywhere
(a title's common words match most documents, each read out of line: about a second at 100k
posts).

Revision ID: 0039_pgvec_title_index
Revises: 0038_list_indexes
Create Date: 2026-12-07 14:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0039_pgvec_title_index"
down_revision: str | None = "0038_list_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the index (GIN on PostgreSQL; plain on the unused SQLite table)."""
    op.create_index(
        "ix_search_documents_title_document",
        "search_documents",
        ["title_document"],
        unique=False,
        postgresql_using="gin",
    )


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_search_documents_title_document", table_name="search_documents")
