"""Writing and reading articles in a real browser: toolbar, live preview, copy button, history."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, LiveServer

pytestmark = pytest.mark.browser

PASSWORD = "a long test password"


@pytest.fixture(scope="module")
def writer(live_server: LiveServer) -> LiveServer:
    """A member who writes articles."""
    live_server.forum(
        "users",
        "create",
        "--username",
        "writer",
        "--email",
        "writer@example.com",
        "--display-name",
        "Wendy Writer",
        "--moderator",  # new tags need the create_tags privilege, which moderators have
        "--password",
        PASSWORD,
    )
    return live_server


def log_in(page: Any, server: LiveServer) -> None:
    page.goto(server.url + "/login")
    page.get_by_label("Username or email").fill("writer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("load")


def test_write_with_toolbar_and_live_preview_then_edit(writer: LiveServer, page: Any) -> None:
    log_in(page, writer)
    page.goto(writer.url + "/articles")
    page.get_by_role("link", name="Write an article").click()
    page.get_by_label("Title").fill("Reviewing SQL migrations")
    page.get_by_label("Tutorial", exact=False).check()
    body = page.get_by_label("Text")
    body.fill("## Before you start\n\nRead the plan.\n\n## Checklist\n\n")
    body.press("End")
    page.get_by_role("button", name="Code").click()
    body.type("select 1;")
    body.press("Control+End")
    page.get_by_role("button", name="[[ ]]").click()
    # The preview follows the typing, rendered by the server.
    preview = page.locator("[data-preview]")
    preview.locator("a.wikilink--missing").wait_for()
    assert "Before you start" in preview.inner_text()
    assert "select 1;" in preview.locator("pre code").inner_text()
    page.get_by_label("Tags").fill("sql, review")
    page.get_by_role("button", name="Publish").click()

    assert page.get_by_role("heading", level=1).inner_text() == "Reviewing SQL migrations"
    toc = page.get_by_role("navigation", name="Contents")
    assert toc.get_by_role("link", name="Checklist").is_visible()
    # The copy button comes from a deferred script: wait for it rather than race it.
    expect(page.locator(".codeblock .codeblock__copy")).to_have_count(1)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "article-desktop.png"), full_page=True)

    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("Text").fill("## Before you start\n\nRead the plan twice.\n")
    page.get_by_label("Edit summary").fill("Shorter")
    page.get_by_role("button", name="Save changes").click()
    assert page.get_by_text("Your changes are saved.").is_visible()
    page.get_by_role("link", name="History").click()
    assert page.locator(".revision__summary", has_text="Shorter").is_visible()
    page.get_by_role("link", name="Compare with revision 1").click()
    assert page.locator(".diff__line--added").first.is_visible()


def test_preview_works_without_javascript(writer: LiveServer, chromium: Any) -> None:
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in(page, writer)
    page.goto(writer.url + "/articles/new")
    page.get_by_label("Title").fill("Draft without scripts")
    page.get_by_label("Text").fill("**bold move**")
    page.get_by_role("button", name="Preview").click()
    assert page.locator("[data-preview] strong").inner_text() == "bold move"
    assert page.get_by_label("Title").input_value() == "Draft without scripts"
    context.close()


def test_article_page_fits_a_phone(writer: LiveServer, chromium: Any) -> None:
    context = chromium.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    for path in ("/articles", "/articles/reviewing-sql-migrations", "/articles/stale"):
        page.goto(writer.url + path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (path, overflow)
    context.close()


def test_the_preview_sits_beside_the_text_on_a_wide_screen_and_below_it_on_a_phone(
    writer: LiveServer, page: Any
) -> None:
    log_in(page, writer)
    page.goto(writer.url + "/articles/new")
    toolbar = page.get_by_role("toolbar", name="Formatting")
    expect(toolbar).to_be_visible()
    page.get_by_label("Text").fill("Some **bold** advice.")
    preview = page.locator("[data-preview]")
    preview.locator("strong").wait_for()
    text = page.get_by_label("Text").bounding_box()
    shown = page.locator(".editor__preview").bounding_box()
    assert shown["x"] >= text["x"] + text["width"], (text, shown)
    assert abs(shown["y"] - text["y"]) < text["height"]
    page.set_viewport_size({"width": 375, "height": 740})
    text = page.get_by_label("Text").bounding_box()
    shown = page.locator(".editor__preview").bounding_box()
    assert shown["y"] >= text["y"] + text["height"], (text, shown)


def test_the_toolbar_is_hidden_without_javascript(writer: LiveServer, chromium: Any) -> None:
    context = chromium.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        log_in(page, writer)
        page.goto(writer.url + "/articles/new")
        expect(page.get_by_label("Text")).to_be_visible()
        expect(page.locator(".editor__toolbar")).to_be_hidden()
    finally:
        context.close()


def test_the_toolbar_is_one_tab_stop_with_arrow_keys_between_its_buttons(
    writer: LiveServer, page: Any
) -> None:
    log_in(page, writer)
    page.goto(writer.url + "/articles/new")
    toolbar = page.get_by_role("toolbar", name="Formatting")
    expect(toolbar).to_be_visible()
    page.get_by_label("Tutorial", exact=False).focus()
    page.keyboard.press("Tab")
    bold = toolbar.get_by_role("button", name="B", exact=True)
    expect(bold).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(toolbar.get_by_role("button", name="I", exact=True)).to_be_focused()
    page.keyboard.press("End")
    page.keyboard.press("ArrowRight")
    expect(bold).to_be_focused()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    # (The member's draft from an earlier test may follow the inserted text.)
    expect(page.get_by_label("Text")).to_have_value(re.compile(r"^_italic text_"))
    # Tab leaves the toolbar for the text in one step.
    toolbar.get_by_role("button", name="I", exact=True).focus()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Text")).to_be_focused()
