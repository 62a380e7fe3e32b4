"""Unhiding what the moderators hid: moderators and admins only, with a CSRF token, audited;
members see the post or comment again; an author's own deletion is not undone."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import AuditLog, Comment, Flag, Post, Role
from forum.services import comments as comment_service
from forum.services import moderation
from tests.conftest import Browser
from tests.factories import make_answer, make_article, make_comment, make_question, make_user


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    """An author's question with an answer, a comment and an article; a moderator, an admin."""
    author = make_user(session, "writer", display_name="Wendy Writer")
    make_user(session, "reader")
    make_user(session, "second")
    make_user(session, "mod", display_name="Mo Derator", role=Role.MODERATOR)
    make_user(session, "boss", display_name="Bo Admin", role=Role.ADMIN)
    question = make_question(
        session, author, title="How do I rotate the staging password?", body="Question body"
    )
    answer = make_answer(session, question, author, body="An answer body nobody likes")
    comment = make_comment(session, question, author, body="A comment body that was hidden")
    article = make_article(session, author, title="Rotating passwords safely")
    session.commit()
    return {
        "q": question.id,
        "a": answer.id,
        "c": comment.id,
        "article": article.id,
        "slug": article.slug,
    }


def _as(app: Flask, username: str | None) -> Browser:
    browser = Browser(app.test_client())
    if username is not None:
        assert browser.login(username).status_code == 302
    return browser


def _hide(session: Session, app: Flask, target: str) -> None:
    """Flag ``target`` and have a moderator hide it through the queue."""
    assert (
        _as(app, "reader").post("/flags", {"target": target, "reason": "rude"}).status_code == 302
    )
    session.commit()
    flag_id = session.scalar(select(Flag.id).where(Flag.status == "open").order_by(Flag.id))
    assert flag_id is not None
    response = _as(app, "mod").post(f"/moderation/flags/{flag_id}/hide", {})
    assert response.status_code == 302
    session.commit()


def _audit(session: Session, action: str) -> list[AuditLog]:
    session.commit()
    return list(session.scalars(select(AuditLog).where(AuditLog.action == action)))


def _comment_count(session: Session, post_id: int) -> int:
    session.commit()
    count = session.scalar(select(Post.comment_count).where(Post.id == post_id))
    assert count is not None
    return count


@pytest.mark.parametrize("who", ["mod", "boss"])
def test_a_hidden_comment_is_unhidden_and_members_see_it_again(
    app: Flask, session: Session, world: dict[str, Any], who: str
) -> None:
    before = _comment_count(session, world["q"])
    _hide(session, app, f"comment:{world['c']}")
    assert _comment_count(session, world["q"]) == before - 1
    member_page = _as(app, "second").get(f"/questions/{world['q']}").get_data(as_text=True)
    assert "A comment body that was hidden" not in member_page

    response = _as(app, who).post(
        f"/moderation/comments/{world['c']}/unhide", {"note": "Reworded by the author"}
    )

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/questions/{world['q']}#comment-{world['c']}")
    session.commit()
    stored = session.get(Comment, world["c"])
    assert stored is not None and stored.deleted_at is None
    assert _comment_count(session, world["q"]) == before
    member_page = _as(app, "second").get(f"/questions/{world['q']}").get_data(as_text=True)
    assert "A comment body that was hidden" in member_page
    [row] = _audit(session, "moderation.unhide")
    assert (row.target_type, row.target_id) == ("comment", world["c"])
    assert row.reason == "Reworded by the author"
    assert row.actor is not None and row.actor.username == who


@pytest.mark.parametrize("target", ["q", "a", "article"])
def test_hidden_posts_are_unhidden_too(
    app: Flask, session: Session, world: dict[str, Any], target: str
) -> None:
    post_id = world[target]
    _hide(session, app, f"post:{post_id}")
    page = f"/articles/{world['slug']}" if target == "article" else f"/questions/{world['q']}"
    if target != "a":
        assert _as(app, "second").get(page).status_code == 404

    response = _as(app, "mod").post(f"/moderation/posts/{post_id}/unhide", {})

    assert response.status_code == 302
    member = _as(app, "second").get(page)
    assert member.status_code == 200
    if target == "a":
        assert "An answer body nobody likes" in member.get_data(as_text=True)
    [row] = _audit(session, "moderation.unhide")
    assert (row.target_type, row.target_id) == ("post", post_id)


