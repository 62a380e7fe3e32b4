"""Drafts in a real browser: what a member types survives closing the tab."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, create_member, log_in

pytestmark = pytest.mark.browser


def test_a_draft_comes_back_after_closing_the_tab(live_server: LiveServer, page: Any) -> None:
    live_server.forum(*create_member("drafter", "Dana Drafter"))
    log_in(page, live_server, "drafter")
    page.goto(live_server.url + "/questions/ask")
    page.get_by_label("Title").fill("How do I restore the staging database?")
    page.get_by_label("Your question").fill("I tried the nightly dump, but")
    status = page.locator("[data-draft-status]")
    status.filter(has_text="Draft saved").wait_for()

    # A new tab of the same browser; the first one is closed without sending the form.
    again = page.context.new_page()
    page.close()
    again.goto(live_server.url + "/questions/ask")
    assert again.get_by_label("Title").input_value() == "How do I restore the staging database?"
    assert again.get_by_label("Your question").input_value() == "I tried the nightly dump, but"
    assert again.locator("[data-draft-notice]").is_visible()

    again.goto(live_server.url + "/drafts")
    assert again.get_by_role("link", name="Question: How do I restore the staging database?")


def test_leaving_a_changed_form_asks_first(live_server: LiveServer, page: Any) -> None:
    live_server.forum(*create_member("leaver", "Lee Leaver"))
    log_in(page, live_server, "leaver")
    # The server keeps no draft this time, so the change stays unsaved however long it takes.
    page.route("**/drafts/autosave", lambda route: route.abort())
    page.goto(live_server.url + "/questions/ask")
    page.get_by_label("Your question").fill("Something not saved yet")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    page.evaluate("window.location.href = '/questions'")
    page.wait_for_timeout(500)
    assert dialogs == ["beforeunload"]
    assert page.url.endswith("/questions/ask")
    # Sending the form is no reason to ask.
    page.get_by_label("Title").fill("Why is nothing saved here yet?")
    page.get_by_label("Tags").fill("general")
    page.get_by_role("button", name="Post your question").click()
    page.wait_for_load_state("load")
    assert dialogs == ["beforeunload"]


def test_a_form_sent_after_logging_out_and_in_elsewhere_keeps_its_text(
    live_server: LiveServer, page: Any
) -> None:
    live_server.forum(*create_member("twotabs", "Tess Twotabs"))
    log_in(page, live_server, "twotabs")
    page.route("**/drafts/autosave", lambda route: route.abort())  # only the form counts here
    page.goto(live_server.url + "/questions/ask")
    page.get_by_label("Title").fill("Which runner builds the release images?")
    page.get_by_label("Your question").fill("Three paragraphs I would hate to type again.")
    page.get_by_label("Tags").fill("general")

    # Another tab of the same browser logs out and in again: the first tab's token is stale.
    other = page.context.new_page()
    other.goto(live_server.url + "/")
    header = other.locator("header.site-header")
    header.locator(".account-menu > summary").click()
    header.get_by_role("button", name="Log out").click()
    other.wait_for_load_state("load")
    log_in(other, live_server, "twotabs")
    other.close()

    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Post your question").click()
    page.wait_for_load_state("load")
    expect(page.get_by_text("its security token (CSRF) had expired")).to_be_visible()
    expect(page.get_by_label("Title")).to_have_value("Which runner builds the release images?")
    expect(page.get_by_label("Your question")).to_have_value(
        "Three paragraphs I would hate to type again."
    )
    # The page came back with a fresh token: sending again posts the question.
    page.get_by_role("button", name="Post your question").click()
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Which runner builds the release images?"
    )
