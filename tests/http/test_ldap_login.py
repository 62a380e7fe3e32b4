"""LDAP sign-in against a real OpenLDAP server (Debian's slapd) with a test directory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import AuditLog, Department, Identity, Role, User
from forum.sso.flow import DIRECTORY_UNAVAILABLE
from forum.sso.ldap import DirectoryUnavailable, LdapSettings, authenticate
from tests.conftest import Browser
from tests.sso_servers import (
    LDAP_SERVICE,
    LDAP_SERVICE_PASSWORD,
    LDAP_SUFFIX,
    Slapd,
    free_port,
    make_ca,
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


def test_members_out_of_the_required_group_are_refused_and_deactivated(
    app: Flask, session: Session, slapd: Slapd
) -> None:
    app.config.update(LDAP_REQUIRED_GROUPS="forum-moderators", PUBLIC_READ=False)
    bob = Browser(app.test_client())
    assert bob.login("bob", "bob-password").status_code == 302
    assert bob.get("/tags").status_code == 200
    # alice is in forum-admins only: refused, and no member is created.
    refused = Browser(app.test_client()).login("alice", "alice-password")
    assert refused.status_code == 403
    assert "not in a group allowed" in refused.get_data(as_text=True)
    assert session.scalar(select(User).where(User.username == "alice")) is None
    try:
        slapd.set_members("forum-moderators", ["alice"])
        assert Browser(app.test_client()).login("bob", "bob-password").status_code == 403
        session.rollback()
        member = session.scalar(select(User).where(User.username == "bob"))
        assert member is not None and not member.is_active and member.deactivated_by_sso
        assert bob.get("/tags").status_code == 302  # the live session has ended
    finally:
        slapd.set_members("forum-moderators", ["bob"])
    assert Browser(app.test_client()).login("bob", "bob-password").status_code == 302
    session.rollback()
    member = session.scalar(select(User).where(User.username == "bob"))
    assert member is not None and member.is_active
    actions = session.scalars(
        select(AuditLog.action).where(AuditLog.target_id == member.id).order_by(AuditLog.id)
    ).all()
    assert actions[-2:] == ["member.deactivate", "member.reactivate"]


# ---------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def tls_slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    server = Slapd(tmp_path_factory.mktemp("slapd-tls"), tls=True)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def wrong_ca(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(make_ca(tmp_path_factory.mktemp("other-ca"), "another CA").cert_file)


def _tls_settings(server: Slapd, mode: str, ca_file: str) -> LdapSettings:
    if mode == "ldaps":
        assert server.ldaps_url is not None
        return search_then_bind(server, url=server.ldaps_url, ca_file=ca_file, timeout=3)
    return search_then_bind(server, start_tls=True, ca_file=ca_file, timeout=3)


@pytest.mark.parametrize("mode", ["ldaps", "starttls"])
def test_tls_with_the_servers_ca(tls_slapd: Slapd, mode: str) -> None:
    assert tls_slapd.ca is not None
    account = authenticate(
        _tls_settings(tls_slapd, mode, str(tls_slapd.ca.cert_file)), "bob", "bob-password"
    )
    assert account is not None and account.username == "bob"


@pytest.mark.parametrize("mode", ["ldaps", "starttls"])
def test_tls_with_another_ca_fails(tls_slapd: Slapd, wrong_ca: str, mode: str) -> None:
    with pytest.raises(DirectoryUnavailable):
        authenticate(_tls_settings(tls_slapd, mode, wrong_ca), "bob", "bob-password")


@pytest.mark.parametrize("mode", ["ldaps", "starttls"])
def test_login_over_tls_refuses_a_certificate_of_another_ca(
    app: Flask,
    session: Session,
    tls_slapd: Slapd,
    wrong_ca: str,
    mode: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert tls_slapd.ca is not None and tls_slapd.ldaps_url is not None
    app.config.update(
        LDAP_URL=tls_slapd.ldaps_url if mode == "ldaps" else tls_slapd.url,
        LDAP_START_TLS=mode == "starttls",
        LDAP_CA_FILE=str(tls_slapd.ca.cert_file),
        LDAP_TIMEOUT=3,
    )
    assert Browser(app.test_client()).login("bob", "bob-password").status_code == 302

    app.config["LDAP_CA_FILE"] = wrong_ca
    with caplog.at_level("WARNING"):
        refused = Browser(app.test_client()).login("alice", "alice-password")
    assert refused.status_code == 503
    assert DIRECTORY_UNAVAILABLE in refused.get_data(as_text=True)
    assert "LDAP directory unavailable" in caplog.text
    assert session.scalar(select(User).where(User.username == "alice")) is None


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_a_directory_login_never_leaves_the_site(app: Flask, target: str) -> None:
    answer = Browser(app.test_client()).login("bob", "bob-password", query_string={"next": target})
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
