"""A new hire's journey through forum in Chromium, with the mouse, the keyboard alone and no
JavaScript at all, against one server whose database starts empty."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, LiveServer, create_member, log_in

pytestmark = pytest.mark.browser

ONBOARDING = """---
title: Your first week at Northwind
slug: your-first-week
type: tutorial
tags: [onboarding, vpn, linux, hr, facilities]
---
## Day one

Collect your laptop from IT and ask your buddy for a tour.

## Getting access

Request VPN access in the service portal; it takes a day.
"""


@pytest.fixture(scope="module")
def forum(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> LiveServer:
    """Two colleagues already here and an onboarding tutorial to read."""
    folder: Path = tmp_path_factory.mktemp("onboarding")
    (folder / "your-first-week.md").write_text(ONBOARDING, encoding="utf-8")
    live_server.forum_many(
        create_member("carla", "Carla Colleague"),
        create_member("morgan", "Morgan Moderator", admin=True),
        create_member("kim", "Kim Keys"),
        ["import", "markdown", str(folder), "--author", "carla"],
    )
    return live_server


def _new_page(chromium: Any, **options: Any) -> tuple[Any, Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, **options)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page


def _register(page: Any, server: LiveServer, username: str, name: str) -> None:
    page.goto(server.url + "/")
    page.locator("header.site-header").get_by_role("link", name="Join", exact=True).click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Work email").fill(f"{username}@example.com")
    page.get_by_label("Display name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("header.site-header .account-menu > summary")).to_contain_text(name)


def _ask(page: Any, title: str, body: str, tags: str, *, anonymous: bool = False) -> str:
    """Fill in and post the ask form; returns the new question's URL."""
    page.get_by_label("Title").fill(title)
    page.get_by_label("Your question").fill(body)
    page.get_by_label("Tags").fill(tags)
    if anonymous:
        page.get_by_label("Ask anonymously").check()
    page.get_by_role("button", name="Post your question").click()
    assert page.get_by_role("heading", level=1).inner_text() == title
    return str(page.url)


def test_an_empty_forum_tells_a_newcomer_what_to_do_next(
    live_server: LiveServer, page: Any
) -> None:
    # Runs first in this module, before the fixture above adds anyone or anything.
    expectations = {
        "/questions": "Ask the first question",
        "/tags": "asks a question",
        "/articles": "Log in to write the first tip",
        "/search?q=kubernetes": "Ask your colleagues",
    }
    for path, link in expectations.items():
        page.goto(live_server.url + path)
        empty = page.locator(".empty")
        expect(empty.get_by_role("link", name=link), path).to_be_visible()


