"""Two-factor authentication in a real browser: set it up, then log in with a code."""

from __future__ import annotations

import time
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, LiveServer, create_member, log_in

pytestmark = pytest.mark.browser


def test_enrol_and_log_in_with_a_code(live_server: LiveServer, page: Any) -> None:
    live_server.forum(*create_member("tova", "Tova Two"))
    log_in(page, live_server, "tova")
    page.goto(live_server.url + "/settings/two-factor")
    page.get_by_role("button", name="Set up two-factor authentication").click()
    totp = pyotp.TOTP(page.locator("code.totp-secret").inner_text())
    page.get_by_label("Code").fill(totp.now())
    page.get_by_role("button", name="Turn two-factor on").click()
    expect(page.get_by_text("Two-factor authentication is on.").first).to_be_visible()
    expect(page.locator("ul.recovery-codes li")).to_have_count(10)
    # Leave the page first: a request of its still under way could set the cookie again.
    page.goto("about:blank")
    page.context.clear_cookies()

    page.goto(live_server.url + "/login")
    page.get_by_label("Username or email").fill("tova")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your code")
    page.get_by_label("Code").fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("header .account-link")).to_have_count(1)
