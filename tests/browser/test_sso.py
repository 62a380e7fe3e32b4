"""Signing in through the OpenID provider's real login page, in Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import LiveServer
from tests.sso_servers import OidcProvider

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Any]]:
    server = LiveServer(tmp_path_factory.mktemp("sso-live") / "instance")
    provider = OidcProvider(
        tmp_path_factory.mktemp("sso-provider"), [f"{server.url}/login/oidc/callback"]
    )
    provider.set_accounts(
        {
            "grace": {
                "email": "grace@example.org",
                "email_verified": True,
                "name": "Grace Hopper",
                "preferred_username": "grace",
                "department": "Engineering",
                "groups": ["forum-mods"],
            }
        }
    )
    server.env.update({f"FORUM_{key}": str(value) for key, value in provider.app_config().items()})
    server.env.update(
        {"FORUM_OIDC_CLAIM_GROUPS": "groups", "FORUM_OIDC_MODERATOR_GROUPS": "forum-mods"}
    )
    server.start()
    yield server, provider
    server.stop()
    provider.stop()


def test_sign_in_through_the_providers_login_page(page: Any, sso_server: Any) -> None:
    server, provider = sso_server
    page.goto(server.url + "/login?next=/tags")
    with page.expect_navigation():
        page.get_by_role("link", name="Sign in with Example SSO").click()
    # oidc-provider's own login page.
    assert page.url.startswith(provider.issuer)
    page.locator('input[name="login"]').fill("grace")
    page.locator('input[name="password"]').fill("any password")
    with page.expect_navigation(url=f"{server.url}/tags"):
        page.get_by_role("button", name="Sign-in").click()
    assert page.locator("header .account-link").count() == 1
    page.goto(server.url + "/users/grace")
    assert "Grace Hopper" in page.content()
