"""Search: the outbox of changed posts, PostgreSQL search documents, zero-result queries.

Revision ID: 0004_search
Revises: 0003_qa
Create Date: 2026-11-25 14:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004_search'
down_revision: str | None = "0003_qa"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('search_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_outbox'))
    )
    op.create_index('ix_search_outbox_created_at', 'search_outbox', ['created_at'], unique=False)
    op.create_table('search_documents',
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('subtype', sa.String(length=16), nullable=True),
    sa.Column('slug', sa.String(length=200), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('tags', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('question_id', sa.Integer(), nullable=True),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('answer_count', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.String(length=40), nullable=False),
    sa.Column('document', sa.Text().with_variant(postgresql.TSVECTOR(), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_search_documents_post_id_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('post_id', name=op.f('pk_search_documents'))
    )
    op.create_index('ix_search_documents_kind_created_at', 'search_documents', ['kind', 'created_at'], unique=False)
    # GIN is PostgreSQL's; on SQLite the table stays empty (its backend is Whoosh) and the
    # same-named plain index keeps the schema equal to the models.
    op.create_index('ix_search_documents_document', 'search_documents', ['document'], unique=False, postgresql_using='gin')
    op.create_table('zero_result_queries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('query', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_zero_result_queries'))
    )
    op.create_index('ix_zero_result_queries_created_at', 'zero_result_queries', ['created_at'], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index('ix_zero_result_queries_created_at', table_name='zero_result_queries')
    op.drop_table('zero_result_queries')
    op.drop_index('ix_search_documents_document', table_name='search_documents')
    op.drop_index('ix_search_documents_kind_created_at', table_name='search_documents')
    op.drop_table('search_documents')
    op.drop_index('ix_search_outbox_created_at', table_name='search_outbox')
    op.drop_table('search_outbox')
