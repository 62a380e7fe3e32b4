"""Departments: the managed list members and onboarding paths pick from."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column, validates

from forum.db import Base, CreatedAt, IntPK


def department_key(name: str) -> str:
    """What makes two department names the same: case and spacing do not count."""
    return " ".join(name.split()).lower()


class Department(Base):
    """One department; names are unique regardless of case ("Engineering" is "engineering").

    Members (``users.department``) and onboarding paths (``learning_paths.onboarding_department``)
    hold the department's name as it is spelled here; renaming, merging and removing update them.
    """

    __tablename__ = "departments"

    id: Mapped[IntPK]
    name: Mapped[str] = mapped_column(String(80))
    #: The name compared without case and extra spaces; unique. Kept with ``name``.
    key: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[CreatedAt]

    @validates("name")
    def _keep_key(self, _field: str, name: str) -> str:
        self.key = department_key(name)
        return name

    def __repr__(self) -> str:
        return f"<Department {self.name!r}>"
