"""The member's front page on demo content: every block, the search box, and a phone screen."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    PHONE,
    LiveServer,
    describe_violations,
    log_in,
    run_axe,
    sideways_overflow,
)

pytestmark = pytest.mark.browser


def test_the_member_front_page_shows_each_block(demo_server: LiveServer, page: Any) -> None:
    log_in(page, demo_server, "luis")
    page.goto(demo_server.url + "/")
    main = page.locator("main")
    expect(main.get_by_role("heading", level=1)).to_contain_text("Luis")
    # Ask and Write, prominent, and the page's own search box.
    expect(main.get_by_role("link", name="Ask a question")).to_be_visible()
    expect(main.get_by_role("link", name="Write a tip or tutorial")).to_be_visible()
    for heading in (
        "Waiting for an answer",
        "Latest tips and tutorials",
        "Since your last visit",
        "Your next circle session",
        "Your learning paths",
    ):
        expect(main.get_by_role("heading", name=heading, level=2)).to_be_visible()
    # The demo has questions waiting, tutorials, luis's circle session and path.
    expect(page.locator("#waiting .question-summary").first).to_be_visible()
    expect(page.locator("#latest-articles .article-item").first).to_be_visible()
    expect(page.locator("#next-session a[href^='/circles/sessions/']")).to_be_visible()
    expect(page.locator("#paths progress").first).to_be_visible()
    # Luis follows no tag yet: the checklist says so and leads to the tags.
    start = main.get_by_role("region", name="Start here")
    expect(start.get_by_role("link", name="Follow a few tags")).to_have_attribute("href", "/tags")

    search = main.get_by_role("searchbox", name="Search questions, tips and tutorials")
    search.fill("postgresql")
    search.press("Enter")
    page.wait_for_load_state("load")
    assert "/search?q=postgresql" in page.url


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_visitor_front_page_is_accessible(
    demo_server: LiveServer, chromium: Any, scheme: str
) -> None:
    context = chromium.new_context(color_scheme=scheme)
    page = context.new_page()
    try:
        page.goto(demo_server.url + "/")
        expect(page.get_by_role("heading", name="How to begin")).to_be_visible()
        serious = [v for v in run_axe(page) if v["impact"] in ("serious", "critical")]
        assert serious == [], describe_violations(serious)
    finally:
        context.close()


def test_the_front_page_fits_a_phone(demo_server: LiveServer, chromium: Any) -> None:
    context = chromium.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(demo_server.url + "/")
        assert sideways_overflow(page) <= 0
        log_in(page, demo_server, "luis")
        page.goto(demo_server.url + "/")
        assert sideways_overflow(page) <= 0
        box = page.locator("#home-search-q").bounding_box()
        assert box is not None and box["x"] + box["width"] <= PHONE["width"]
    finally:
        context.close()