def test_new_hire_asks_and_a_colleague_answers(forum: LiveServer, chromium: Any) -> None:
    hire_context, hire = _new_page(chromium)
    _register(hire, forum, "nina", "Nina Newhire")

    # Reads the onboarding tutorial from the knowledge base.
    hire.locator("header.site-header").get_by_role("link", name="Knowledge base").click()
    hire.get_by_role("link", name="Your first week at Northwind").click()
    toc = hire.get_by_role("navigation", name="Contents")
    expect(toc.get_by_role("link", name="Getting access")).to_be_visible()
    expect(hire.get_by_text("Request VPN access in the service portal")).to_be_visible()

    # A first question, anonymously: the page says only she sees it is hers.
    hire.locator("header.site-header").get_by_role("link", name="Questions").click()
    hire.get_by_role("link", name="Ask a question").first.click()
    anonymous_url = _ask(
        hire,
        "How long does VPN access take to be approved?",
        "I requested VPN access yesterday in the service portal and nothing happened yet.",
        "onboarding vpn",
        anonymous=True,
    )
    expect(hire.get_by_text("Anonymous colleague").first).to_be_visible()
    expect(hire.get_by_text("you asked anonymously")).to_be_visible()

    # A second one with her name: similar questions appear while the title is typed.
    hire.goto(forum.url + "/questions/ask")
    hire.get_by_label("Title").press_sequentially("VPN access approval", delay=10)
    hints = hire.locator(".similar-hints")
    hints.get_by_role("link", name="How long does VPN access take to be approved?").wait_for()
    question_url = _ask(
        hire,
        "Which VPN client should I install on Linux?",
        "The portal approved my VPN access. Which client works on Ubuntu laptops?",
        "vpn linux",
    )
    assert hire.locator(".post__author").first.get_by_role("link", name="Nina Newhire").count()

    # A colleague answers and comments.
    colleague_context, colleague = _new_page(chromium)
    log_in(colleague, forum, "carla")
    colleague.goto(question_url)
    colleague.get_by_role("textbox", name=re.compile("^Your answer")).fill(
        "Install **openconnect** from the Ubuntu archive:\n\n"
        "```sh\nsudo apt install openconnect\n```"
    )
    colleague.get_by_role("button", name="Post your answer").click()
    expect(colleague.get_by_text("Thanks for answering!")).to_be_visible()
    question = colleague.locator("article.post--question")
    question.get_by_text("Add a comment").click()
    question.get_by_label("Your comment").fill("Which Ubuntu version is the laptop on?")
    question.get_by_role("button", name="Add comment").click()
    expect(colleague.get_by_text("Which Ubuntu version is the laptop on?")).to_be_visible()
    profile_before = _reputation(colleague, forum, "carla")

    # The asker votes the answer up (no reload) and accepts it.
    hire.goto(question_url)
    expect(hire.get_by_text("Which Ubuntu version is the laptop on?")).to_be_visible()
    answer = hire.locator("article.post--answer").first
    answer.get_by_role("button", name="Vote up").click()
    answer.locator(".votes__score").filter(has_text="1").wait_for()
    assert answer.get_by_role("button", name="Vote up").get_attribute("aria-pressed") == "true"
    answer.get_by_role("button", name="Accept").click()
    expect(hire.get_by_text("You accepted this answer")).to_be_visible()
    expect(hire.locator("article.post--accepted").get_by_text("Accepted")).to_be_visible()

    # The answerer sees her reputation grow and a badge.
    assert _reputation(colleague, forum, "carla") > profile_before
    badges = colleague.locator(".badge-cloud")
    expect(badges.get_by_role("link", name=re.compile("^(Helper|Teacher)")).first).to_be_visible()

    # Anyone can find it again with the search box in the header.
    visitor_context, visitor = _new_page(chromium)
    visitor.goto(forum.url + "/")
    visitor.get_by_role("searchbox", name="Search forum").fill("openconnect linux")
    visitor.keyboard.press("Enter")
    results = visitor.locator(".search-results")
    results.get_by_role("link", name="Which VPN client should I install on Linux?").first.click()
    assert visitor.get_by_role("heading", level=1).inner_text() == (
        "Which VPN client should I install on Linux?"
    )
    expect(visitor.locator("article.post--accepted")).to_be_visible()
    # The anonymous question never shows its asker's name, not even to search.
    visitor.goto(anonymous_url)
    assert visitor.get_by_text("Nina Newhire").count() == 0
    for context in (hire_context, colleague_context, visitor_context):
        context.close()


def _reputation(page: Any, server: LiveServer, username: str) -> int:
    page.goto(f"{server.url}/users/{username}")
    facts = page.locator(".facts")
    return int(facts.locator("div", has_text="Reputation").locator("dd").inner_text())


