"""IDOR: every Q&A route with an object id, tried by a visitor, another member, the owner and
a moderator. Nobody changes what isn't theirs, and a refused request changes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.orm import Session

from forum.models import Role
from tests.conftest import Browser
from tests.factories import make_answer, make_comment, make_question, make_user

ACTORS = ("visitor", "other", "owner", "moderator")
Q_BLUEPRINTS = ("questions.", "posts.", "tags.")


@dataclass(frozen=True)
class Case:
    """One route: how to call it, who owns its object, and who may use it."""

    endpoint: str
    method: str
    path: str
    allowed: frozenset[str]
    owner: str | None = None
    data: dict[str, str] = field(default_factory=dict)
    #: Status a refused member gets (404 hides deleted objects).
    refused: int = 403
    deleted_question: bool = False


def case(endpoint: str, method: str, path: str, allowed: set[str], **kw: Any) -> Case:
    return Case(endpoint, method, path, frozenset(allowed), **kw)


EVERYONE = {"visitor", "other", "owner", "moderator"}
MEMBERS = {"other", "owner", "moderator"}
CASES = [
    case("questions.detail", "GET", "/questions/{q}", EVERYONE, owner="asker"),
    case("questions.detail", "GET", "/questions/{q}/some-slug", EVERYONE, owner="asker"),
    case(
        "questions.detail",
        "GET",
        "/questions/{q}",
        {"owner", "moderator"},
        owner="asker",
        refused=404,
        deleted_question=True,
    ),
    case("questions.history", "GET", "/questions/{q}/history", EVERYONE, owner="asker"),
    case("questions.answer_history", "GET", "/answers/{a}/history", EVERYONE, owner="answerer"),
    case("questions.edit", "GET", "/questions/{q}/edit", {"owner", "moderator"}, owner="asker"),
    case(
        "questions.edit",
        "POST",
        "/questions/{q}/edit",
        {"owner", "moderator"},
        owner="asker",
        data={"title": "A changed title for this question", "body": "Changed.", "tags": "python"},
    ),
    case(
        "questions.answer",
        "POST",
        "/questions/{q}/answer",
        MEMBERS,
        owner="asker",
        data={"body": "An answer from anyone who knows."},
    ),
    case(
        "questions.edit_answer",
        "GET",
        "/answers/{a}/edit",
        {"owner", "moderator"},
        owner="answerer",
    ),
    case(
        "questions.edit_answer",
        "POST",
        "/answers/{a}/edit",
        {"owner", "moderator"},
        owner="answerer",
        data={"body": "Rewritten answer."},
    ),
    # The asker accepts; the answer's own author and moderators may not.
    case("questions.accept", "POST", "/answers/{a}/accept", {"owner"}, owner="asker"),
    case(
        "questions.delete_answer",
        "POST",
        "/answers/{a}/delete",
        {"owner", "moderator"},
        owner="answerer",
    ),
    case(
        "questions.undelete_answer",
        "POST",
        "/answers/{a}/undelete",
        {"moderator"},
        owner="answerer",
    ),
    case(
        "questions.delete", "POST", "/questions/{q}/delete", {"owner", "moderator"}, owner="asker"
    ),
    case("questions.undelete", "POST", "/questions/{q}/undelete", {"moderator"}, owner="asker"),
    case("questions.close", "GET", "/questions/{q}/close", {"moderator"}, owner="asker"),
    case(
        "questions.close",
        "POST",
        "/questions/{q}/close",
        {"moderator"},
        owner="asker",
        data={"reason": "off-topic", "note": "Ask in the team channel."},
    ),
    case("questions.reopen", "POST", "/questions/{closed}/reopen", {"moderator"}, owner="asker"),
    # Below 250 reputation nobody votes to close, so nobody withdraws a vote either.
    case(
        "questions.withdraw_close_vote",
        "POST",
        "/questions/{q}/close-vote/withdraw",
        {"moderator"},
        owner="asker",
    ),
    case("questions.delete", "GET", "/questions/{q}/delete", {"owner", "moderator"}, owner="asker"),
    case(
        "questions.delete_answer",
        "GET",
        "/answers/{a}/delete",
        {"owner", "moderator"},
        owner="answerer",
    ),
    case("questions.reveal", "GET", "/questions/{anon}/reveal", {"moderator"}, owner="asker"),
    case(
        "questions.reveal",
        "POST",
        "/questions/{anon}/reveal",
        {"moderator"},
        owner="asker",
        data={"reason": "A code of conduct report needs follow-up."},
    ),
    # Nobody votes on their own post.
    case(
        "posts.vote",
        "POST",
        "/posts/{q}/vote",
        {"other", "moderator"},
        owner="asker",
        data={"value": "1"},
    ),
    case(
        "posts.vote",
        "POST",
        "/posts/{a}/vote",
        {"other", "moderator"},
        owner="answerer",
        data={"value": "1"},
    ),
    case(
        "posts.comment_vote",
        "POST",
        "/comments/{c}/vote",
        {"other", "moderator"},
        owner="commenter",
    ),
    case(
        "posts.add_comment",
        "POST",
        "/posts/{a}/comments",
        MEMBERS,
        owner="answerer",
        data={"body": "Thanks, that helped."},
    ),
    case("posts.edit_comment", "GET", "/comments/{c}/edit", {"owner"}, owner="commenter"),
    case(
        "posts.edit_comment",
        "POST",
        "/comments/{c}/edit",
        {"owner"},
        owner="commenter",
        data={"body": "Edited comment."},
    ),
    case(
        "posts.delete_comment",
        "GET",
        "/comments/{c}/delete",
        {"owner", "moderator"},
        owner="commenter",
    ),
    case(
        "posts.delete_comment",
        "POST",
        "/comments/{c}/delete",
        {"owner", "moderator"},
        owner="commenter",
    ),
    case("tags.detail", "GET", "/tags/python", EVERYONE),
    case("tags.edit", "GET", "/tags/python/edit", {"moderator"}),
    case(
        "tags.edit",
        "POST",
        "/tags/python/edit",
        {"moderator"},
        data={"excerpt": "Python questions.", "description": "Use for Python."},
    ),
    case("tags.follow", "POST", "/tags/python/follow", {"other", "moderator"}),
    case("tags.unfollow", "POST", "/tags/python/unfollow", {"other", "moderator"}),
    case(
        "tags.add_synonym", "POST", "/tags/python/synonyms", {"moderator"}, data={"synonym": "py"}
    ),
]

#: What must not change when a request is refused (view counts and activity times aside).
SNAPSHOT = [
    "SELECT id, title, body_md, score, deleted_at, closed_at, closed_reason, accepted_answer_id,"
    " duplicate_of_id, answer_count, comment_count, revision_count FROM posts ORDER BY id",
    "SELECT user_id, post_id, value FROM votes ORDER BY id",
    "SELECT id, body_md, deleted_at, score FROM comments ORDER BY id",
    "SELECT user_id, comment_id FROM comment_votes ORDER BY id",
    "SELECT id, name, excerpt, description_md FROM tags ORDER BY id",
    "SELECT name, tag_id FROM tag_synonyms ORDER BY id",
    "SELECT user_id, tag_id FROM tag_follows ORDER BY user_id, tag_id",
    "SELECT actor_id, action, target_id FROM audit_log ORDER BY id",
]


def snapshot(session: Session) -> list[list[Any]]:
    session.expire_all()
    return [[tuple(row) for row in session.execute(text(sql))] for sql in SNAPSHOT]


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    """Members with distinct roles and the objects they own."""
    people = {
        "asker": make_user(session, "asker"),
        "answerer": make_user(session, "answerer"),
        "commenter": make_user(session, "commenter"),
        "other": make_user(session, "other"),
        "moderator": make_user(session, "moddy", role=Role.MODERATOR),
    }
    question = make_question(session, people["asker"], tags=("python",))
    answer = make_answer(session, question, people["answerer"])
    comment = make_comment(session, question, people["commenter"])
    closed = make_question(session, people["asker"], tags=("python",))
    closed.closed_at = closed.created_at
    closed.closed_reason = "off-topic"
    anonymous = make_question(session, people["asker"], tags=("python",), anonymous=True)
    session.commit()
    ids = {
        "q": question.id,
        "a": answer.id,
        "c": comment.id,
        "closed": closed.id,
        "anon": anonymous.id,
    }
    return {"people": people, "ids": ids, "question": question}


def _client_for(app: Flask, actor: str, owner: str | None) -> Browser:
    browser = Browser(app.test_client())
    username = {"visitor": None, "other": "other", "moderator": "moddy"}.get(actor, owner)
    if username is not None:
        assert browser.login(username).status_code == 302
    return browser


def test_every_route_with_an_object_id_is_covered(app: Flask) -> None:
    covered = {c.endpoint for c in CASES}
    routes = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(Q_BLUEPRINTS) and rule.arguments
    }
    assert routes - covered == set()


@pytest.mark.parametrize("route", CASES, ids=lambda c: f"{c.method} {c.path}")
def test_only_the_right_people_change_things(
    app: Flask, session: Session, world: dict[str, Any], route: Case
) -> None:
    path = route.path.format(**world["ids"])
    if route.deleted_question:
        world["question"].deleted_at = world["question"].created_at
        session.commit()
    for actor in ACTORS:
        if actor == "owner" and route.owner is None:
            continue
        browser = _client_for(app, actor, route.owner)
        before = snapshot(session)
        if route.method == "GET":
            response = browser.get(path)
        else:
            response = browser.post(path, route.data)
        if actor in route.allowed:
            assert response.status_code in (200, 302, 303), (actor, response.status_code)
            if response.status_code in (302, 303):
                assert "/login" not in response.headers["Location"], actor
            continue
        after = snapshot(session)
        assert after == before, f"{actor} changed something through {route.method} {path}"
        if (
            actor == "visitor"
            and route.method == "POST"
            or (actor == "visitor" and route.refused == 403)
        ):
            assert response.status_code == 302, (actor, response.status_code)
            assert "/login" in response.headers["Location"]
        else:
            assert response.status_code == route.refused, (actor, response.status_code)


def test_unknown_ids_are_404_for_members(app: Flask, world: dict[str, Any]) -> None:
    browser = _client_for(app, "moderator", None)
    for method, path in [
        ("GET", "/questions/999999"),
        ("GET", "/questions/999999/history"),
        ("GET", "/answers/999999/edit"),
        ("POST", "/answers/999999/accept"),
        ("POST", "/posts/999999/vote"),
        ("POST", "/posts/999999/comments"),
        ("GET", "/comments/999999/edit"),
        ("POST", "/comments/999999/delete"),
        ("POST", "/comments/999999/vote"),
        ("GET", "/tags/no-such-tag"),
        ("POST", "/questions/999999/close"),
    ]:
        data = {"value": "1", "body": "x", "reason": "off-topic"}
        response = browser.get(path) if method == "GET" else browser.post(path, data)
        assert response.status_code == 404, (method, path, response.status_code)
