"""The front page as visitors, new members and regulars see it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.models import LoginSession, Tag, User
from forum.services import circles, tags
from forum.services.circles import CircleData
from tests.conftest import Browser
from tests.factories import make_answer, make_article, make_question, make_user


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Members here may create tags (the tag policy is tested in test_tag_policy.py)."""
    return {**app_config, "REPUTATION_THRESHOLDS": {"create_tags": 0}}


def test_a_brand_new_site_explains_itself_to_a_visitor(client: Any) -> None:
    page = client.get("/").get_data(as_text=True)
    assert "Where colleagues teach each other" in page
    assert "How to begin" in page and "A fresh start" in page
    assert 'role="search"' in page and 'id="home-search-q"' in page
    assert "Ask a question" in page and "Write a tip or tutorial" in page
    assert "<strong>0</strong> questions" in page


def test_a_visitor_sees_what_the_forum_holds(client: Any, session: Session) -> None:
    shy = make_user(session, "shy", display_name="Shy Person")
    author = make_user(session, "writer", display_name="Wendy Writer")
    make_question(session, shy, title="A question asked without a name?", anonymous=True)
    make_question(session, author, title="How do I reach the staging database?", tags=("sql",))
    make_article(session, author, title="Deploying on Fridays", article_type="tutorial")
    session.commit()
    page = client.get("/").get_data(as_text=True)
    assert "A fresh start" not in page
    assert "<strong>2</strong> questions" in page
    assert "<strong>1</strong> tip or tutorial" in page
    assert "<strong>2</strong> colleagues" in page
    assert "How do I reach the staging database?" in page and "Deploying on Fridays" in page
    assert "Popular topics" in page and 'href="/tags/sql"' in page
    # The anonymous question is listed without its asker's name.
    assert "A question asked without a name?" in page
    assert "Anonymous colleague" in page and "Shy Person" not in page
    # Ask and Write lead through the login page.
    assert 'href="/login?next=/questions/ask"' in page


def test_a_new_member_gets_a_checklist_that_goes_away_once_done(
    browser: Browser, session: Session
) -> None:
    member = make_user(session, "newbie", display_name="New Bie")
    host = make_user(session)
    session.commit()
    browser.login("newbie")
    page = browser.get("/").get_data(as_text=True)
    assert "Welcome, New Bie" in page
    assert "Start here" in page and "0 of 5 done" in page
    assert 'href="/settings/profile"' in page
    assert "No question is waiting for an answer" in page
    assert "No tips or tutorials yet" in page
    assert 'id="home-search-q"' in page and 'href="/questions/ask"' in page

    member.job_title, member.bio = "Analyst", "Numbers."
    make_question(session, member, tags=("sql",))
    make_answer(session, make_question(session, host, tags=("sql",)), member)
    tag = session.scalar(select(Tag).where(Tag.name == "sql"))
    assert tag is not None
    tags.follow(session, user=member, tag=tag)
    circle = circles.create_circle(
        session,
        facilitator=host,
        data=CircleData(name="SQL club", description_md="", tags=["sql"], size_limit=5),
    )
    session.commit()
    page = browser.get("/").get_data(as_text=True)
    assert "4 of 5 done" in page and 'href="/circles">Join a learning circle' in page
    circles.join(session, user=member, circle=circle)
    session.commit()
    page = browser.get("/").get_data(as_text=True)
    assert "Start here" not in page


def test_a_member_sees_the_questions_waiting_in_their_tags(
    browser: Browser, session: Session
) -> None:
    make_user(session, "reader")
    asker = make_user(session, "asker", display_name="Anna Asker")
    make_question(session, asker, title="Which index helps this join?", tags=("sql",))
    make_question(session, asker, title="Why does my pod restart?", tags=("k8s",), anonymous=True)
    session.commit()
    browser.login("reader")
    page = browser.get("/").get_data(as_text=True)
    assert "Newest questions across the forum" in page
    assert "Which index helps this join?" in page and "Why does my pod restart?" in page
    assert "Anna Asker" in page and "Anonymous colleague" in page

    reader = session.scalar(select(User).where(User.username == "reader"))
    tag = session.scalar(select(Tag).where(Tag.name == "sql"))
    assert reader is not None and tag is not None
    tags.follow(session, user=reader, tag=tag)
    session.commit()
    page = browser.get("/").get_data(as_text=True)
    assert "in the tags you follow" in page
    assert "Which index helps this join?" in page and "Why does my pod restart?" not in page


def test_changes_on_an_anonymous_question_show_to_its_asker_only(
    browser: Browser, session: Session
) -> None:
    shy = make_user(session, "shy")
    make_user(session, "other")
    question = make_question(session, shy, title="A quiet question of mine?", anonymous=True)
    session.commit()
    make_answer(session, question)
    session.commit()
    browser.login("shy")
    page = browser.get("/").get_data(as_text=True)
    assert "Since your last visit" in page
    changes = page.split('id="changes"')[1].split("</section>")[0]
    assert "A quiet question of mine?" in changes and "1 new answer" in changes
    browser.logout()
    browser.login("other")
    page = browser.get("/").get_data(as_text=True)
    changes = page.split('id="changes"')[1].split("</section>")[0]
    assert "A quiet question of mine?" not in changes
    assert "Nothing new on your questions and articles" in changes


def test_logging_in_after_a_break_counts_changes_from_the_previous_visit(
    app: Flask, browser: Browser, session: Session
) -> None:
    member = make_user(session, "regular")
    session.commit()
    browser.login("regular")
    session.refresh(member)
    assert member.last_seen_at is not None and member.previous_visit_at is None
    # Away for a day: the next login starts a new visit, which counts from the last one.
    away = utcnow() - dt.timedelta(days=1)
    member.last_seen_at = away
    session.commit()
    browser.logout()
    browser.login("regular")
    session.refresh(member)
    assert member.previous_visit_at is not None
    assert member.previous_visit_at.replace(tzinfo=None) == away.replace(tzinfo=None)
    page = browser.get("/").get_data(as_text=True)
    assert "Welcome back" in page
    assert "since <time" in page and "1 day ago" in page


def test_a_request_after_a_break_starts_a_new_visit_without_logging_in_again(
    browser: Browser, session: Session
) -> None:
    member = make_user(session, "returning")
    session.commit()
    browser.login("returning")
    # The login session was last used two hours ago (the member closed the laptop).
    away = utcnow() - dt.timedelta(hours=2)
    session.execute(update(LoginSession).values(last_seen_at=away))
    member.last_seen_at = away
    session.commit()
    assert "Welcome, " in browser.get("/").get_data(as_text=True)
    session.refresh(member)
    assert member.previous_visit_at is not None
    assert member.previous_visit_at.replace(tzinfo=None) == away.replace(tzinfo=None)
    assert member.last_seen_at is not None and member.last_seen_at.replace(tzinfo=None) > (
        away.replace(tzinfo=None)
    )
    # From the next page on, changes count from the end of the previous visit.
    assert "Welcome back" in browser.get("/").get_data(as_text=True)
