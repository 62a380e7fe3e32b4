"""Signing in through the OpenID provider's real login page, in Chromium."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, LiveServer, create_member, log_in
from tests.sso_servers import OidcProvider

pytestmark = pytest.mark.browser

GRACE = {
    "email": "grace@example.org",
    "email_verified": True,
    "name": "Grace Hopper",
    "preferred_username": "grace",
    "department": "Engineering",
    "groups": ["forum-mods", "staff"],
}


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Any]]:
    server = LiveServer(tmp_path_factory.mktemp("sso-live") / "instance")
    provider = OidcProvider(
        tmp_path_factory.mktemp("sso-provider"), [f"{server.url}/login/oidc/callback"]
    )
    provider.set_accounts({"grace": GRACE})
    server.env.update({f"FORUM_{key}": str(value) for key, value in provider.app_config().items()})
    server.env.update(
        {
            "FORUM_OIDC_CLAIM_GROUPS": "groups",
            "FORUM_OIDC_MODERATOR_GROUPS": "forum-mods",
            "FORUM_OIDC_REQUIRED_GROUPS": "staff",
            "FORUM_SSO_CREATE_DEPARTMENTS": "true",
            "FORUM_PUBLIC_READ": "false",
        }
    )
    server.start()
    yield server, provider
    server.stop()
    provider.stop()


def sign_in_at_the_provider(
    page: Any, server: LiveServer, provider: Any, path: str, account: str = "grace"
) -> None:
    """From the login page, through the provider's own login page as ``account``."""
    page.goto(f"{server.url}/login?next={path}")
    with page.expect_navigation():
        page.get_by_role("link", name="Sign in with Example SSO").click()
    # oidc-provider's own login page.
    assert page.url.startswith(provider.issuer)
    page.locator('input[name="login"]').fill(account)
    page.locator('input[name="password"]').fill("any password")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign-in").click()


def test_sign_in_through_the_providers_login_page(page: Any, sso_server: Any) -> None:
    server, provider = sso_server
    provider.set_accounts({"grace": GRACE})
    sign_in_at_the_provider(page, server, provider, "/tags")
    assert page.url == f"{server.url}/tags"
    assert page.locator("header .account-link").count() == 1
    page.goto(server.url + "/users/grace")
    assert "Grace Hopper" in page.content()
    expect(page.locator(".badge-role")).to_have_text("Moderator")
    expect(page.get_by_text("Engineering")).to_be_visible()


def test_the_next_sign_in_updates_the_department_and_demotes(
    chromium: Any, page: Any, sso_server: Any
) -> None:
    server, provider = sso_server
    provider.set_accounts({"grace": GRACE})
    before = chromium.new_context().new_page()
    try:
        sign_in_at_the_provider(before, server, provider, "/moderation")
        expect(before.get_by_role("heading", level=1)).to_contain_text("Moderation")
    finally:
        before.context.close()

    # Moved to Research and out of the moderators' group at the provider.
    provider.set_accounts({"grace": {**GRACE, "department": "Research", "groups": ["staff"]}})
    sign_in_at_the_provider(page, server, provider, "/users/grace")
    assert page.url == f"{server.url}/users/grace"
    expect(page.get_by_text("Research")).to_be_visible()
    expect(page.locator(".badge-role")).to_have_count(0)
    response = page.goto(server.url + "/moderation")
    assert response is not None and response.status == 403


def test_leaving_the_allowed_group_deactivates_at_next_sign_in(
    chromium: Any, page: Any, sso_server: Any
) -> None:
    server, provider = sso_server
    provider.set_accounts({"grace": GRACE})
    laptop = chromium.new_context().new_page()
    try:
        sign_in_at_the_provider(laptop, server, provider, "/questions")
        expect(laptop.locator("header .account-link")).to_have_count(1)

        provider.set_accounts({"grace": {**GRACE, "groups": ["forum-mods"]}})
        sign_in_at_the_provider(page, server, provider, "/questions")
        expect(page.get_by_text("not in a group allowed to use forum")).to_be_visible()
        expect(page.locator("header .account-link")).to_have_count(0)
        # The other device's session has ended too.
        laptop.reload()
        expect(laptop.get_by_role("heading", level=1)).to_have_text("Log in")
        expect(laptop.get_by_text("Your login session has ended")).to_be_visible()

        # Back in the group: signing in works again.
        provider.set_accounts({"grace": GRACE})
        page.context.clear_cookies()
        sign_in_at_the_provider(page, server, provider, "/questions")
        assert page.url == f"{server.url}/questions"
        expect(page.locator("header .account-link")).to_have_count(1)
    finally:
        laptop.context.close()


def test_linking_a_local_account_with_two_factor_asks_for_a_code(
    chromium: Any, page: Any, sso_server: Any
) -> None:
    server, provider = sso_server
    server.forum(*create_member("hedy", "Hedy Lamarr"))
    # Two-factor turned on in another browser (so no request of it can log this one in).
    setup = chromium.new_context().new_page()
    try:
        log_in(setup, server, "hedy")
        setup.goto(server.url + "/settings/two-factor")
        setup.get_by_role("button", name="Set up two-factor authentication").click()
        totp = pyotp.TOTP(setup.locator("code.totp-secret").inner_text())
        setup.get_by_label("Code").fill(totp.now())
        setup.get_by_role("button", name="Turn two-factor on").click()
        expect(setup.get_by_text("Two-factor authentication is on.").first).to_be_visible()
    finally:
        setup.context.close()

    hedy = {**GRACE, "email": "hedy@example.com", "name": "Hedy Lamarr"}
    provider.set_accounts({"hedy": {**hedy, "preferred_username": "hedy"}})
    sign_in_at_the_provider(page, server, provider, "/questions", account="hedy")
    expect(page.get_by_role("heading", level=1)).to_have_text("Link your account")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Link and log in").click()
    expect(page.get_by_text("That code is not right").first).to_be_visible()
    expect(page.locator("header .account-link")).to_have_count(0)

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Link and log in").click()
    expect(page.locator("header .account-link")).to_have_count(1)
    assert page.url == f"{server.url}/questions"
