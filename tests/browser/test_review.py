"""Suggested edits in a real browser: a newcomer suggests, a moderator reviews and approves; and
deleting a comment asks first, without a script."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import LiveServer, describe_violations, log_in, run_axe

pytestmark = pytest.mark.browser

TITLE = "Where do I find the data dictionary for the warehouse?"
ADDED = "I need it for the churn dashboard, which counts active customers per region."
SUMMARY = "Said what the definition is needed for"


def _serious(page: Any) -> list[str]:
    """The page's serious and critical accessibility violations."""
    found = [v for v in run_axe(page) if v["impact"] in ("serious", "critical")]
    return describe_violations(found)


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
    assert _serious(page) == []
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
    assert _serious(page) == []
    entry = page.locator(".suggested-edits li", has_text=SUMMARY)
    entry.get_by_role("link").click()
    assert ADDED in page.locator("main").inner_text()  # the diff shows the added line
    assert _serious(page) == []
    with page.expect_navigation():
        page.get_by_role("button", name="Approve").click()
    assert "The edit is applied" in page.locator("main").inner_text()
    assert page.locator(".suggested-edits li", has_text=SUMMARY).count() == 0
    page.goto(question_url)
    assert ADDED in page.locator(".post--question .post__body").inner_text()
    assert page.locator(".post--question .pending-edit").count() == 0
    reviewer.close()


def test_deleting_a_comment_asks_first_without_javascript(
    demo_server: LiveServer, chromium: Any
) -> None:
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in(page, demo_server, "luis")
    page.goto(demo_server.url + "/questions?tab=newest")
    page.get_by_role("link", name=TITLE).first.click()
    comments = page.locator("section.comments").first  # the question's own, first on the page
    comments.locator("summary", has_text="Add a comment").click()
    comments.get_by_label("Your comment").fill("Is the dictionary in the wiki or in the warehouse?")
    with page.expect_navigation():
        comments.get_by_role("button", name="Add comment").click()
    mine = page.locator(".comment", has_text="Is the dictionary in the wiki")
    with page.expect_navigation():
        mine.get_by_role("link", name="Delete…").click()
    assert page.get_by_role("heading", name="Delete this comment?").count() == 1
    # Cancel leaves it alone.
    with page.expect_navigation():
        page.get_by_role("link", name="Cancel").click()
    assert page.locator(".comment", has_text="Is the dictionary in the wiki").count() == 1
    with page.expect_navigation():
        page.locator(".comment", has_text="Is the dictionary in the wiki").get_by_role(
            "link", name="Delete…"
        ).click()
    with page.expect_navigation():
        page.get_by_role("button", name="Delete the comment").click()
    assert page.locator(".comment", has_text="Is the dictionary in the wiki").count() == 0
    assert "The comment is deleted." in page.locator("main").inner_text()
    context.close()
