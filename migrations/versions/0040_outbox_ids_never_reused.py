"""Search outbox ids are never used twice on SQLite (AUTOINCREMENT).

A drain reads its outbox rows, writes the index, then deletes those rows by id in a later
transaction. A plain SQLite rowid goes back to 1 when the table empties, so a new row could
take the id of one a drain had read, and that drain would delete it unapplied. With
AUTOINCREMENT SQLite hands out ids above every id it ever gave. PostgreSQL's sequence never
went back.

Revision ID: 0040_outbox_ids_never_reused
Revises: 0039_pgvec_title_index
Create Date: 2026-12-07 22:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0040_outbox_ids_never_reused"
down_revision: str | None = "0039_pgvec_title_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Rebuild SQLite's outbox table with AUTOINCREMENT (its rows copied)."""
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "search_outbox", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ):
        pass


def downgrade() -> None:
    """Rebuild SQLite's outbox table without AUTOINCREMENT."""
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "search_outbox", recreate="always", table_kwargs={"sqlite_autoincrement": False}
    ):
        pass
