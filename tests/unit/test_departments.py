"""Departments are one managed list: names are unique regardless of case, and renaming,
merging and removing a department carry its members and onboarding path along."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import AuditLog, Department, Role
from forum.services import accounts, analytics, departments, paths
from forum.services.errors import Forbidden, ValidationError
from tests.factories import make_user


def test_names_are_unique_regardless_of_case_and_spaces(session: Session) -> None:
    admin = make_user(session, "admin", role=Role.ADMIN)
    departments.create(session, actor=admin, name="  Engineering ")
    for clash in ("engineering", "ENGINEERING", "Engineering  "):
        with pytest.raises(ValidationError) as caught:
            departments.create(session, actor=admin, name=clash)
        assert caught.value.errors["name"] == [
            "Engineering is already a department; merge into it instead."
        ]
    with pytest.raises(ValidationError):
        departments.create(session, actor=admin, name="   ")
    with pytest.raises(ValidationError):
        departments.create(session, actor=admin, name="x" * 81)
    with pytest.raises(Forbidden):
        departments.create(session, actor=make_user(session), name="Sales")
    assert departments.names(session) == ["Engineering"]


def test_members_pick_from_the_list_in_its_spelling(session: Session) -> None:
    admin = make_user(session, "admin", role=Role.ADMIN)
    departments.create(session, actor=admin, name="Engineering")
    member = make_user(session, "ann")
    profile = accounts.ProfileData(display_name="Ann", email="ann@example.com")
    profile.department = "engineering"
    accounts.update_profile(session, member, profile)
    assert member.department == "Engineering"
    profile.department = "Marketing"  # not on the list
    with pytest.raises(ValidationError) as caught:
        accounts.update_profile(session, member, profile)
    assert caught.value.errors["department"] == ["Choose a department from the list."]
    profile.department = ""
    accounts.update_profile(session, member, profile)
    assert member.department is None


def test_one_department_in_onboarding_paths_and_analytics(session: Session) -> None:
    admin = make_user(session, "admin", role=Role.ADMIN)
    departments.create(session, actor=admin, name="Engineering")
    newcomer = make_user(session, "newbie", department="engineering")
    make_user(session, "old", department="ENGINEERING")
    path = paths.create_path(session, owner=admin, title="Welcome", description_md="")
    paths.set_onboarding(session, path, actor=admin, department="engineering ")
    assert path.onboarding_department == "Engineering"
    assert paths.onboarding_path_for(session, newcomer) == path
    assert analytics.departments(session) == ["Engineering"]
    with pytest.raises(ValidationError):
        paths.set_onboarding(session, path, actor=admin, department="Nowhere")


def test_rename_merge_and_remove_carry_members_and_paths(session: Session) -> None:
    admin = make_user(session, "admin", role=Role.ADMIN)
    eng = departments.create(session, actor=admin, name="engineering")
    dev = departments.create(session, actor=admin, name="Development")
    ops = departments.create(session, actor=admin, name="Ops")
    ann = make_user(session, "ann", department="engineering")
    bob = make_user(session, "bob", department="Development")
    cat = make_user(session, "cat", department="Ops")
    kept = paths.create_path(session, owner=admin, title="Eng 101", description_md="")
    dropped = paths.create_path(session, owner=admin, title="Dev 101", description_md="")
    paths.set_onboarding(session, kept, actor=admin, department="engineering")
    paths.set_onboarding(session, dropped, actor=admin, department="Development")

    departments.rename(session, eng, actor=admin, name="Engineering")  # only the case changes
    assert (ann.department, kept.onboarding_department) == ("Engineering", "Engineering")
    with pytest.raises(ValidationError):
        departments.rename(session, eng, actor=admin, name="development")

    departments.merge(session, dev, actor=admin, into=eng)
    assert bob.department == "Engineering"
    assert kept.onboarding_department == "Engineering" and dropped.onboarding_department is None
    with pytest.raises(ValidationError):
        departments.merge(session, eng, actor=admin, into=eng)

    departments.remove(session, ops, actor=admin)
    assert cat.department is None
    assert departments.names(session) == ["Engineering"]
    rows = departments.listing(session)
    assert [(r.department.name, r.members, r.has_onboarding_path) for r in rows] == [
        ("Engineering", 2, True)
    ]
    actions = session.scalars(
        select(AuditLog.action).where(AuditLog.target_type == "department").order_by(AuditLog.id)
    ).all()
    assert actions == [
        "department.create",
        "department.create",
        "department.create",
        "department.rename",
        "department.merge",
        "department.remove",
    ]
    assert session.scalars(select(Department.key)).all() == ["engineering"]
