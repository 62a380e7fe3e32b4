"""A newcomer's first minutes in a real browser."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, LiveServer, create_member

pytestmark = pytest.mark.browser


def test_newcomer_registers_logs_out_and_in_again(live_server: LiveServer, page: Any) -> None:
    # A colleague already in Support (``users create`` adds the department to the list).
    live_server.forum(*create_member("sam", "Sam Support"), "--department", "Support")
    page.goto(live_server.url + "/")
    page.locator("header").get_by_role("link", name="Join", exact=True).click()
    page.get_by_label("Username").fill("newhire")
    page.get_by_label("Work email").fill("newhire@example.com")
    page.get_by_label("Display name").fill("Nadia Newhire")
    page.get_by_label("Department").select_option("Support")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    # The weak password is refused and what was typed is still there.
    assert page.get_by_text("Use at least 10 characters.").is_visible()
    assert page.get_by_label("Display name").input_value() == "Nadia Newhire"
    assert page.get_by_label("Department").input_value() == "Support"
    page.get_by_label("Password").fill("my first day at northwind")
    page.get_by_role("button", name="Create account").click()

    header = page.locator("header.site-header")
    account = header.locator(".account-menu > summary")
    assert account.is_visible() and "Nadia Newhire" in account.inner_text()
    assert page.get_by_role("heading", level=1).inner_text() == "Nadia Newhire"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "profile-desktop.png"), full_page=True)

    account.click()
    header.get_by_role("button", name="Log out").click()
    assert page.get_by_text("You have logged out.").is_visible()
    assert header.get_by_text("Nadia Newhire").count() == 0

    header.get_by_role("link", name="Log in").click()
    page.get_by_label("Username or email").fill("newhire@example.com")
    page.get_by_label("Password").fill("my first day at northwind")
    page.get_by_role("button", name="Log in").click()
    account = header.locator(".account-menu > summary")
    assert account.is_visible() and "Nadia Newhire" in account.inner_text()


def test_pages_fit_a_phone_without_sideways_scrolling(
    live_server: LiveServer, chromium: Any
) -> None:
    context = chromium.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    for path in ("/", "/login", "/register", "/users"):
        page.goto(live_server.url + path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (path, overflow)
    page.goto(live_server.url + "/register")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "register-phone.png"), full_page=True)
    context.close()
