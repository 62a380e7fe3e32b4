"""Suggested edits through the test client: "Suggest edit" below the threshold, the form, the
review queue, approving and rejecting, and who may do what."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import Question, Role, SuggestedEdit
from tests.conftest import Browser
from tests.factories import make_answer, make_question, make_user

NEW_BODY = "What is the usual way to do this here? I get `permission denied`.\n"


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    """An author's question and answer, a newcomer and a trusted reviewer."""
    author = make_user(session, "author")
    question = make_question(session, author, title="How do I rotate the staging password?")
    answer = make_answer(session, question, make_user(session, "answerer"))
    make_user(session, "newcomer", reputation=1, display_name="New Comer")
    make_user(session, "trusted", reputation=1000, display_name="Trusted Member")
    make_user(session, "moddy", role=Role.MODERATOR)
    session.commit()
    return {"q": question.id, "a": answer.id}


def _as(app: Flask, username: str) -> Browser:
    browser = Browser(app.test_client())
    assert browser.login(username).status_code == 302
    return browser


def _suggestion(session: Session) -> SuggestedEdit:
    session.commit()
    found = session.scalars(select(SuggestedEdit)).one()
    session.refresh(found)
    return found


def _suggest(browser: Browser, question_id: int, **extra: str) -> Any:
    data = {
        "title": "How do I rotate the staging password?",
        "body": NEW_BODY,
        "tags": "howto",
        "summary": "Added the error",
        "base_revision": "1",
    }
    data.update(extra)
    return browser.post(f"/posts/{question_id}/suggest-edit", data)


def test_below_the_threshold_the_page_offers_suggest_edit(
    app: Flask, world: dict[str, Any]
) -> None:
    newcomer = _as(app, "newcomer")
    page = newcomer.get(f"/questions/{world['q']}").get_data(as_text=True)
    assert f'href="/posts/{world["q"]}/suggest-edit"' in page
    assert f'href="/posts/{world["a"]}/suggest-edit"' in page
    assert f'href="/questions/{world["q"]}/edit"' not in page
    trusted = _as(app, "trusted")
    page = trusted.get(f"/questions/{world['q']}").get_data(as_text=True)
    assert f'href="/questions/{world["q"]}/edit"' in page and "suggest-edit" not in page
    # A trusted member asking for the suggestion form is sent to the edit form.
    moved = trusted.get(f"/posts/{world['q']}/suggest-edit")
    assert moved.status_code == 302 and moved.headers["Location"].endswith("/edit")


