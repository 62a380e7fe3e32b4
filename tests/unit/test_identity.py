"""Provisioning, linking and roles for members signing in through a provider (no servers)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import AuditLog, Department, Identity, Role, User
from forum.services import accounts, identity
from forum.services.errors import Conflict, Forbidden, ValidationError
from forum.services.identity import (
    ExternalAccount,
    LinkNeeded,
    NotAllowed,
    RoleMapping,
    SignInPolicy,
)
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


def test_required_groups_refuse_and_deactivate_and_reactivate(session: Session) -> None:
    policy = SignInPolicy.of(required_groups=["Staff"])
    assert policy.allows(account(groups=("STAFF",))) and not policy.allows(account())
    # Never in the group: refused, nobody is created.
    refused = identity.sign_in(session, account(), policy)
    assert isinstance(refused, NotAllowed) and refused.user_id is None
    assert session.scalar(select(User.id)) is None

    member = identity.sign_in(session, account(groups=("staff",)), policy)
    assert isinstance(member, User) and member.is_active
    refused = identity.sign_in(session, account(), policy)
    assert isinstance(refused, NotAllowed) and refused.user_id == member.id
    assert not member.is_active and member.deactivated_by_sso
    # Refused again while out of the group, without a second deactivation.
    assert isinstance(identity.sign_in(session, account(), policy), NotAllowed)
    back = identity.sign_in(session, account(groups=("staff",)), policy)
    assert back is member and member.is_active and not member.deactivated_by_sso
    actions = session.scalars(
        select(AuditLog.action).where(AuditLog.action.like("member.%")).order_by(AuditLog.id)
    ).all()
    assert actions == ["member.deactivate", "member.reactivate"]


def test_the_last_admin_is_refused_but_stays_active(session: Session) -> None:
    policy = SignInPolicy.of(required_groups=["staff"])
    admin = identity.sign_in(session, account(groups=("staff",)), policy)
    assert isinstance(admin, User)
    admin.role = Role.ADMIN
    session.flush()
    assert isinstance(identity.sign_in(session, account(), policy), NotAllowed)
    assert admin.is_active


def test_a_deactivation_by_an_admin_is_not_undone_by_a_sign_in(session: Session) -> None:
    policy = SignInPolicy.of(required_groups=["staff"])
    member = identity.sign_in(session, account(groups=("staff",)), policy)
    assert isinstance(member, User)
    accounts.deactivate(session, None, member)
    with pytest.raises(Forbidden):
        identity.sign_in(session, account(groups=("staff",)), policy)
    assert not member.is_active


def test_linking_is_refused_outside_the_required_groups(session: Session) -> None:
    local = make_user(session, "ada", email="ada@example.org")
    with pytest.raises(Forbidden):
        identity.link(
            session,
            local,
            account(),
            password=TEST_PASSWORD,
            policy=SignInPolicy.of(required_groups=["staff"]),
        )
    assert session.scalar(select(Identity.id)) is None
