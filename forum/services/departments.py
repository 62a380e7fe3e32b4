"""Departments: a list admins keep; members and onboarding paths pick from it.

Names are unique regardless of case and surrounding spaces, so "engineering" and "Engineering"
are one department. Members (``User.department``) and onboarding paths
(``LearningPath.onboarding_department``) hold the name as the list spells it: renaming a
department renames it for them, merging moves them to the department kept, and removing one
leaves them without a department.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from forum.models import AuditLog, Department, LearningPath, User
from forum.models.departments import department_key
from forum.services.errors import Forbidden, ValidationError
from forum.services.text import single_line_errors

#: The longest department name.
NAME_MAX = 80


@dataclass(frozen=True)
class DepartmentRow:
    """A department with how many active members and onboarding paths name it."""

    department: Department
    members: int
    has_onboarding_path: bool


def _require_admin(actor: User) -> None:
    if not actor.is_admin:
        raise Forbidden("Only admins manage departments.")


def _clean(name: str | None) -> str:
    return " ".join((name or "").split())


def by_name(session: Session, name: str | None) -> Department | None:
    """The department called ``name``, compared without case and extra spaces."""
    cleaned = _clean(name)
    if not cleaned:
        return None
    return session.scalar(select(Department).where(Department.key == department_key(cleaned)))


def names(session: Session) -> list[str]:
    """Every department's name, alphabetically regardless of case."""
    return list(
        session.scalars(select(Department.name).order_by(func.lower(Department.name))).all()
    )


def resolve(session: Session, value: str | None, *, field: str = "department") -> str | None:
    """The listed spelling of the department a form chose (None for none).

    A name that is not on the list is refused: departments are picked, never typed in.
    """
    if not _clean(value):
        return None
    department = by_name(session, value)
    if department is None:
        raise ValidationError({field: ["Choose a department from the list."]})
    return department.name


def ensure(session: Session, name: str) -> str:
    """The listed spelling of ``name``, adding it to the list first if needed.

    For the operator's own tools (``forum users create``, the demo), not for members' input.
    """
    department = by_name(session, name)
    if department is None:
        department = Department(name=_check_name(session, name))
        session.add(department)
        session.flush()
    return department.name


def listing(session: Session) -> list[DepartmentRow]:
    """Every department with its member count, alphabetically (the admin page)."""
    counts = dict(
        session.execute(
            select(User.department, func.count())
            .where(User.department.is_not(None), User.is_active.is_(True))
            .group_by(User.department)
        ).all()
    )
    onboarding = set(
        session.scalars(
            select(LearningPath.onboarding_department).where(
                LearningPath.onboarding_department.is_not(None)
            )
        ).all()
    )
    return [
        DepartmentRow(d, counts.get(d.name, 0), d.name in onboarding)
        for d in session.scalars(select(Department).order_by(func.lower(Department.name)))
    ]


def _check_name(session: Session, name: str, *, other_than: Department | None = None) -> str:
    cleaned = _clean(name)
    if not cleaned:
        raise ValidationError({"name": ["Enter the department's name."]})
    if len(cleaned) > NAME_MAX:
        raise ValidationError({"name": [f"Use at most {NAME_MAX} characters."]})
    if problems := single_line_errors(cleaned):
        raise ValidationError({"name": problems})
    existing = by_name(session, cleaned)
    if existing is not None and existing is not other_than:
        raise ValidationError(
            {"name": [f"{existing.name} is already a department; merge into it instead."]}
        )
    return cleaned


def _audit(session: Session, actor: User, action: str, department: Department, reason: str) -> None:
    session.add(
        AuditLog(
            actor_id=actor.id,
            action=action,
            target_type="department",
            target_id=department.id,
            reason=reason,
        )
    )


def _rename_everywhere(session: Session, old: str, new: str | None) -> None:
    """Members and onboarding paths naming ``old`` now name ``new`` (None: no department)."""
    session.execute(
        update(User).where(User.department == old).values(department=new),
        execution_options={"synchronize_session": "fetch"},
    )
    session.execute(
        update(LearningPath)
        .where(LearningPath.onboarding_department == old)
        .values(onboarding_department=new),
        execution_options={"synchronize_session": "fetch"},
    )


def create(session: Session, *, actor: User, name: str) -> Department:
    """Add a department to the list (admins)."""
    _require_admin(actor)
    department = Department(name=_check_name(session, name))
    session.add(department)
    session.flush()
    _audit(session, actor, "department.create", department, department.name)
    session.flush()
    return department


def rename(session: Session, department: Department, *, actor: User, name: str) -> None:
    """Rename a department, for its members and its onboarding path too (admins).

    Changing only the case ("engineering" to "Engineering") is a rename, not a clash.
    """
    _require_admin(actor)
    new = _check_name(session, name, other_than=department)
    old = department.name
    if new == old:
        return
    department.name = new
    _rename_everywhere(session, old, new)
    _audit(session, actor, "department.rename", department, f"{old} → {new}")
    session.flush()


def merge(session: Session, source: Department, *, actor: User, into: Department) -> None:
    """Fold ``source`` into ``into``: its members move, then it is removed (admins).

    When both have an onboarding path, the kept department's path stays its onboarding path.
    """
    _require_admin(actor)
    if source.id == into.id:
        raise ValidationError({"into": ["Choose another department to merge into."]})
    kept_path = session.scalar(
        select(LearningPath.id).where(LearningPath.onboarding_department == into.name)
    )
    if kept_path is not None:
        session.execute(
            update(LearningPath)
            .where(LearningPath.onboarding_department == source.name)
            .values(onboarding_department=None),
            execution_options={"synchronize_session": "fetch"},
        )
    _rename_everywhere(session, source.name, into.name)
    _audit(session, actor, "department.merge", into, f"{source.name} → {into.name}")
    session.delete(source)
    session.flush()


def remove(session: Session, department: Department, *, actor: User) -> None:
    """Take a department off the list; its members and onboarding path keep none (admins)."""
    _require_admin(actor)
    _rename_everywhere(session, department.name, None)
    _audit(session, actor, "department.remove", department, department.name)
    session.delete(department)
    session.flush()
