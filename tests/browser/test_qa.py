"""Voting in a real browser: the score changes without a page reload."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, LiveServer, log_in

pytestmark = pytest.mark.browser


def test_voting_updates_the_score_without_reloading(demo_server: LiveServer, page: Any) -> None:
    log_in(page, demo_server, "luis")
    page.goto(demo_server.url + "/questions?tab=top")
    page.locator(".question-summary__title a").first.click()
    widget = page.locator("form.votes[data-vote-widget]").first
    score = widget.locator(".votes__score")
    before = int(score.inner_text())
    # A marker on the window survives only if the page is not reloaded.
    page.evaluate("window.__stillHere = true")
    widget.get_by_role("button", name="Vote up").click()
    page.wait_for_function(
        "([el, old]) => Number(el.textContent) !== old", arg=[score.element_handle(), before]
    )
    assert int(score.inner_text()) == before + 1
    assert page.evaluate("window.__stillHere") is True
    assert widget.get_by_role("button", name="Vote up").get_attribute("aria-pressed") == "true"
    # Clicking again undoes the vote, still without a reload.
    widget.get_by_role("button", name="Vote up").click()
    page.wait_for_function(
        "([el, old]) => Number(el.textContent) === old", arg=[score.element_handle(), before]
    )
    assert page.evaluate("window.__stillHere") is True
    # The server kept the result: a fresh load shows the original score.
    page.reload()
    assert int(page.locator("form.votes .votes__score").first.inner_text()) == before
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "question-desktop.png"), full_page=True)


def test_voting_works_without_javascript(demo_server: LiveServer, chromium: Any) -> None:
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in(page, demo_server, "olivia")
    page.goto(demo_server.url + "/questions?tab=newest")
    page.locator(".question-summary__title a").first.click()
    url = page.url
    score = page.locator("form.votes .votes__score").first
    before = int(score.inner_text())
    page.locator("form.votes").first.get_by_role("button", name="Vote up").click()
    assert page.url.split("#")[0] == url.split("#")[0]
    after = int(page.locator("form.votes .votes__score").first.inner_text())
    assert after == before + 1
    context.close()


def test_question_pages_fit_a_phone(demo_server: LiveServer, chromium: Any) -> None:
    context = chromium.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    for path in ("/questions", "/tags", "/questions/1", "/tags/postgresql"):
        page.goto(demo_server.url + path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (path, overflow)
    context.close()
