"""Password reset in a real browser on a members-only site, the e-mail read from aiosmtpd."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, create_member, log_in
from tests.mailbox import Inbox, smtp_inbox

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def mail_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Inbox]]:
    """A members-only server whose e-mail goes to a local SMTP server."""
    with smtp_inbox() as inbox:
        server = LiveServer(Path(tmp_path_factory.mktemp("reset")) / "instance")
        server.env["FORUM_PUBLIC_READ"] = "false"
        server.env["FORUM_SMTP_URL"] = f"smtp://127.0.0.1:{inbox.port}"
        server.env["FORUM_SITE_URL"] = server.url
        server.start()
        server.forum(*create_member("ines", "Inês Ibáñez"))
        try:
            yield server, inbox
        finally:
            server.stop()


def test_a_forgotten_password_is_reset_from_the_email(
    mail_server: tuple[LiveServer, Inbox], chromium: Any, page: Any
) -> None:
    server, inbox = mail_server
    # Logged in on another device, whose session the reset will end.
    laptop = chromium.new_context()
    other = laptop.new_page()
    log_in(other, server, "ines")

    page.goto(server.url + "/questions")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    page.get_by_role("link", name="Forgot password?").click()
    page.get_by_label("Work email").fill("ines@example.com")
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_text("If an account uses ines@example.com")).to_be_visible()

    [message] = inbox.wait(1, timeout=20)
    assert str(message["To"]) == "Inês Ibáñez <ines@example.com>"
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(re.escape(server.url) + r"/password/reset/\S+", text)
    assert link is not None, text
    page.goto(link.group(0))
    page.get_by_label("New password").fill("a fresh start at northwind")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_text("Your new password is set")).to_be_visible()

    page.get_by_label("Username or email").fill("ines")
    page.get_by_label("Password").fill("a fresh start at northwind")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("header .account-link")).to_have_count(1)

    other.reload()
    expect(other.get_by_role("heading", level=1)).to_have_text("Log in")
    laptop.close()
