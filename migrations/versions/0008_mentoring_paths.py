"""Peer learning: member skills, mentorships, buddy pairs and learning paths.

Revision ID: 0008_mentoring_paths
Revises: 0007_ops
Create Date: 2026-11-25 16:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_mentoring_paths"
down_revision: str | None = "0007_ops"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _created_at(name: str = "created_at") -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def _user_fk(table: str, column: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete=ondelete
    )


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column(
                "mentoring_availability",
                sa.String(length=8),
                server_default="open",
                nullable=False,
            )
        )
        batch.add_column(
            sa.Column("people_partner", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    op.create_table(
        "member_skills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        _created_at(),
        sa.CheckConstraint("kind IN ('help', 'learn')", name=op.f("ck_member_skills_kind_known")),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name=op.f("fk_member_skills_tag_id_tags"), ondelete="CASCADE"
        ),
        _user_fk("member_skills", "user_id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_skills")),
        sa.UniqueConstraint(
            "user_id", "tag_id", "kind", name=op.f("uq_member_skills_user_id_tag_id_kind")
        ),
    )
    op.create_index("ix_member_skills_tag_id_kind", "member_skills", ["tag_id", "kind"])

    op.create_table(
        "mentorships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mentor_id", sa.Integer(), nullable=False),
        sa.Column("mentee_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=True),
        sa.Column("goal", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("response_note", sa.Text(), server_default="", nullable=False),
        _created_at(),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by_id", sa.Integer(), nullable=True),
        sa.Column("mentee_rating", sa.SmallInteger(), nullable=True),
        sa.Column("mentee_feedback", sa.Text(), nullable=True),
        sa.Column("mentor_rating", sa.SmallInteger(), nullable=True),
        sa.Column("mentor_feedback", sa.Text(), nullable=True),
        sa.CheckConstraint("mentor_id <> mentee_id", name=op.f("ck_mentorships_not_self")),
        sa.CheckConstraint(
            "status IN ('requested', 'declined', 'active', 'ended')",
            name=op.f("ck_mentorships_status_known"),
        ),
        sa.CheckConstraint(
            "mentee_rating BETWEEN 1 AND 5", name=op.f("ck_mentorships_mentee_rating_range")
        ),
        sa.CheckConstraint(
            "mentor_rating BETWEEN 1 AND 5", name=op.f("ck_mentorships_mentor_rating_range")
        ),
        _user_fk("mentorships", "mentor_id", "CASCADE"),
        _user_fk("mentorships", "mentee_id", "CASCADE"),
        _user_fk("mentorships", "ended_by_id", "SET NULL"),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["tags.id"], name=op.f("fk_mentorships_tag_id_tags"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mentorships")),
    )
    op.create_index("ix_mentorships_mentor_id_status", "mentorships", ["mentor_id", "status"])
    op.create_index("ix_mentorships_mentee_id_status", "mentorships", ["mentee_id", "status"])

    op.create_table(
        "mentorship_goals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mentorship_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=300), nullable=False),
        sa.Column("done", sa.Boolean(), server_default=sa.false(), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["mentorship_id"],
            ["mentorships.id"],
            name=op.f("fk_mentorship_goals_mentorship_id_mentorships"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mentorship_goals")),
    )
    op.create_index("ix_mentorship_goals_mentorship_id", "mentorship_goals", ["mentorship_id"])

    op.create_table(
        "mentorship_checkins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mentorship_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body_md", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        _created_at(),
        _user_fk("mentorship_checkins", "author_id", "SET NULL"),
        sa.ForeignKeyConstraint(
            ["mentorship_id"],
            ["mentorships.id"],
            name=op.f("fk_mentorship_checkins_mentorship_id_mentorships"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mentorship_checkins")),
    )
    op.create_index(
        "ix_mentorship_checkins_mentorship_id", "mentorship_checkins", ["mentorship_id"]
    )

    op.create_table(
        "buddy_pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("newcomer_id", sa.Integer(), nullable=False),
        sa.Column("buddy_id", sa.Integer(), nullable=False),
        sa.Column("paired_by_id", sa.Integer(), nullable=True),
        _created_at(),
        sa.CheckConstraint("newcomer_id <> buddy_id", name=op.f("ck_buddy_pairs_not_self")),
        _user_fk("buddy_pairs", "newcomer_id", "CASCADE"),
        _user_fk("buddy_pairs", "buddy_id", "CASCADE"),
        _user_fk("buddy_pairs", "paired_by_id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buddy_pairs")),
        sa.UniqueConstraint("newcomer_id", name=op.f("uq_buddy_pairs_newcomer_id")),
    )
    op.create_index("ix_buddy_pairs_buddy_id", "buddy_pairs", ["buddy_id"])

    op.create_table(
        "learning_paths",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description_md", sa.Text(), nullable=False),
        sa.Column("description_html", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("onboarding_department", sa.String(length=80), nullable=True),
        _created_at(),
        _created_at("updated_at"),
        _user_fk("learning_paths", "owner_id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_learning_paths")),
        sa.UniqueConstraint(
            "onboarding_department", name=op.f("uq_learning_paths_onboarding_department")
        ),
    )

    op.create_table(
        "path_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["path_id"],
            ["learning_paths.id"],
            name=op.f("fk_path_steps_path_id_learning_paths"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_path_steps_post_id_posts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_path_steps")),
        sa.UniqueConstraint("path_id", "post_id", name=op.f("uq_path_steps_path_id_post_id")),
    )
    op.create_index("ix_path_steps_post_id", "path_steps", ["post_id"])

    op.create_table(
        "path_enrolments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _created_at(),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["path_id"],
            ["learning_paths.id"],
            name=op.f("fk_path_enrolments_path_id_learning_paths"),
            ondelete="CASCADE",
        ),
        _user_fk("path_enrolments", "user_id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_path_enrolments")),
        sa.UniqueConstraint("path_id", "user_id", name=op.f("uq_path_enrolments_path_id_user_id")),
    )
    op.create_index("ix_path_enrolments_user_id", "path_enrolments", ["user_id"])

    op.create_table(
        "path_step_completions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["path_enrolments.id"],
            name=op.f("fk_path_step_completions_enrolment_id_path_enrolments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["step_id"],
            ["path_steps.id"],
            name=op.f("fk_path_step_completions_step_id_path_steps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_path_step_completions")),
        sa.UniqueConstraint(
            "enrolment_id", "step_id", name=op.f("uq_path_step_completions_enrolment_id_step_id")
        ),
    )
    op.create_index("ix_path_step_completions_step_id", "path_step_completions", ["step_id"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_path_step_completions_step_id", table_name="path_step_completions")
    op.drop_table("path_step_completions")
    op.drop_index("ix_path_enrolments_user_id", table_name="path_enrolments")
    op.drop_table("path_enrolments")
    op.drop_index("ix_path_steps_post_id", table_name="path_steps")
    op.drop_table("path_steps")
    op.drop_table("learning_paths")
    op.drop_index("ix_buddy_pairs_buddy_id", table_name="buddy_pairs")
    op.drop_table("buddy_pairs")
    op.drop_index("ix_mentorship_checkins_mentorship_id", table_name="mentorship_checkins")
    op.drop_table("mentorship_checkins")
    op.drop_index("ix_mentorship_goals_mentorship_id", table_name="mentorship_goals")
    op.drop_table("mentorship_goals")
    op.drop_index("ix_mentorships_mentee_id_status", table_name="mentorships")
    op.drop_index("ix_mentorships_mentor_id_status", table_name="mentorships")
    op.drop_table("mentorships")
    op.drop_index("ix_member_skills_tag_id_kind", table_name="member_skills")
    op.drop_table("member_skills")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("people_partner")
        batch.drop_column("mentoring_availability")
