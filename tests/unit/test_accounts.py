"""The accounts service: registration rules, authentication, passwords and roles."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from forum.models import Role, User
from forum.services import accounts, departments
from forum.services.accounts import PasswordPolicy, ProfileData
from forum.services.errors import Forbidden, NotFound, ValidationError
from tests.conftest import TEST_HASH_METHOD, TEST_PASSWORD
from tests.factories import make_user

POLICY = PasswordPolicy(hash_method=TEST_HASH_METHOD)


def register(
    session: Session,
    username: str = "ada",
    email: str = "ada@example.com",
    password: str = TEST_PASSWORD,
    **profile: str,
) -> User:
    data = ProfileData(display_name=profile.pop("display_name", "Ada L."), email=email, **profile)
    return accounts.register(
        session, username=username, password=password, profile=data, policy=POLICY
    )


def test_register_normalises_and_hashes(session: Session) -> None:
    departments.ensure(session, "Engineering")
    user = register(
        session, username="  Ada.Dev ", email="Ada@Example.COM", department=" engineering "
    )
    assert user.username == "ada.dev"
    assert user.email == "ada@example.com"
    assert user.department == "Engineering"
    assert user.role is Role.MEMBER
    assert user.password_hash and user.password_hash.startswith("scrypt:1024:8:1$")
    assert TEST_PASSWORD not in user.password_hash


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"username": "ab"}, "username"),
        ({"username": "has space"}, "username"),
        ({"username": "admin"}, "username"),
        ({"email": "not-an-email"}, "email"),
        ({"password": "short"}, "password"),
        ({"display_name": "   "}, "display_name"),
    ],
)
def test_register_rejects_bad_input_per_field(
    session: Session, kwargs: dict[str, str], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        register(session, **kwargs)
    assert field in caught.value.errors


def test_duplicates_are_case_insensitive(session: Session) -> None:
    register(session)
    session.flush()
    with pytest.raises(ValidationError) as caught:
        register(session, username="ADA", email="ADA@example.com")
    assert set(caught.value.errors) == {"username", "email"}


def test_authenticate_by_username_or_email(session: Session) -> None:
    register(session)
    assert accounts.authenticate(session, "ada", TEST_PASSWORD, POLICY) is not None
    assert accounts.authenticate(session, "ADA@example.com", TEST_PASSWORD, POLICY) is not None
    assert accounts.authenticate(session, "ada", "wrong password", POLICY) is None
    assert accounts.authenticate(session, "nobody", TEST_PASSWORD, POLICY) is None


def test_login_upgrades_old_hashes(session: Session) -> None:
    user = register(session)
    old_hash = user.password_hash
    stronger = PasswordPolicy(hash_method="scrypt:2048:8:1")
    assert accounts.authenticate(session, "ada", TEST_PASSWORD, stronger) is user
    assert user.password_hash != old_hash
    assert user.password_hash and user.password_hash.startswith("scrypt:2048:8:1$")
    # The new hash still verifies.
    assert accounts.authenticate(session, "ada", TEST_PASSWORD, stronger) is user


def test_inactive_and_passwordless_accounts_cannot_log_in(session: Session) -> None:
    make_user(session, "imported", password_hash=None)
    make_user(session, "gone", is_active=False)
    assert accounts.authenticate(session, "imported", "", POLICY) is None
    assert accounts.authenticate(session, "gone", TEST_PASSWORD, POLICY) is None


def test_changing_password_rotates_the_session_token(session: Session) -> None:
    user = register(session)
    session.flush()
    old_id = user.get_id()
    with pytest.raises(ValidationError) as caught:
        accounts.change_password(session, user, current="wrong", new="x", policy=POLICY)
    assert set(caught.value.errors) == {"current_password", "new_password"}
    accounts.change_password(
        session, user, current=TEST_PASSWORD, new="a brand new passphrase", policy=POLICY
    )
    assert user.get_id() != old_id
    assert user.get_id().startswith(f"{user.id}.")


def test_update_profile_keeps_email_unique(session: Session) -> None:
    make_user(session, "other", email="taken@example.com")
    user = register(session)
    with pytest.raises(ValidationError) as caught:
        accounts.update_profile(
            session, user, ProfileData(display_name="Ada", email="TAKEN@example.com")
        )
    assert "email" in caught.value.errors
    accounts.update_profile(
        session, user, ProfileData(display_name="Ada Lovelace", email="ada@example.com", bio="Hi")
    )
    assert user.display_name == "Ada Lovelace" and user.bio == "Hi"


def test_roles_change_only_by_admins_and_one_admin_remains(session: Session) -> None:
    admin = make_user(session, "boss", role=Role.ADMIN)
    member = make_user(session, "worker")
    with pytest.raises(Forbidden):
        accounts.set_role(session, actor=member, user=member, role=Role.ADMIN)
    accounts.set_role(session, actor=admin, user=member, role=Role.MODERATOR)
    assert member.role is Role.MODERATOR and member.is_moderator and not member.is_admin
    with pytest.raises(ValidationError):
        accounts.set_role(session, actor=admin, user=admin, role=Role.MEMBER)
    accounts.set_role(session, actor=admin, user=member, role=Role.ADMIN)
    session.flush()
    # With another admin, still not by themselves: the other admin demotes them.
    with pytest.raises(ValidationError, match="Ask another admin"):
        accounts.set_role(session, actor=admin, user=admin, role=Role.MEMBER)
    accounts.set_role(session, actor=member, user=admin, role=Role.MEMBER)
    assert admin.role is Role.MEMBER


def test_unknown_username_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound):
        accounts.get_by_username(session, "ghost")


def test_member_list_filters_and_counts(session: Session) -> None:
    make_user(session, "zed", display_name="Zed Alpha", department="Sales")
    make_user(session, "amy", display_name="Amy Beta", department="HR")
    make_user(session, "bob", display_name="Bob Alpha", department="Sales")
    members, total = accounts.list_members(session, department="Sales")
    assert total == 2 and [m.username for m in members] == ["bob", "zed"]
    members, total = accounts.list_members(session, query="alpha", per_page=1, page=2)
    assert total == 2 and [m.username for m in members] == ["zed"]
    assert departments.names(session) == ["HR", "Sales"]


@pytest.mark.parametrize(
    "name", ["Anonymous colleague", "Fоrmer member", "The Moderators", "Someone", "Ada\u202eX"]
)
def test_display_names_imitating_labels_are_refused_on_register_and_edit(
    session: Session, name: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        register(session, display_name=name)
    assert set(caught.value.errors) == {"display_name"}
    user = register(session)
    with pytest.raises(ValidationError) as caught:
        accounts.update_profile(
            session, user, ProfileData(display_name=name, email="ada@example.com")
        )
    assert set(caught.value.errors) == {"display_name"}
    assert user.display_name == "Ada L."