def test_a_tutorial_with_code_and_a_wiki_link_then_an_edit_conflict_is_merged(
    forum: LiveServer, chromium: Any
) -> None:
    writer_context, writer = _new_page(chromium)
    log_in(writer, forum, "carla")
    writer.goto(forum.url + "/articles/new")
    writer.get_by_label("Title").fill("Setting up the VPN on Linux")
    writer.get_by_label("Tutorial", exact=False).check()
    writer.get_by_label("Text").fill(
        "## Install\n\nRead [[Your first week at Northwind]] first.\n\n"
        "```sh\nsudo apt install openconnect\n```\n\n## Connect\n\nRun the client.\n"
    )
    writer.get_by_label("Tags").fill("vpn linux")
    writer.get_by_role("button", name="Publish").click()
    assert writer.get_by_role("heading", level=1).inner_text() == "Setting up the VPN on Linux"
    assert "apt install openconnect" in writer.locator(".codeblock pre code").inner_text()
    link = writer.locator("a.wikilink", has_text="Your first week at Northwind")
    assert link.get_attribute("class") == "wikilink"
    article_url = writer.url

    # Two people open the editor at once and change the same line.
    editor_context, editor = _new_page(chromium)
    log_in(editor, forum, "morgan")
    for someone in (writer, editor):
        someone.goto(article_url + "/edit")
    editor.get_by_label("Text").fill(
        editor.get_by_label("Text").input_value().replace("Run the client.", "Run `openconnect`.")
    )
    editor.get_by_label("Edit summary").fill("Name the command")
    editor.get_by_role("button", name="Save changes").click()
    expect(editor.get_by_text("Your changes are saved.")).to_be_visible()

    text = writer.get_by_label("Text")
    text.fill(text.input_value().replace("Run the client.", "Run the client and log in."))
    writer.get_by_role("button", name="Save changes").click()
    assert writer.get_by_role("heading", level=1).inner_text().startswith("Someone else changed")
    merged = writer.get_by_label("Text").input_value()
    assert "<<<<<<<" in merged and "Run `openconnect`." in merged
    writer.get_by_label("Text").fill(
        re.sub(r"<<<<<<<.*?>>>>>>>[^\n]*\n", "Run `openconnect` and log in.\n", merged, flags=re.S)
    )
    writer.get_by_role("button", name="Save the merged version").click()
    expect(writer.get_by_text("Run openconnect and log in.")).to_be_visible()
    writer.get_by_role("link", name="History").click()
    assert writer.locator(".revision").count() == 3
    writer_context.close()
    editor_context.close()


def _tab_to(page: Any, name: str, *, role: str | None = None, limit: int = 250) -> None:
    """Press Tab until the focused element's accessible text is ``name`` (keyboard only)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => {
                 const el = document.activeElement;
                 if (!el) return ["", ""];
                 const label = el.labels && el.labels.length ? el.labels[0].innerText : "";
                 const own = el.cloneNode(true);
                 own.querySelectorAll('[aria-hidden="true"]').forEach((n) => n.remove());
                 const text = label || el.getAttribute('aria-label') || own.textContent;
                 return [(text || el.value || '')
                         .replace(/\\s*\\(optional\\)$/, '').trim(),
                         el.tagName.toLowerCase()];
               }"""
        )
        if focused[0] == name and (role is None or focused[1] == role):
            return
    raise AssertionError(f"Tab never reached {name!r}")


def test_ask_answer_vote_accept_with_the_keyboard_alone(forum: LiveServer, chromium: Any) -> None:
    asker_context, asker = _new_page(chromium)
    log_in(asker, forum, "kim")
    asker.goto(forum.url + "/questions")
    _tab_to(asker, "Ask a question", role="a")
    asker.keyboard.press("Enter")
    asker.wait_for_url("**/questions/ask")
    # The title field has the focus on arrival.
    asker.keyboard.type("Where do I find the holiday calendar?")
    _tab_to(asker, "Your question", role="textarea")
    asker.keyboard.type("HR mentioned a shared calendar with public holidays per country.")
    _tab_to(asker, "Tags", role="input")
    asker.keyboard.type("hr onboarding")
    _tab_to(asker, "Post your question", role="button")
    asker.keyboard.press("Enter")
    asker.get_by_role("heading", name="Where do I find the holiday calendar?").wait_for()
    question_url = asker.url

    answerer_context, answerer = _new_page(chromium)
    log_in(answerer, forum, "carla")
    answerer.goto(question_url)
    _tab_to(answerer, "Your answer", role="textarea")
    answerer.keyboard.type("It is in the HR space of the intranet, under Time off.")
    _tab_to(answerer, "Post your answer", role="button")
    answerer.keyboard.press("Enter")
    answerer.get_by_text("Thanks for answering!").wait_for()

    asker.reload()
    _tab_to(asker, "Vote up", role="button")  # the question's own buttons are disabled
    asker.keyboard.press("Space")
    answer = asker.locator("article.post--answer").first
    answer.locator(".vote-button--up[aria-pressed='true']").wait_for()
    _tab_to(asker, "Accept", role="button")
    asker.keyboard.press("Enter")
    asker.get_by_text("You accepted this answer").wait_for()
    assert answer.locator(".votes__score").inner_text() == "1"
    assert asker.locator("article.post--accepted").count() == 1
    asker_context.close()
    answerer_context.close()


