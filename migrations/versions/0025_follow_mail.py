"""Following posts, delivery channels per kind, the instant-email queue and session reminders.

- ``post_follows``: members following a question or an article. Existing askers and authors
  follow their own questions and articles (and owners their articles), as new ones do.
- ``mail_deliveries``: emails waiting to go out, sent, or given up on after retries.
- ``circle_sessions.reminded_for``: the start time members were last reminded of.
- ``notification_preferences.channel``: ``email`` (the digest, whichever period ran) becomes
  ``daily``; the channels are now inbox, instant, daily, weekly and off.

Revision ID: 0025_follow_mail
Revises: 0024_claim_links
Create Date: 2026-12-12 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_follow_mail"
down_revision: str | None = "0024_claim_links"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the tables, backfill the follows, rename the digest channel."""
    op.create_table(
        "post_follows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_post_follows_post_id_posts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_post_follows_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_follows")),
        sa.UniqueConstraint("user_id", "post_id", name=op.f("uq_post_follows_user_id_post_id")),
    )
    op.create_index("ix_post_follows_post_id", "post_follows", ["post_id"], unique=False)
    op.create_table(
        "mail_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=True),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.String(length=64), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("ics", sa.Text(), nullable=True),
        sa.Column("key", sa.String(length=120), nullable=True),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["users.id"],
            name=op.f("fk_mail_deliveries_recipient_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_deliveries")),
        sa.UniqueConstraint("key", name=op.f("uq_mail_deliveries_key")),
    )
    op.create_index(
        "ix_mail_deliveries_state_next_attempt_at",
        "mail_deliveries",
        ["state", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        "ix_mail_deliveries_created_at", "mail_deliveries", ["created_at"], unique=False
    )
    op.create_index(
        "ix_mail_deliveries_recipient_id", "mail_deliveries", ["recipient_id"], unique=False
    )
    with op.batch_alter_table("circle_sessions") as batch:
        batch.add_column(sa.Column("reminded_for", sa.DateTime(timezone=True), nullable=True))

    # Askers and authors follow their questions and articles; owners their articles.
    for column in ("author_id", "owner_id"):
        op.execute(
            f"""
            INSERT INTO post_follows (user_id, post_id)
            SELECT DISTINCT p.{column}, p.id FROM posts p
            WHERE p.{column} IS NOT NULL AND p.kind IN ('question', 'article')
              AND NOT EXISTS (
                SELECT 1 FROM post_follows f WHERE f.user_id = p.{column} AND f.post_id = p.id
              )
            """
        )
    op.execute("UPDATE notification_preferences SET channel = 'daily' WHERE channel = 'email'")


def downgrade() -> None:
    """Drop what ``upgrade`` added; digest channels become ``email`` again, instant ``inbox``."""
    op.execute(
        "UPDATE notification_preferences SET channel = 'email' "
        "WHERE channel IN ('daily', 'weekly')"
    )
    op.execute("UPDATE notification_preferences SET channel = 'inbox' WHERE channel = 'instant'")
    with op.batch_alter_table("circle_sessions") as batch:
        batch.drop_column("reminded_for")
    op.drop_index("ix_mail_deliveries_recipient_id", table_name="mail_deliveries")
    op.drop_index("ix_mail_deliveries_created_at", table_name="mail_deliveries")
    op.drop_index("ix_mail_deliveries_state_next_attempt_at", table_name="mail_deliveries")
    op.drop_table("mail_deliveries")
    op.drop_index("ix_post_follows_post_id", table_name="post_follows")
    op.drop_table("post_follows")