def test_a_suggestion_waits_for_review_and_one_at_a_time(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    newcomer = _as(app, "newcomer")
    form = newcomer.get(f"/posts/{world['q']}/suggest-edit")
    assert form.status_code == 200 and "Suggest edit" in form.get_data(as_text=True)
    # The summary is required; the text typed is kept.
    missing = _suggest(newcomer, world["q"], summary="")
    assert missing.status_code == 400 and "permission denied" in missing.get_data(as_text=True)
    assert _suggest(newcomer, world["q"]).status_code == 302
    suggestion = _suggestion(session)
    assert suggestion.status == "pending" and suggestion.body_md.startswith("What is")
    question = session.get(Question, world["q"])
    assert question is not None and question.body_md != NEW_BODY
    page = newcomer.get(f"/questions/{world['q']}").get_data(as_text=True)
    assert "An edit is pending review" in page
    # A second proposer gets a clear message and keeps their text.
    make_user(session, "second", reputation=1)
    session.commit()
    second = _as(app, "second")
    refused = _suggest(second, world["q"], body="My own version of the question body.\n")
    assert refused.status_code == 409
    text = refused.get_data(as_text=True)
    assert "already waiting for review" in text and "My own version" in text


def test_csrf_is_required(app: Flask, session: Session, world: dict[str, Any]) -> None:
    newcomer = _as(app, "newcomer")
    response = newcomer.client.post(
        f"/posts/{world['q']}/suggest-edit",
        data={"title": "x" * 20, "body": NEW_BODY, "tags": "howto", "summary": "s"},
    )
    assert response.status_code == 400
    assert session.scalars(select(SuggestedEdit)).first() is None
    _suggest(newcomer, world["q"])
    suggestion = _suggestion(session)
    trusted = _as(app, "trusted")
    response = trusted.client.post(f"/review/suggested-edits/{suggestion.id}/approve")
    assert response.status_code == 400
    assert _suggestion(session).status == "pending"


def test_review_queue_approve_and_reject(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    _suggest(_as(app, "newcomer"), world["q"])
    suggestion = _suggestion(session)
    trusted = _as(app, "trusted")
    home = trusted.get("/questions").get_data(as_text=True)
    assert 'href="/review/suggested-edits">Suggested edits</a>' in home
    queue = trusted.get("/review/suggested-edits").get_data(as_text=True)
    assert "Added the error" in queue and "New Comer" in queue
    detail = trusted.get(f"/review/suggested-edits/{suggestion.id}").get_data(as_text=True)
    # The diff shows the proposed text against the current one.
    assert "permission denied" in detail and "What is the usual way to do this here?" in detail
    assert "Approve" in detail and "Reject" in detail
    assert trusted.post(f"/review/suggested-edits/{suggestion.id}/approve").status_code == 302
    assert _suggestion(session).status == "approved"
    question = session.get(Question, world["q"])
    assert question is not None
    session.refresh(question)
    assert question.body_md == NEW_BODY and question.revision_count == 2
    history = trusted.get(f"/questions/{world['q']}/history").get_data(as_text=True)
    assert "approved by Trusted Member" in history
    audit = _as(app, "moddy").get("/moderation/audit").get_data(as_text=True)
    assert "Approved a suggested edit" in audit
    # Deciding twice is a conflict, shown as a message.
    again = trusted.post(f"/review/suggested-edits/{suggestion.id}/reject", {"comment": "no"})
    assert again.status_code == 302
    assert _suggestion(session).status == "approved"

    # The answer: rejecting needs a reason.
    newcomer = _as(app, "newcomer")
    proposed = newcomer.post(
        f"/posts/{world['a']}/suggest-edit",
        {"body": "Like this, and why.\n", "summary": "Explain why", "base_revision": "1"},
    )
    assert proposed.status_code == 302, proposed.get_data(as_text=True)
    session.commit()
    pending = session.scalars(select(SuggestedEdit).where(SuggestedEdit.status == "pending")).one()
    queue = trusted.get("/review/suggested-edits").get_data(as_text=True)
    assert "An answer to “How do I rotate the staging password?”" in queue
    bare = trusted.post(f"/review/suggested-edits/{pending.id}/reject", {"comment": ""})
    assert bare.status_code == 400 and "Tell the member why" in bare.get_data(as_text=True)
    assert (
        trusted.post(
            f"/review/suggested-edits/{pending.id}/reject", {"comment": "Says the same"}
        ).status_code
        == 302
    )
    session.commit()
    session.refresh(pending)
    assert pending.status == "rejected" and pending.review_comment == "Says the same"


def test_only_reviewers_review_and_unknown_ones_are_404(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    newcomer = _as(app, "newcomer")
    _suggest(newcomer, world["q"])
    suggestion = _suggestion(session)
    # The proposer sees their suggestion but reviews neither it nor the queue.
    assert newcomer.get(f"/review/suggested-edits/{suggestion.id}").status_code == 200
    assert newcomer.get("/review/suggested-edits").status_code == 403
    assert newcomer.post(f"/review/suggested-edits/{suggestion.id}/approve").status_code == 403
    other = make_user(session, "other", reputation=1)
    session.commit()
    del other
    stranger = _as(app, "other")
    assert stranger.get(f"/review/suggested-edits/{suggestion.id}").status_code == 403
    assert stranger.post(f"/review/suggested-edits/{suggestion.id}/approve").status_code == 403
    assert _suggestion(session).status == "pending"
    trusted = _as(app, "trusted")
    assert trusted.get("/review/suggested-edits/999999").status_code == 404
    assert trusted.post("/review/suggested-edits/999999/approve").status_code == 404
    assert newcomer.get("/posts/999999/suggest-edit").status_code == 404
    # Visitors are sent to log in.
    visitor = Browser(app.test_client())
    assert "/login" in visitor.get("/review/suggested-edits").headers["Location"]
