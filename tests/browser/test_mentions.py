"""@mention suggestions in a real browser, with the keyboard only."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer

pytestmark = pytest.mark.browser

PASSWORD = "a long test password"


@pytest.fixture(scope="module")
def members(live_server: LiveServer) -> LiveServer:
    """A writer and two members whose names start alike."""
    for username, name in (
        ("mentioner", "Mia Mentioner"),
        ("carla", "Carla Jones"),
        ("carlos", "Carlos Ruiz"),
    ):
        live_server.forum(
            "users",
            "create",
            "--username",
            username,
            "--email",
            f"{username}@example.com",
            "--display-name",
            name,
            "--password",
            PASSWORD,
        )
    return live_server


def test_mention_autocomplete_with_the_keyboard(members: LiveServer, page: Any) -> None:
    page.goto(members.url + "/login")
    page.get_by_label("Username or email").fill("mentioner")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("load")
    page.goto(members.url + "/articles/new")
    body = page.get_by_label("Text")
    body.click()
    body.type("Thanks @car")
    listbox = page.get_by_role("listbox", name="Members to mention")
    listbox.wait_for()
    options = listbox.get_by_role("option")
    # Suggestions arrive as the member types: wait for the last word's, not race them.
    expect(options).to_have_count(2)
    expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    assert "Carla Jones" in options.nth(0).inner_text()
    body.press("ArrowDown")
    assert options.nth(1).get_attribute("aria-selected") == "true"
    assert body.get_attribute("aria-activedescendant") == options.nth(1).get_attribute("id")
    body.press("Enter")
    expect(body).to_have_value("Thanks @carlos ")
    expect(listbox).to_be_hidden()
    body.type("and @carla")
    listbox.wait_for()
    body.press("Escape")
    expect(listbox).to_be_hidden()
    assert body.input_value() == "Thanks @carlos and @carla"
    # The focus never left the text: Escape closed the list, not the form.
    assert page.evaluate("document.activeElement.name") == "body"
