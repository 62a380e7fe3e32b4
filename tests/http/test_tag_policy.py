"""Refused new tags get a form message with the member's text kept, never a 500."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum.models import Article, Circle, Tag
from forum.services.tags import tags_named
from tests.conftest import Browser
from tests.factories import make_user

REFUSED = "Creating a new tag takes 100 reputation (you have 1): brand-new."


def test_an_article_with_a_new_tag_from_a_newcomer_is_a_400(
    browser: Browser, session: Session
) -> None:
    make_user(session, "newbie", reputation=1)
    tags_named(session, ["sql"])
    session.commit()
    browser.login("newbie")
    form = {
        "title": "Reading query plans",
        "body": "Keep *this* text.",
        "tags": "sql brand-new",
        "article_type": "tip",
    }
    response = browser.post("/articles/new", form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert REFUSED in page and "Keep *this* text." in page
    assert session.scalar(select(func.count()).select_from(Article)) == 0
    assert session.scalar(select(Tag).where(Tag.name == "brand-new")) is None


def test_a_circle_with_a_new_tag_from_a_newcomer_is_a_400(
    browser: Browser, session: Session
) -> None:
    make_user(session, "newbie", reputation=1)
    session.commit()
    browser.login("newbie")
    form = {
        "name": "Reading group",
        "description": "One chapter a week.",
        "tags": "brand-new",
        "size_limit": "3",
    }
    response = browser.post("/circles/new", form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert REFUSED in page and "One chapter a week." in page
    assert session.scalar(select(func.count()).select_from(Circle)) == 0
