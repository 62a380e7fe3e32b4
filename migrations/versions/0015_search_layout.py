"""PostgreSQL search documents: a narrow heap and a title vector for choosing what to rank.

- ``title_document``: the title and tag words alone (small, kept in the row), so a search can
  tell which matches have a query word in the title without reading the whole document.
- ``document`` and ``body`` are stored out of line and uncompressed (``STORAGE EXTERNAL``,
  ``toast_tuple_target = 512``): counting and faceting the matches reads rows of a few hundred
  bytes instead of 1.3 kB, and only the ranked and highlighted rows read the large values.

The column is filled by rewriting the table (``ALTER COLUMN ... TYPE ... USING``), which also
moves the existing large values out of line and rebuilds the GIN index compactly.

Revision ID: 0015_search_layout
Revises: 0014_member_indexes
Create Date: 2026-12-02 05:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015_search_layout"
down_revision: str | None = "0014_member_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Answers are not found by their question's title (the thread is), as the documents' writer does.
TITLE_VECTOR = (
    "to_tsvector('english', CASE WHEN kind = 'answer' THEN '' ELSE title END"
    " || ' ' || replace(tags, ',', ' '))"
)


def upgrade() -> None:
    """Add and fill the title vector; move the large values out of the rows."""
    if op.get_bind().dialect.name != "postgresql":
        # The SQLite table stays empty (its backend is Whoosh): only the column is needed.
        op.add_column(
            "search_documents",
            sa.Column("title_document", sa.Text(), nullable=False, server_default=""),
        )
        return
    op.execute(
        "ALTER TABLE search_documents SET (toast_tuple_target = 512),"
        " ALTER COLUMN document SET STORAGE EXTERNAL, ALTER COLUMN body SET STORAGE EXTERNAL"
    )
    op.add_column("search_documents", sa.Column("title_document", postgresql.TSVECTOR()))
    op.execute(
        "ALTER TABLE search_documents ALTER COLUMN title_document TYPE tsvector"
        f" USING {TITLE_VECTOR}"
    )
    op.alter_column("search_documents", "title_document", nullable=False)


def downgrade() -> None:
    """Drop the title vector and return to the default storage."""
    with op.batch_alter_table("search_documents") as batch:
        batch.drop_column("title_document")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE search_documents RESET (toast_tuple_target),"
            " ALTER COLUMN document SET STORAGE EXTENDED, ALTER COLUMN body SET STORAGE EXTENDED"
        )
