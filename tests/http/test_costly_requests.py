"""Requests whose cost grows with member input are bounded and rate-limited per client."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from forum.extensions import limiter
from forum.services import articles
from forum.services.revisions import MAX_DIFF_LINES
from tests.conftest import Browser
from tests.factories import make_article, make_question, make_user


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Rate limits on, with small budgets to reach quickly; members may create tags."""
    return {
        **app_config,
        "REPUTATION_THRESHOLDS": {"create_tags": 0},
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URL": "memory://",
        "HISTORY_RATE_LIMIT": "3 per minute",
        "SEARCH_RATE_LIMIT": "3 per minute",
        "PREVIEW_RATE_LIMIT": "3 per minute",
        "ARTICLE_RATE_LIMIT": "2 per minute",
    }


@pytest.fixture(autouse=True)
def empty_limits(app: Flask) -> None:
    """Start each test with no requests counted."""
    limiter.reset()


def _edited_article(session: Session, old: str, new: str) -> Any:
    article = make_article(session, title="Long read", body=old)
    articles.edit_article(
        session,
        article,
        editor=make_user(session),
        data=articles.ArticleData(
            title="Long read", body_md=new, tags_text="howto", article_type="tip"
        ),
        base_revision=1,
    )
    session.commit()
    return article


def test_article_history_and_diffs_are_rate_limited_per_client(
    browser: Browser, session: Session
) -> None:
    article = _edited_article(session, "alpha\nbeta\n", "alpha\ngamma\n")
    diff = f"/articles/{article.slug}/diff?from=1&to=2"
    assert browser.get(diff).status_code == 200
    assert browser.get(f"/articles/{article.slug}/history").status_code == 200
    assert browser.get(diff).status_code == 200
    assert browser.get(diff).status_code == 429
    assert browser.get(f"/articles/{article.slug}/history").status_code == 429
    # Another client address has its own budget.
    other = browser.get(diff, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200


def test_question_and_answer_histories_are_rate_limited(browser: Browser, session: Session) -> None:
    question = make_question(session)
    session.commit()
    for _ in range(3):
        assert browser.get(f"/questions/{question.id}/history").status_code == 200
    assert browser.get(f"/questions/{question.id}/history?from=1&to=1").status_code == 429


def test_a_diff_past_the_cap_says_it_is_too_large_to_compare(
    browser: Browser, session: Session
) -> None:
    old = "\n".join(f"old line {i}" for i in range(MAX_DIFF_LINES + 10))
    new = "\n".join(f"new line {i}" for i in range(MAX_DIFF_LINES + 10))
    article = _edited_article(session, old, new)
    response = browser.get(f"/articles/{article.slug}/diff?from=1&to=2")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "too large to compare" in page and "<del>" not in page


def test_a_small_edit_in_a_long_article_shows_only_the_change_and_its_context(
    browser: Browser, session: Session
) -> None:
    old = "\n".join(f"line {i}" for i in range(3000))
    article = _edited_article(session, old, old.replace("line 1500\n", "line 1500 fixed\n"))
    page = browser.get(f"/articles/{article.slug}/diff?from=1&to=2").get_data(as_text=True)
    assert "<del>line 1500</del>" in page and "<ins>line 1500 fixed</ins>" in page
    assert "unchanged lines" in page and "line 10\n" not in page and ">line 10<" not in page


HUGE_TABLE = "|a|b|\n|-|-|\n" + "|x|y|\n" * 15_000


def _preview(browser: Browser, body: str) -> Any:
    token = browser.csrf_token("/articles/new")
    return browser.client.post(
        "/articles/preview",
        data={"body": body, "article_type": "tip"},
        headers={"X-CSRFToken": token, "Accept": "application/json"},
    )


def test_a_preview_of_too_complex_markdown_answers_the_limit(
    browser: Browser, session: Session
) -> None:
    make_user(session, "kwame")
    session.commit()
    browser.login("kwame")
    response = _preview(browser, HUGE_TABLE)
    assert response.status_code == 400
    assert "cell borders" in " ".join(response.get_json()["errors"]["body"])


def test_saving_too_complex_markdown_keeps_the_text_and_says_why(
    browser: Browser, session: Session
) -> None:
    make_user(session, "kwame")
    session.commit()
    browser.login("kwame")
    body = "> " * 12 + "deep"
    response = browser.post(
        "/articles/new",
        {"title": "Deep quotes", "body": body, "tags": "howto", "article_type": "tip"},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "nested 8 levels deep at most" in page and "&gt; &gt; &gt;" in page
    question = browser.post(
        "/questions/ask",
        {"title": "How deep can quotes go here?", "body": body, "tags": "howto"},
    )
    assert question.status_code == 400
    assert "nested 8 levels deep at most" in question.get_data(as_text=True)


def test_previews_are_rate_limited_per_member(browser: Browser, session: Session) -> None:
    make_user(session, "kwame")
    session.commit()
    browser.login("kwame")
    for _ in range(3):
        assert _preview(browser, "**hi**").status_code == 200
    blocked = _preview(browser, "**hi**")
    assert blocked.status_code == 429 and blocked.is_json


def test_article_submissions_are_rate_limited_per_member(
    browser: Browser, session: Session
) -> None:
    make_user(session, "kwame")
    session.commit()
    browser.login("kwame")
    for n in range(2):
        response = browser.post(
            "/articles/new",
            {"title": f"Tip number {n}", "body": "text", "tags": "howto", "article_type": "tip"},
        )
        assert response.status_code == 302
    article = make_article(session, title="Someone else's")
    session.commit()
    assert browser.get(f"/articles/{article.slug}/edit").status_code == 200
    response = browser.post(
        f"/articles/{article.slug}/edit",
        {"title": "Edited", "body": "x", "tags": "howto", "article_type": "tip"},
    )
    assert response.status_code == 429


def test_searches_are_rate_limited_per_client(browser: Browser) -> None:
    for _ in range(3):
        assert browser.get("/search?q=anything").status_code == 200
    assert browser.get("/search?q=anything").status_code == 429
    assert browser.get("/search?q=x", environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 200
