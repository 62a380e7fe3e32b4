"""LDAP sign-in against a real OpenLDAP server (Debian's slapd) with a test directory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import AuditLog, Department, Identity, Role, User
from forum.sso.ldap import DirectoryUnavailable, LdapSettings, authenticate
from tests.conftest import Browser
from tests.sso_servers import (
    LDAP_SERVICE,
    LDAP_SERVICE_PASSWORD,
    LDAP_SUFFIX,
    Slapd,
    free_port,
)

PEOPLE = f"ou=people,{LDAP_SUFFIX}"
GROUPS = f"ou=groups,{LDAP_SUFFIX}"


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    server = Slapd(tmp_path_factory.mktemp("slapd"))
    yield server
    server.stop()


def direct(slapd: Slapd, **changes: Any) -> LdapSettings:
    """Bind as the user; groups from the entry's memberOf."""
    options: dict[str, Any] = {
        "url": slapd.url,
        "user_dn_template": f"uid={{username}},{PEOPLE}",
        **changes,
    }
    return LdapSettings(**options)


def search_then_bind(slapd: Slapd, **changes: Any) -> LdapSettings:
    """Search with the service account; groups from a group search."""
    options: dict[str, Any] = {
        "url": slapd.url,
        "bind_dn": LDAP_SERVICE,
        "bind_password": LDAP_SERVICE_PASSWORD,
        "search_base": PEOPLE,
        "search_filter": "(&(objectClass=inetOrgPerson)(uid={username}))",
        "group_attribute": None,
        "group_search_base": GROUPS,
        **changes,
    }
    return LdapSettings(**options)


def test_direct_bind_reads_the_entry_and_its_groups(slapd: Slapd) -> None:
    account = authenticate(direct(slapd), "alice", "alice-password")
    assert account is not None
    assert (account.provider, account.username, account.display_name) == (
        "ldap",
        "alice",
        "Alice Liddell",
    )
    assert (account.email, account.department, account.job_title) == (
        "alice@example.org",
        "Engineering",
        "Staff Engineer",
    )
    assert len(account.subject) == 36  # entryUUID
    assert "forum-admins" in account.groups and f"cn=forum-admins,{GROUPS}" in account.groups


def test_search_then_bind_and_group_search(slapd: Slapd) -> None:
    account = authenticate(search_then_bind(slapd), "bob", "bob-password")
    assert account is not None and account.username == "bob"
    # No displayName in bob's entry: the cn stands in.
    assert account.display_name == "Bob Stone"
    assert "forum-moderators" in account.groups and "forum-admins" not in account.groups


def test_attribute_mapping(slapd: Slapd) -> None:
    settings = search_then_bind(slapd, attr_job_title="description", attr_department="title")
    account = authenticate(settings, "bob", "bob-password")
    assert account is not None
    assert (account.job_title, account.department) == ("Bob's description", "Researcher")


@pytest.mark.parametrize("mode", [direct, search_then_bind])
def test_wrong_or_empty_password_is_refused(slapd: Slapd, mode: Any) -> None:
    settings = mode(slapd)
    assert authenticate(settings, "alice", "wrong") is None
    # An empty password would be an anonymous bind, which LDAP accepts.
    assert authenticate(settings, "alice", "") is None
    assert authenticate(settings, "nobody", "alice-password") is None


@pytest.mark.parametrize(
    "username",
    ["*", "al*", "alice)(uid=*", "*)(|(uid=*", "alice)(|(objectClass=*", "bob\\2a"],
)
def test_filter_injection_is_refused(slapd: Slapd, username: str) -> None:
    for settings in (search_then_bind(slapd), direct(slapd)):
        assert authenticate(settings, username, "alice-password") is None
        assert authenticate(settings, username, "bob-password") is None


def test_an_unreachable_directory_says_so() -> None:
    with pytest.raises(DirectoryUnavailable):
        authenticate(
            search_then_bind_settings_at(f"ldap://127.0.0.1:{free_port()}"), "bob", "bob-password"
        )


def search_then_bind_settings_at(url: str) -> LdapSettings:
    return LdapSettings(
        url=url,
        bind_dn=LDAP_SERVICE,
        bind_password=LDAP_SERVICE_PASSWORD,
        search_base=PEOPLE,
        timeout=2,
    )


@pytest.fixture
def app_config(app_config: dict[str, Any], slapd: Slapd) -> dict[str, Any]:
    return {
        **app_config,
        "LDAP_URL": slapd.url,
        "LDAP_BIND_DN": LDAP_SERVICE,
        "LDAP_BIND_PASSWORD": LDAP_SERVICE_PASSWORD,
        "LDAP_SEARCH_BASE": PEOPLE,
        "LDAP_ADMIN_GROUPS": "forum-admins",
        "LDAP_MODERATOR_GROUPS": f"cn=forum-moderators,{GROUPS}",
    }


def test_login_form_provisions_directory_members_with_roles(
    app: Flask, browser: Browser, session: Session
) -> None:
    session.add(Department(name="Engineering"))
    session.commit()
    response = browser.login("alice", "alice-password", query_string={"next": "/tags"})
    assert response.status_code == 302 and response.headers["Location"] == "/tags"
    alice = session.scalar(select(User).where(User.username == "alice"))
    assert alice is not None and alice.password_hash is None
    assert (alice.role, alice.department, alice.job_title, alice.email) == (
        Role.ADMIN,
        "Engineering",
        "Staff Engineer",
        "alice@example.org",
    )
    assert session.scalar(select(Identity.provider).where(Identity.user_id == alice.id)) == "ldap"
    actions = set(session.scalars(select(AuditLog.action)).all())
    assert {"sso.provision", "sso.role"} <= actions

    bob = Browser(app.test_client())
    assert bob.login("bob", "wrong").status_code == 200
    assert bob.login("*", "bob-password").status_code == 200
    assert session.scalar(select(User).where(User.username == "bob")) is None
    assert bob.login("bob", "bob-password").status_code == 302
    session.rollback()
    bob_user = session.scalar(select(User).where(User.username == "bob"))
    # Research is not on the managed list: left out.
    assert bob_user is not None and (bob_user.role, bob_user.department) == (Role.MODERATOR, None)
