"""Drafts through the app: autosave, Save draft, offered again, listed, private, dropped on
sending; refused CSRF tokens on writing forms give the form back with its text."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.forms import CSRF_REFUSED
from forum.models import Draft, Post
from tests.conftest import CSRF_META, Browser
from tests.factories import make_article, make_question, make_user

CSRF_HINT = "This form was not sent"


def _member(session: Session, browser: Browser, username: str = "writer") -> Any:
    user = make_user(session, username, reputation=1000)
    session.commit()
    browser.login(username)
    return user


def _autosave(browser: Browser, payload: dict[str, Any], token: str | None = None) -> Any:
    return browser.client.post(
        "/drafts/autosave",
        json=payload,
        headers={"X-CSRFToken": token or browser.csrf_token()},
    )


def _drafts(session: Session) -> list[Draft]:
    # End the test session's read transaction, so the query sees the app's latest commits.
    session.rollback()
    return list(session.scalars(select(Draft).order_by(Draft.id)))


def test_autosave_keeps_the_draft_and_the_ask_form_offers_it(
    session: Session, browser: Browser
) -> None:
    _member(session, browser)
    response = _autosave(
        browser,
        {
            "kind": "question",
            "target": 0,
            "title": "How do I ship on Fridays?",
            "body": "My half-written question",
            "tags": "deploys",
        },
    )
    assert response.status_code == 204
    page = browser.get("/questions/ask").get_data(as_text=True)
    assert "This form holds your draft" in page
    assert "My half-written question" in page
    assert 'value="How do I ship on Fridays?"' in page
    listing = browser.get("/drafts").get_data(as_text=True)
    assert "Question: How do I ship on Fridays?" in listing


def test_asking_deletes_the_draft(session: Session, browser: Browser) -> None:
    _member(session, browser)
    make_question(session, tags=("deploys",))
    session.commit()
    _autosave(browser, {"kind": "question", "target": 0, "body": "draft"})
    response = browser.post(
        "/questions/ask",
        {"title": "How do I ship on Fridays safely?", "body": "What do you do?", "tags": "deploys"},
    )
    assert response.status_code == 302
    assert _drafts(session) == []


def test_answer_draft_is_offered_and_deleted_when_the_answer_is_posted(
    session: Session, browser: Browser
) -> None:
    _member(session, browser)
    question = make_question(session)
    session.commit()
    assert (
        _autosave(
            browser, {"kind": "answer", "target": question.id, "body": "Try the staging flag"}
        ).status_code
        == 204
    )
    page = browser.get(f"/questions/{question.id}").get_data(as_text=True)
    assert "This form holds your draft" in page and "Try the staging flag" in page
    response = browser.post(
        f"/questions/{question.id}/answer", {"body": "Try the staging flag first."}
    )
    assert response.status_code == 302
    assert _drafts(session) == []


def test_save_draft_button_works_without_javascript(session: Session, browser: Browser) -> None:
    _member(session, browser)
    article = make_article(session, title="Reviewing SQL migrations", body="Old text\n")
    session.commit()
    response = browser.post(
        "/drafts/save",
        {
            "draft_kind": "article",
            "draft_target": str(article.id),
            "title": article.title,
            "body": "New text in progress",
            "tags": "howto",
            "article_type": "tip",
            "base_revision": "1",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/articles/{article.slug}/edit")
    page = browser.get(f"/articles/{article.slug}/edit").get_data(as_text=True)
    assert "New text in progress" in page
    assert "This form holds your draft" in page
    response = browser.post(
        f"/articles/{article.slug}/edit",
        {
            "title": article.title,
            "body": "New text, finished",
            "tags": "howto",
            "article_type": "tip",
            "base_revision": "1",
        },
    )
    assert response.status_code == 302
    assert _drafts(session) == []
    session.rollback()
    edited = session.get(Post, article.id)
    assert edited is not None and edited.body_md.startswith("New text, finished")


def test_new_article_draft_and_publishing(session: Session, browser: Browser) -> None:
    _member(session, browser)
    make_article(session, tags="howto")
    session.commit()
    _autosave(
        browser,
        {
            "kind": "article",
            "target": 0,
            "title": "Tip in progress",
            "body": "Half a tip",
            "tags": "howto",
            "article_type": "tutorial",
        },
    )
    page = browser.get("/articles/new").get_data(as_text=True)
    assert "Half a tip" in page and 'value="Tip in progress"' in page
    assert re.search(r'<input[^>]*checked[^>]*value="tutorial"', page)
    response = browser.post(
        "/articles/new",
        {
            "title": "Tip finished now",
            "body": "A whole tip.",
            "tags": "howto",
            "article_type": "tip",
        },
    )
    assert response.status_code == 302
    assert _drafts(session) == []


def test_drafts_are_private(session: Session, browser: Browser, app: Flask) -> None:
    owner = make_user(session, "owner")
    session.commit()
    _member(session, browser, "snoop")
    draft = Draft(user_id=owner.id, kind="question", target_id=0, title="Secret", body="hush")
    session.add(draft)
    session.commit()
    assert "Secret" not in browser.get("/drafts").get_data(as_text=True)
    assert browser.post(f"/drafts/{draft.id}/delete").status_code == 404
    assert "hush" not in browser.get("/questions/ask").get_data(as_text=True)
    assert len(_drafts(session)) == 1


def test_a_member_deletes_their_draft(session: Session, browser: Browser) -> None:
    _member(session, browser)
    _autosave(browser, {"kind": "question", "target": 0, "body": "to throw away"})
    (draft,) = _drafts(session)
    response = browser.post(f"/drafts/{draft.id}/delete", {"next": "/questions/ask"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/questions/ask")
    assert _drafts(session) == []


def test_visitors_have_no_drafts(client: FlaskClient) -> None:
    assert client.get("/drafts").status_code == 302
    assert client.post("/drafts/autosave", json={"kind": "question"}).status_code in (302, 400)


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"kind": "comment", "target": 0, "body": "x"}, 400),
        ({"kind": "answer", "target": 0, "body": "x"}, 400),
        ({"kind": "question", "target": "abc", "body": "x"}, 400),
        ({"kind": "question", "target": 0, "body": 5}, 400),
        ([1, 2], 400),
    ],
)
def test_autosave_refuses_bad_input(
    session: Session, browser: Browser, payload: Any, status: int
) -> None:
    _member(session, browser)
    response = _autosave(browser, payload)
    assert response.status_code == status
    assert "errors" in response.get_json()


def test_autosave_refuses_oversized_requests(session: Session, browser: Browser) -> None:
    _member(session, browser)
    response = _autosave(browser, {"kind": "question", "target": 0, "body": "x" * 1_100_000})
    assert response.status_code == 413


def test_autosave_without_a_csrf_token_is_a_json_400(session: Session, browser: Browser) -> None:
    _member(session, browser)
    response = browser.client.post("/drafts/autosave", json={"kind": "question", "body": "x"})
    assert response.status_code == 400
    assert response.is_json
    assert _drafts(session) == []


def _token(page: str) -> str:
    match = CSRF_META.search(page)
    assert match
    return match.group(1)


def test_an_expired_csrf_token_gives_the_form_back_with_the_text(
    session: Session, browser: Browser, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    _member(session, browser)
    app.config["WTF_CSRF_TIME_LIMIT"] = 3600
    old_token = browser.csrf_token("/questions/ask")
    import itsdangerous.timed

    later = itsdangerous.timed.time.time() + 7200
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: later)
    response = browser.client.post(
        "/questions/ask",
        data={
            "csrf_token": old_token,
            "title": "My carefully written title",
            "body": "Paragraphs I do not want to lose",
            "tags": "ops",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert CSRF_REFUSED in page.replace("&#39;", "'")
    assert "Paragraphs I do not want to lose" in page
    assert 'value="My carefully written title"' in page
    fresh = _token(page)
    assert fresh != old_token
    # The fresh token works: sending again posts the question.
    make_question(session, tags=("ops",))
    session.commit()
    response = browser.client.post(
        "/questions/ask",
        data={
            "csrf_token": fresh,
            "title": "My carefully written title",
            "body": "Paragraphs I do not want to lose",
            "tags": "ops",
        },
    )
    assert response.status_code == 302


@pytest.mark.parametrize("form", ["answer", "article", "edit_question", "comment"])
def test_logged_out_and_in_again_elsewhere_keeps_the_text(
    session: Session, browser: Browser, app: Flask, form: str
) -> None:
    me = _member(session, browser)
    question = make_question(session, me)
    session.commit()
    paths = {
        "answer": (
            f"/questions/{question.id}",
            f"/questions/{question.id}/answer",
            {"body": "An answer I typed for ages"},
        ),
        "article": (
            "/articles/new",
            "/articles/new",
            {
                "title": "An article title",
                "body": "An answer I typed for ages",
                "tags": "howto",
                "article_type": "tip",
            },
        ),
        "edit_question": (
            f"/questions/{question.id}/edit",
            f"/questions/{question.id}/edit",
            {
                "title": question.title,
                "body": "An answer I typed for ages",
                "tags": "howto",
                "base_revision": "1",
            },
        ),
        "comment": (
            f"/questions/{question.id}",
            f"/posts/{question.id}/comments",
            {"body": "An answer I typed for ages"},
        ),
    }
    page_path, action, fields = paths[form]
    old_token = browser.csrf_token(page_path)
    # Another tab logs out and in again: the session, and its CSRF secret, are new.
    browser.logout()
    browser.login(me.username)
    response = browser.client.post(action, data={"csrf_token": old_token, **fields})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert CSRF_HINT in page
    assert "An answer I typed for ages" in page
    assert _token(page) != old_token
    response = browser.client.post(action, data={"csrf_token": _token(page), **fields})
    assert response.status_code == 302


def test_other_forms_still_answer_a_refused_token_with_400(
    session: Session, browser: Browser
) -> None:
    _member(session, browser)
    response = browser.client.post("/notifications/read-all", data={"csrf_token": "stale"})
    assert response.status_code == 400
    assert CSRF_HINT not in response.get_data(as_text=True)


def test_saving_a_merge_with_conflict_markers_is_refused(
    session: Session, browser: Browser
) -> None:
    _member(session, browser)
    article = make_article(session, body="one\ntwo\n")
    session.commit()
    body = "one\n<<<<<<< your version\nmine\n=======\ntheirs\n>>>>>>> the saved version\n"
    response = browser.post(
        f"/articles/{article.slug}/edit",
        {
            "title": article.title,
            "body": body,
            "tags": "howto",
            "article_type": "tip",
            "base_revision": "1",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "merge conflict markers on lines 2, 4 and 6" in page
    assert "&gt;&gt;&gt;&gt;&gt;&gt;&gt; the saved version" in page
    session.rollback()
    kept = session.get(Post, article.id)
    assert kept is not None and kept.body_md == "one\ntwo\n"
