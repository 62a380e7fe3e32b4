"""Signing in with a directory account through the login form, in Chromium, against slapd."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer
from tests.sso_servers import LDAP_SERVICE, LDAP_SERVICE_PASSWORD, LDAP_SUFFIX, Slapd

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def ldap_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Slapd]]:
    """A members-only server checking passwords against slapd over StartTLS."""
    slapd = Slapd(tmp_path_factory.mktemp("slapd"), tls=True)
    assert slapd.ca is not None
    server = LiveServer(tmp_path_factory.mktemp("ldap-live") / "instance")
    server.env.update(
        {
            "FORUM_PUBLIC_READ": "false",
            "FORUM_LDAP_URL": slapd.url,
            "FORUM_LDAP_START_TLS": "true",
            "FORUM_LDAP_CA_FILE": str(slapd.ca.cert_file),
            "FORUM_LDAP_BIND_DN": LDAP_SERVICE,
            "FORUM_LDAP_BIND_PASSWORD": LDAP_SERVICE_PASSWORD,
            "FORUM_LDAP_SEARCH_BASE": f"ou=people,{LDAP_SUFFIX}",
            "FORUM_LDAP_MODERATOR_GROUPS": "forum-moderators",
            "FORUM_SSO_CREATE_DEPARTMENTS": "true",
        }
    )
    try:
        server.start()
        yield server, slapd
    finally:
        server.stop()
        slapd.stop()


def _log_in(page: Any, server: LiveServer, username: str, password: str) -> None:
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_directory_members_log_in_with_the_form(ldap_server: Any, page: Any) -> None:
    server, _ = ldap_server
    page.goto(server.url + "/tags")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    _log_in(page, server, "bob", "not bob's password")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    expect(page.locator("header .account-link")).to_have_count(0)

    _log_in(page, server, "bob", "bob-password")
    expect(page.locator("header .account-link")).to_have_count(1)
    assert page.url == f"{server.url}/tags"
    page.goto(server.url + "/users/bob")
    expect(page.get_by_role("heading", name="Bob Stone")).to_be_visible()
    expect(page.get_by_text("Research")).to_be_visible()
    expect(page.locator(".badge-role")).to_have_text("Moderator")
