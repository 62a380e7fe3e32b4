"""Bounties in a real browser: a member starts one on a question and awards it to an answer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import PASSWORD, LiveServer, log_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def bounty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A demo server of this module's own: its bounties and awards change the content."""
    server = LiveServer(tmp_path_factory.mktemp("bounties") / "instance")
    server.start()
    server.forum("demo", "--password", PASSWORD)
    yield server
    server.stop()


def _eligible_question(page: Any, server: LiveServer) -> str:
    """A question Amara may put a bounty on, with an answer by someone else."""
    page.goto(server.url + "/questions?tab=active")
    links = page.locator(".question-summary__title a")
    hrefs = [links.nth(i).get_attribute("href") for i in range(min(links.count(), 30))]
    for href in hrefs:
        page.goto(server.url + href)
        if page.get_by_role("link", name="Start a bounty").count() == 0:
            continue
        answers = page.locator("article.post--answer .post__author")
        if any("Amara Okafor" not in answers.nth(i).inner_text() for i in range(answers.count())):
            return page.url
    raise AssertionError("no question in the demo takes a bounty with an answer by someone else")


def test_a_member_starts_a_bounty_and_awards_it(bounty_server: LiveServer, page: Any) -> None:
    log_in(page, bounty_server, "amara")
    # The demo's own bounty is featured.
    page.goto(bounty_server.url + "/questions?tab=featured")
    assert page.locator(".question-summary .bounty-marker").count() == 1

    question_url = _eligible_question(page, bounty_server)
    page.get_by_role("link", name="Start a bounty").click()
    page.get_by_label("Bounty amount").select_option("150")
    page.get_by_label(re.compile("^Reward existing answer")).check()
    with page.expect_navigation():
        page.get_by_role("button", name="Start the bounty").click()
    notice = page.locator("#bounty")
    assert re.search(r"\+150 bounty, ends in 6 days", notice.inner_text())
    assert "Offered by Amara Okafor" in notice.inner_text()

    page.goto(bounty_server.url + "/questions?tab=featured")
    assert page.locator(".question-summary .bounty-marker").count() == 2

    page.goto(question_url)
    award = page.get_by_role("link", name="Award bounty…").first
    award.click()
    assert page.get_by_role("heading", name="Award your +150 bounty?").is_visible()
    with page.expect_navigation():
        page.get_by_role("button", name="Award +150").click()
    assert page.locator(".bounty-mark").first.inner_text() == "+150 bounty"
    assert page.locator("#bounty").count() == 0
    assert page.get_by_role("link", name="Award bounty…").count() == 0

    page.goto(bounty_server.url + "/questions?tab=featured")
    assert page.locator(".question-summary .bounty-marker").count() == 1
