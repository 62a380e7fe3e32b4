"""A new site works from the first minute; a grown one explains refused tags and offers others."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import Question, Tag
from forum.services import reputation
from forum.services.tags import closest_tags, tags_named
from tests.conftest import Browser
from tests.factories import make_question, make_user

GROWN_AT = 3
QUESTION = {
    "title": "How do I rotate the staging database password?",
    "body": "Keep *this* text, please.",
}


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """A site that counts as new until it holds three questions and articles."""
    return {**app_config, "NEW_SITE_POSTS": GROWN_AT}


def test_on_a_brand_new_site_a_newcomer_asks_with_new_tags(
    browser: Browser, session: Session
) -> None:
    make_user(session, "first", reputation=0)
    session.commit()
    browser.login("first")
    response = browser.post("/questions/ask", {**QUESTION, "tags": "postgresql ops"})
    assert response.status_code == 302
    question = session.scalars(select(Question)).one()
    assert sorted(t.name for t in question.tags) == ["ops", "postgresql"]
    # The profile says so too: creating tags is granted while the site is new.
    me = question.author
    granted = {s.privilege.key: s.granted for s in reputation.privileges_of(me)}
    assert granted["create_tags"] and not granted["downvote"]


def test_once_the_site_has_grown_new_tags_need_reputation_and_closest_tags_are_offered(
    browser: Browser, session: Session
) -> None:
    author = make_user(session, "old-hand", reputation=500)
    for n in range(GROWN_AT):
        make_question(session, author, title=f"Existing question number {n}", tags=("postgresql",))
    tags_named(session, ["python", "ops"])
    make_user(session, "newbie", reputation=7)
    session.commit()
    browser.login("newbie")
    response = browser.post("/questions/ask", {**QUESTION, "tags": "postgres"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Creating a new tag takes 100 reputation (you have 7): postgres." in page
    assert "Closest existing tags: postgresql." in page
    assert "Keep *this* text, please." in page
    assert session.scalar(select(Tag).where(Tag.name == "postgres")) is None


def test_deleted_posts_do_not_make_a_site_grown(session: Session) -> None:
    author = make_user(session, reputation=0)
    questions = [make_question(session, author, title=f"Question number {n}") for n in range(3)]
    active = reputation.rules(session)
    assert active.new_site_posts == GROWN_AT
    assert not reputation.site_is_new(session, active)
    questions[0].deleted_at = questions[0].created_at
    session.flush()
    assert reputation.site_is_new(session, active)
    assert reputation.can(author, "create_tags")
    assert not reputation.can(author, "edit_tag_wiki")  # only the first-use privileges relax


def test_a_site_configured_with_zero_is_never_new(session: Session) -> None:
    member = make_user(session, reputation=0)
    never = reputation.configure(new_site_posts=0)
    assert not reputation.site_is_new(session, never)
    session.info[reputation.RULES_KEY] = never
    assert not reputation.can(member, "create_tags")


def test_closest_tags_share_a_beginning_or_a_spelling(session: Session) -> None:
    tags_named(session, ["postgresql", "python", "javascript", "ops", "kubernetes"])
    session.flush()
    assert closest_tags(session, ["postgres"]) == ["postgresql"]
    assert closest_tags(session, ["pyhton"])[0] == "python"
    assert closest_tags(session, ["kubernetes-1.29"]) == ["kubernetes"]
    assert closest_tags(session, ["zzz"]) == []


def test_the_article_type_radios_sit_with_their_own_labels(
    browser: Browser, session: Session
) -> None:
    make_user(session, "writer", reputation=0)
    session.commit()
    browser.login("writer")
    page = browser.get("/articles/new").get_data(as_text=True)
    fieldset = re.search(r'<fieldset[^>]*id="article_type".*?</fieldset>', page, re.S)
    assert fieldset, "the type is a fieldset"
    html = fieldset.group(0)
    assert re.search(r"<legend>Type</legend>", html)
    choices = re.findall(r'<div class="choice">(.*?)</div>', html, re.S)
    assert len(choices) == 2
    for choice in choices:
        radio = re.search(r'<input[^>]*id="([^"]+)"[^>]*type="radio"', choice)
        assert radio and "required" in choice and 'aria-required="true"' in choice
        assert re.search(rf'<label for="{radio.group(1)}">', choice)