def test_core_flows_work_without_javascript(forum: LiveServer, chromium: Any) -> None:
    context, page = _new_page(chromium, java_script_enabled=False)
    assert page.evaluate("1") == 1  # evaluate still works; the page's own scripts do not run
    _register(page, forum, "jordan", "Jordan Plain")
    page.goto(forum.url + "/questions/ask")
    question_url = _ask(
        page,
        "How do I book a meeting room without scripts?",
        "My browser blocks scripts. Can I still book the big meeting room?",
        "facilities",
    )
    # Edit the question: plain form, new revision.
    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("Title").fill("How do I book a meeting room without JavaScript?")
    page.get_by_label("Edit summary").fill("Clearer title")
    page.get_by_role("button", name=re.compile("Save")).click()
    expect(page.get_by_text("Your edit is saved.")).to_be_visible()

    other_context, other = _new_page(chromium, java_script_enabled=False)
    log_in(other, forum, "carla")
    other.goto(question_url)
    other.get_by_role("textbox", name=re.compile("^Your answer")).fill(
        "Use the room booking form on the facilities page."
    )
    other.get_by_role("button", name="Post your answer").click()
    question = other.locator("article.post--question")
    question.get_by_text("Add a comment").click()
    question.get_by_label("Your comment").fill("Which floor is the room on?")
    question.get_by_role("button", name="Add comment").click()
    expect(other.get_by_text("Which floor is the room on?")).to_be_visible()

    page.goto(question_url)
    answer = page.locator("article.post--answer").first
    answer.get_by_role("button", name="Vote up").click()
    answer = page.locator("article.post--answer").first
    assert answer.locator(".votes__score").inner_text() == "1"
    answer.get_by_role("button", name="Accept").click()
    expect(page.get_by_text("You accepted this answer")).to_be_visible()

    page.get_by_role("searchbox", name="Search forum").fill("meeting room")
    page.keyboard.press("Enter")
    results = page.locator(".search-results")
    results.get_by_role(
        "link", name="How do I book a meeting room without JavaScript?"
    ).first.click()
    expect(page.locator("article.post--accepted")).to_be_visible()
    context.close()
    other_context.close()


def test_a_moderator_handles_a_flag(forum: LiveServer, chromium: Any) -> None:
    member_context, member = _new_page(chromium)
    log_in(member, forum, "kim")
    member.goto(forum.url + "/articles/your-first-week")
    member.locator("main").get_by_role("link", name="Flag", exact=True).first.click()
    member.get_by_label("Needs improvement").check()
    member.get_by_label("Details").fill("The VPN step should link to the new service portal.")
    member.get_by_role("button", name="Send to the moderators").click()
    expect(member.get_by_text("The moderators will look at it.")).to_be_visible()
    member_context.close()

    moderator_context, moderator = _new_page(chromium)
    log_in(moderator, forum, "morgan")
    moderator.locator("header.site-header .account-menu > summary").click()
    moderator.locator("header.site-header").get_by_role("link", name="Moderation").click()
    item = moderator.locator(".mod-item", has_text="Your first week at Northwind")
    expect(item.get_by_text("should link to the new service portal")).to_be_visible()
    note = item.get_by_role("textbox", name=re.compile("^Note for the audit log"))
    note.fill("Checked: the link is right.")
    item.get_by_role("button", name="Dismiss").click()
    expect(moderator.get_by_text("Flags dismissed: no action needed.")).to_be_visible()
    expect(moderator.get_by_text("No open flags.")).to_be_visible()
    moderator_context.close()
