"""Words for "did you mean" on the PostgreSQL backend, with a trigram index where possible.

- ``search_words``: every unstemmed word (3 to 64 letters) of the indexed titles, tags and
  the first 2,000 characters of bodies, filled here from the existing documents and kept up
  by the backend's writer. Frequencies are not stored: they are counted on the documents for
  the few close words found.
- ``ix_search_words_trigram``: a pg_trgm GIN index when the extension exists on the server
  and can be created (it is a trusted extension since PostgreSQL 13); otherwise a plain
  index, and close words are then looked for among those of the same first letter.

The documents' text search configuration does not change (``english``: Snowball stems, the
same as the Whoosh backend's since its schema version 9).

Revision ID: 0028_search_words
Revises: 0027_close_votes
Create Date: 2026-12-10 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028_search_words"
down_revision: str | None = "0027_close_votes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILL = (
    "INSERT INTO search_words (word) SELECT word FROM ts_stat($$SELECT to_tsvector('simple',"
    " title || ' ' || replace(tags, ',', ' ') || ' ' || left(body, 2000))"
    " FROM search_documents$$) WHERE word ~ '^[[:alpha:]]{3,64}$' ON CONFLICT DO NOTHING"
)


def upgrade() -> None:
    """Create the words table and its index; fill it from the documents on PostgreSQL."""
    op.create_table(
        "search_words",
        sa.Column("word", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("word", name=op.f("pk_search_words")),
    )
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        op.create_index("ix_search_words_trigram", "search_words", ["word"])
        return
    available = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    ).scalar()
    trigram = False
    if available:
        savepoint = bind.begin_nested()
        try:
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            bind.execute(
                sa.text(
                    "CREATE INDEX ix_search_words_trigram ON search_words"
                    " USING gin (word gin_trgm_ops)"
                )
            )
            savepoint.commit()
            trigram = True
        except sa.exc.DBAPIError:
            savepoint.rollback()  # no right to create it: the plain index below
    if not trigram:
        op.create_index("ix_search_words_trigram", "search_words", ["word"])
    op.execute(FILL)


def downgrade() -> None:
    """Drop the words (the extension stays: other databases' objects may use it)."""
    op.drop_index("ix_search_words_trigram", table_name="search_words")
    op.drop_table("search_words")