def test_the_audit_log_offers_unhide_while_it_is_still_hidden(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    _hide(session, app, f"comment:{world['c']}")
    moderator = _as(app, "mod")
    page = moderator.get("/moderation/audit").get_data(as_text=True)
    assert f'action="/moderation/comments/{world["c"]}/unhide"' in page
    assert moderator.post(f"/moderation/comments/{world['c']}/unhide", {}).status_code == 302
    page = moderator.get("/moderation/audit").get_data(as_text=True)
    assert "Unhid content" in page and "Hid content" in page
    assert f'action="/moderation/comments/{world["c"]}/unhide"' not in page


@pytest.mark.parametrize("who", [None, "reader", "writer"])
@pytest.mark.parametrize("kind", ["comments", "posts"])
def test_only_moderators_and_admins_unhide(
    app: Flask, session: Session, world: dict[str, Any], who: str | None, kind: str
) -> None:
    target_id = world["c"] if kind == "comments" else world["a"]
    _hide(session, app, f"{kind[:-1]}:{target_id}")
    response = _as(app, who).post(f"/moderation/{kind}/{target_id}/unhide", {})
    if who is None:
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    else:
        assert response.status_code == 403
    session.commit()
    model = Comment if kind == "comments" else Post
    stored = session.get(model, target_id)
    assert stored is not None and stored.deleted_at is not None
    assert _audit(session, "moderation.unhide") == []


@pytest.mark.parametrize("kind", ["comments", "posts"])
def test_unhide_needs_a_csrf_token(
    app: Flask, session: Session, world: dict[str, Any], kind: str
) -> None:
    target_id = world["c"] if kind == "comments" else world["a"]
    _hide(session, app, f"{kind[:-1]}:{target_id}")
    moderator = _as(app, "boss")
    for data in ({}, {"csrf_token": "forged"}):
        response = moderator.client.post(f"/moderation/{kind}/{target_id}/unhide", data=data)
        assert response.status_code == 400
    assert _audit(session, "moderation.unhide") == []


def test_what_is_not_hidden_by_moderators_is_a_clear_409(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    moderator = _as(app, "mod")
    # Visible: nothing to unhide.
    visible = moderator.post(f"/moderation/comments/{world['c']}/unhide", {})
    assert visible.status_code == 409
    assert "isn&#39;t hidden by the moderators" in visible.get_data(as_text=True)
    # Deleted by its author: that stays the author's choice.
    writer = session.scalars(select(Post).where(Post.id == world["q"])).one().author
    assert writer is not None
    comment_service.delete(session, actor=writer, comment_id=world["c"])
    session.commit()
    assert moderator.post(f"/moderation/comments/{world['c']}/unhide", {}).status_code == 409
    session.commit()
    stored = session.get(Comment, world["c"])
    assert stored is not None and stored.deleted_at is not None
    # Unknown ids.
    assert moderator.post("/moderation/comments/999999/unhide", {}).status_code == 404
    assert moderator.post("/moderation/posts/999999/unhide", {}).status_code == 404
    assert _audit(session, "moderation.unhide") == []


def test_unhiding_twice_is_a_409_and_audited_once(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    _hide(session, app, f"comment:{world['c']}")
    moderator = _as(app, "mod")
    assert moderator.post(f"/moderation/comments/{world['c']}/unhide", {}).status_code == 302
    assert moderator.post(f"/moderation/comments/{world['c']}/unhide", {}).status_code == 409
    assert len(_audit(session, "moderation.unhide")) == 1
    assert moderation.ACTION_LABELS["moderation.unhide"] == "Unhid content"
