"""Recount the denormalised post counters (score, answers, comments) from the rows they sum up.

Posts written before the counters were kept up to date by the services (loaded with SQL, or
by an older import) show wrong scores and counts; this brings every post in line with its
votes, answers and comments. It changes data only: downgrading has nothing to undo.

Revision ID: 0007_ops
Revises: 0006_import
Create Date: 2026-11-25 14:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_ops"
down_revision: str | None = "0006_import"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables as this revision knows them (never the models, which move on).
posts = sa.table(
    "posts",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("parent_id", sa.Integer),
    sa.column("score", sa.Integer),
    sa.column("answer_count", sa.Integer),
    sa.column("comment_count", sa.Integer),
    sa.column("deleted_at", sa.DateTime(timezone=True)),
)
votes = sa.table("votes", sa.column("post_id", sa.Integer), sa.column("value", sa.Integer))
comments = sa.table(
    "comments",
    sa.column("post_id", sa.Integer),
    sa.column("deleted_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    """Apply this revision."""
    answers = posts.alias("answers")
    score = (
        sa.select(sa.func.coalesce(sa.func.sum(votes.c.value), 0))
        .where(votes.c.post_id == posts.c.id)
        .scalar_subquery()
    )
    answer_count = (
        sa.select(sa.func.count())
        .select_from(answers)
        .where(
            answers.c.parent_id == posts.c.id,
            answers.c.kind == "answer",
            answers.c.deleted_at.is_(None),
        )
        .scalar_subquery()
    )
    comment_count = (
        sa.select(sa.func.count())
        .select_from(comments)
        .where(comments.c.post_id == posts.c.id, comments.c.deleted_at.is_(None))
        .scalar_subquery()
    )
    op.execute(
        posts.update()
        .where(
            sa.or_(
                posts.c.score != score,
                posts.c.answer_count != answer_count,
                posts.c.comment_count != comment_count,
            )
        )
        .values(score=score, answer_count=answer_count, comment_count=comment_count)
    )


def downgrade() -> None:
    """Revert this revision: the counters stay correct, so there is nothing to undo."""
