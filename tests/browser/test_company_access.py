"""Who may see and join, in a real browser: members-only redirects, registration by invitation
(the email read from aiosmtpd) and by work-email domain, and a deactivation ending a live
session."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, LiveServer, create_member, log_in
from tests.mailbox import Inbox, smtp_inbox

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def invite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Inbox]]:
    """A members-only server where joining is by invitation; e-mail goes to aiosmtpd."""
    with smtp_inbox() as inbox:
        server = LiveServer(Path(tmp_path_factory.mktemp("invite")) / "instance")
        server.env.update(
            {
                "FORUM_PUBLIC_READ": "false",
                "FORUM_REGISTRATION": "invite",
                "FORUM_SMTP_URL": f"smtp://127.0.0.1:{inbox.port}",
                "FORUM_SITE_URL": server.url,
            }
        )
        server.start()
        server.forum_many(
            create_member("olga", "Olga Admin", admin=True), create_member("moira", "Moira Member")
        )
        try:
            yield server, inbox
        finally:
            server.stop()


def test_visitors_are_sent_to_the_login_page_and_back(
    invite_server: tuple[LiveServer, Inbox], page: Any
) -> None:
    server, _ = invite_server
    page.goto(server.url + "/tags")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    assert page.url.startswith(server.url + "/login")
    assert "next=%2Ftags" in page.url or "next=/tags" in page.url
    # Only the invitation link's page, not an open form.
    page.goto(server.url + "/register")
    expect(page.get_by_label("Password")).to_have_count(0)
    page.goto(server.url + "/questions")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    page.get_by_label("Username or email").fill("moira")
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation(url=server.url + "/questions"):
        page.get_by_role("button", name="Log in").click()
    expect(page.locator("header .account-link")).to_have_count(1)


def test_an_invitation_from_an_admin_lets_a_colleague_join(
    invite_server: tuple[LiveServer, Inbox], chromium: Any, page: Any
) -> None:
    server, inbox = invite_server
    log_in(page, server, "olga")
    page.locator("header details summary").filter(has_text="Olga Admin").click()
    page.get_by_role("link", name="Invite colleagues").click()
    page.get_by_label("Colleague's work email").fill("nadia@example.com")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("cell", name="nadia@example.com")).to_be_visible()

    [message] = inbox.wait(1, timeout=20)
    assert str(message["To"]) == "nadia@example.com"
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(re.escape(server.url) + r"/join/\S+", text)
    assert link is not None, text

    newcomer = chromium.new_context().new_page()
    try:
        newcomer.goto(link.group(0))
        expect(newcomer.get_by_label("Work email")).to_have_value("nadia@example.com")
        newcomer.get_by_label("Username").fill("nadia")
        newcomer.get_by_label("Display name").fill("Nadia Newcomer")
        newcomer.get_by_label("Password").fill("joining by invitation")
        newcomer.get_by_role("button", name="Create account").click()
        expect(newcomer.locator("header .account-link")).to_have_count(1)
        newcomer.goto(server.url + "/users/nadia")
        expect(newcomer.get_by_role("heading", name="Nadia Newcomer")).to_be_visible()
    finally:
        newcomer.context.close()
    # The link works once.
    later = chromium.new_context().new_page()
    try:
        later.goto(link.group(0))
        expect(later.get_by_text("already been used")).to_be_visible()
    finally:
        later.context.close()


def test_deactivation_ends_a_live_session(
    invite_server: tuple[LiveServer, Inbox], page: Any
) -> None:
    server, _ = invite_server
    server.forum(*create_member("leaver", "Lee Leaver"))
    log_in(page, server, "leaver")
    page.goto(server.url + "/questions")
    expect(page.locator("header .account-link")).to_have_count(1)

    server.forum("users", "deactivate", "leaver")
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    expect(page.get_by_text("Your login session has ended")).to_be_visible()
    # And the password no longer logs in.
    page.get_by_label("Username or email").fill("leaver")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    expect(page.locator("header .account-link")).to_have_count(0)


@pytest.fixture(scope="module")
def domain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server where anyone with a northwind.example address may register."""
    server = LiveServer(Path(tmp_path_factory.mktemp("domain")) / "instance")
    server.env.update(
        {
            "FORUM_PUBLIC_READ": "false",
            "FORUM_REGISTRATION": "domain",
            "FORUM_ALLOWED_EMAIL_DOMAINS": "northwind.example",
        }
    )
    server.start()
    yield server
    server.stop()


def test_registration_by_work_email_domain(domain_server: LiveServer, page: Any) -> None:
    page.goto(domain_server.url + "/login")
    page.get_by_role("link", name=re.compile("Register|Join|Create an account")).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Join forum")
    page.get_by_label("Username").fill("dora")
    page.get_by_label("Work email").fill("dora@gmail.example")
    page.get_by_label("Display name").fill("Dora Domain")
    page.get_by_label("Password").fill("a work address only")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#email-error")).to_contain_text(
        "Use your work email address (@northwind.example)."
    )
    # What was typed is kept.
    expect(page.get_by_label("Display name")).to_have_value("Dora Domain")
    page.get_by_label("Work email").fill("dora@northwind.example")
    page.get_by_label("Password").fill("a work address only")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("header .account-link")).to_have_count(1)
