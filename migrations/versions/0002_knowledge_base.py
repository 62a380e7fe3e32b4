"""Knowledge base: article review dates, helpful feedback and wiki links.

Revision ID: 0002_knowledge_base
Revises: 0001_initial
Create Date: 2026-11-25 13:55:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002_knowledge_base'
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_by', sa.DateTime(timezone=True), nullable=True))

    op.create_table('article_feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('helpful', sa.Boolean(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['posts.id'], name=op.f('fk_article_feedback_article_id_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_article_feedback_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_article_feedback')),
    sa.UniqueConstraint('article_id', 'user_id', name=op.f('uq_article_feedback_article_id_user_id'))
    )
    op.create_index('ix_article_feedback_user_id', 'article_feedback', ['user_id'], unique=False)
    op.create_table('article_links',
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('target_key', sa.String(length=200), nullable=False),
    sa.Column('target_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['source_id'], ['posts.id'], name=op.f('fk_article_links_source_id_posts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_id'], ['posts.id'], name=op.f('fk_article_links_target_id_posts'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('source_id', 'target_key', name=op.f('pk_article_links'))
    )
    op.create_index('ix_article_links_target_id', 'article_links', ['target_id'], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index('ix_article_links_target_id', table_name='article_links')
    op.drop_table('article_links')
    op.drop_index('ix_article_feedback_user_id', table_name='article_feedback')
    op.drop_table('article_feedback')
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_column('review_by')
