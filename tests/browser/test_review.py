"""Suggested edits in a real browser: a newcomer suggests, a moderator reviews and approves."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import LiveServer, log_in

pytestmark = pytest.mark.browser

TITLE = "Where do I find the data dictionary for the warehouse?"
ADDED = "I need it for the churn dashboard, which counts active customers per region."
SUMMARY = "Said what the definition is needed for"


def test_suggest_review_and_approve(demo_server: LiveServer, chromium: Any) -> None:
    newcomer = chromium.new_context()
    page = newcomer.new_page()
    log_in(page, demo_server, "tom")
    page.goto(demo_server.url + "/questions?tab=newest")
    page.get_by_role("link", name=TITLE).first.click()
    question_url = page.url
    actions = page.locator(".post--question .post__actions")
    assert actions.get_by_role("link", name="Edit", exact=True).count() == 0
    actions.get_by_role("link", name="Suggest edit").click()
    body = page.get_by_label("Question", exact=True)
    body.fill(body.input_value().rstrip() + "\n\n" + ADDED + "\n")
    page.get_by_label("Edit summary").fill(SUMMARY)
    with page.expect_navigation():
        page.get_by_role("button", name="Suggest edit").click()
    assert "waits for review" in page.locator("main").inner_text()
    page.goto(question_url)
    assert ADDED not in page.locator(".post--question .post__body").inner_text()
    assert page.locator(".post--question .pending-edit").inner_text() == "An edit is pending review"
    newcomer.close()

    reviewer = chromium.new_context()
    page = reviewer.new_page()
    log_in(page, demo_server, "jonas")
    page.locator("header .account-menu summary").click()
    page.locator("header .account-menu").get_by_role("link", name="Suggested edits").click()
    entry = page.locator(".suggested-edits li", has_text=SUMMARY)
    entry.get_by_role("link").click()
    assert ADDED in page.locator("main").inner_text()  # the diff shows the added line
    page.get_by_label("Note to the member").fill("Thanks, that helps answerers.")
    with page.expect_navigation():
        page.get_by_role("button", name="Approve").click()
    assert "The edit is applied" in page.locator("main").inner_text()
    assert page.locator(".suggested-edits li", has_text=SUMMARY).count() == 0
    page.goto(question_url)
    assert ADDED in page.locator(".post--question .post__body").inner_text()
    assert page.locator(".post--question .pending-edit").count() == 0
    reviewer.close()
