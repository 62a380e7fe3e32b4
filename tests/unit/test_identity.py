"""Provisioning, linking and roles for members signing in through a provider (no servers)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import Department, Identity, Role
from forum.services import identity
from forum.services.errors import Conflict, Forbidden, ValidationError
from forum.services.identity import ExternalAccount, LinkNeeded, RoleMapping, SignInPolicy
from tests.conftest import TEST_PASSWORD
from tests.factories import make_user


def account(**changes: object) -> ExternalAccount:
    fields: dict[str, object] = {
        "provider": "oidc",
        "subject": "sub-1",
        "username": "Ada.Lovelace@Example.org",
        "display_name": "Ada Lovelace",
        "email": "ada@example.org",
        "email_verified": True,
        "department": "Engineering",
        **changes,
    }
    return ExternalAccount(**fields)  # type: ignore[arg-type]


def test_usernames_are_made_valid_and_free(session: Session) -> None:
    make_user(session, "ada.lovelace-example.org")
    user = identity.sign_in(session, account(), SignInPolicy())
    assert not isinstance(user, LinkNeeded)
    assert user.username == "ada.lovelace-example.org-2"
    reserved = identity.sign_in(
        session, account(subject="s2", username="admin", email=None), SignInPolicy()
    )
    assert not isinstance(reserved, LinkNeeded) and reserved.username == "admin-2"


def test_unknown_departments_are_left_out_unless_created(session: Session) -> None:
    user = identity.sign_in(session, account(), SignInPolicy())
    assert not isinstance(user, LinkNeeded) and user.department is None
    user = identity.sign_in(session, account(), SignInPolicy(create_departments=True))
    assert not isinstance(user, LinkNeeded) and user.department == "Engineering"
    assert session.scalar(select(Department.name)) == "Engineering"


def test_roles_follow_groups_only_when_mapped(session: Session) -> None:
    mapping = SignInPolicy(roles=RoleMapping.of(["Admins"], ["Mods"]))
    user = identity.sign_in(session, account(groups=("admins",)), mapping)
    assert not isinstance(user, LinkNeeded) and user.role is Role.ADMIN
    identity.sign_in(session, account(groups=("mods",)), mapping)
    assert user.role is Role.MODERATOR
    # Without a mapping the provider does not manage roles: an admin's choice stays.
    user.role = Role.ADMIN
    identity.sign_in(session, account(groups=()), SignInPolicy())
    assert user.role is Role.ADMIN


def test_linking_needs_a_verified_email_and_the_password(session: Session) -> None:
    local = make_user(session, "ada", email="ada@example.org")
    with pytest.raises(Conflict):
        identity.sign_in(session, account(email_verified=False), SignInPolicy())
    assert identity.sign_in(session, account(), SignInPolicy()) == LinkNeeded(local.id)
    with pytest.raises(ValidationError):
        identity.link(session, local, account(), password="wrong", policy=SignInPolicy())
    with pytest.raises(Conflict):
        identity.link(
            session,
            local,
            account(email_verified=False),
            password=TEST_PASSWORD,
            policy=SignInPolicy(),
        )
    identity.link(session, local, account(), password=TEST_PASSWORD, policy=SignInPolicy())
    assert session.scalar(select(Identity.user_id)) == local.id
    assert identity.sign_in(session, account(), SignInPolicy()) is local


def test_deactivated_members_cannot_sign_in(session: Session) -> None:
    user = identity.sign_in(session, account(), SignInPolicy())
    assert not isinstance(user, LinkNeeded)
    user.is_active = False
    with pytest.raises(Forbidden):
        identity.sign_in(session, account(), SignInPolicy())
