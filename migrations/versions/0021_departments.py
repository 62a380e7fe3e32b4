"""Departments become a managed list.

- ``departments``: id, name, key (the name lower-cased with single spaces; unique), created_at.
- Existing free-text values are gathered: each distinct value, compared without case and
  surrounding spaces, becomes one department, spelled as most members spelled it. Members and
  onboarding paths are rewritten to that spelling, so "engineering" and "Engineering" are one
  department everywhere. When two onboarding paths now name the same department, the older
  path keeps it.

Revision ID: 0021_departments
Revises: 0020_drafts
Create Date: 2026-12-07 12:00:00.000000
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_departments"
down_revision: str | None = "0020_drafts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _spellings(bind: sa.Connection) -> dict[str, str]:
    """Lower-cased name -> the spelling to keep (the most used; ties: the first in code order)."""
    counts: dict[str, Counter[str]] = {}
    rows = bind.execute(
        sa.text(
            "SELECT department AS name FROM users WHERE department IS NOT NULL "
            "UNION ALL SELECT onboarding_department FROM learning_paths "
            "WHERE onboarding_department IS NOT NULL"
        )
    )
    for (raw,) in rows:
        name = " ".join(str(raw).split())
        if name:
            counts.setdefault(name.lower(), Counter())[name] += 1
    return {
        key: sorted(seen.items(), key=lambda item: (-item[1], item[0]))[0][0]
        for key, seen in counts.items()
    }


def upgrade() -> None:
    """Create the list from the values members typed, and use its spelling everywhere."""
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("key", name=op.f("uq_departments_key")),
    )
    bind = op.get_bind()
    spellings = _spellings(bind)
    departments = sa.table("departments", sa.column("name", sa.String), sa.column("key", sa.String))
    if spellings:
        op.bulk_insert(
            departments,
            [{"name": name, "key": key} for key, name in sorted(spellings.items())],
        )
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("department", sa.String))
    for user_id, raw in bind.execute(
        sa.select(users.c.id, users.c.department).where(users.c.department.is_not(None))
    ).all():
        name = spellings.get(" ".join(str(raw).split()).lower())
        if name != raw:
            bind.execute(users.update().where(users.c.id == user_id).values(department=name))
    paths = sa.table(
        "learning_paths",
        sa.column("id", sa.Integer),
        sa.column("onboarding_department", sa.String),
    )
    original = dict(
        bind.execute(
            sa.select(paths.c.id, paths.c.onboarding_department)
            .where(paths.c.onboarding_department.is_not(None))
            .order_by(paths.c.id)
        ).all()
    )
    wanted: dict[int, str | None] = {}
    for path_id, raw in original.items():  # oldest first: the older path keeps a department
        name = spellings.get(" ".join(str(raw).split()).lower())
        wanted[path_id] = None if name in wanted.values() else name
    changed = {path_id: name for path_id, name in wanted.items() if name != original[path_id]}
    # Cleared first: the column is unique, and two spellings may have become one name.
    for path_id in changed:
        bind.execute(paths.update().where(paths.c.id == path_id).values(onboarding_department=None))
    for path_id, name in changed.items():
        if name is not None:
            bind.execute(
                paths.update().where(paths.c.id == path_id).values(onboarding_department=name)
            )


def downgrade() -> None:
    """Drop the list (members and paths keep their department names)."""
    op.drop_table("departments")
