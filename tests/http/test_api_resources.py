"""The REST API's resources, through the same services (and rules) as the pages."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import Notification, Revision, Role
from forum.services import notifications
from tests.factories import make_answer, make_article, make_question, make_user
from tests.http.api_helpers import api_get, api_send, assert_problem, make_token

ANON = "Anonymous colleague"


def test_questions_ask_list_page_get_and_edit(app: Flask, session: Session) -> None:
    asker = make_user(session, "asker")
    make_question(session, tags=("python",), title="An older question about python")
    make_question(session, tags=("sql",), title="A question about sql queries")
    secret = make_token(session, asker, name="bot")
    created = api_send(
        app,
        "POST",
        "/questions",
        secret,
        {"title": "How do I rotate the VPN keys?", "body": "Steps?", "tags": ["python"]},
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    question = created.get_json()
    assert question["author"] == {"username": "asker", "display_name": asker.display_name}
    assert question["tags"] == ["python"] and "<p>Steps?</p>" in question["body_html"]
    first = api_get(app, "/questions?tag=python&limit=1", secret).get_json()
    assert [q["id"] for q in first["items"]] == [question["id"]] and first["total"] == 2
    second = api_get(app, f"/questions?tag=python&limit=1&cursor={first['next_cursor']}", secret)
    assert second.get_json()["items"][0]["title"] == "An older question about python"
    assert second.get_json()["next_cursor"] is None
    assert_problem(api_get(app, "/questions?tag=no-such-tag", secret), 404)
    assert_problem(api_get(app, "/questions?cursor=bogus", secret), 422)
    edited = api_send(
        app, "PATCH", f"/questions/{question['id']}", secret, {"body": "Which steps?"}
    )
    assert edited.status_code == 200 and edited.get_json()["revision"] == 2
    assert edited.get_json()["title"] == "How do I rotate the VPN keys?"
    summaries = session.scalars(
        select(Revision.summary).where(Revision.post_id == question["id"]).order_by(Revision.number)
    ).all()
    assert summaries == ["Asked (via token bot)", "Edited (via token bot)"]


def test_validation_errors_are_field_problems(app: Flask, session: Session) -> None:
    secret = make_token(session, make_user(session))
    short = api_send(app, "POST", "/questions", secret, {"title": "Short", "body": "", "tags": []})
    errors = assert_problem(short, 422)["errors"]
    assert set(errors) == {"title", "body", "tags"}
    typed = assert_problem(api_send(app, "POST", "/questions", secret, {"title": 5}), 422)
    assert {"title", "body", "tags"} <= set(typed["errors"])
    not_json = app.test_client().post(
        "/api/v1/questions", data="title=x", headers={"Authorization": f"Bearer {secret}"}
    )
    assert_problem(not_json, 415)


def test_a_member_cannot_edit_or_accept_on_another_members_posts(
    app: Flask, session: Session
) -> None:
    owner, other = make_user(session, "owner"), make_user(session, "other")
    question = make_question(session, owner)
    answer = make_answer(session, question, other)
    session.commit()
    intruder = make_token(session, other, name="intruder")
    refused = api_send(app, "PATCH", f"/questions/{question.id}", intruder, {"body": "Mine now"})
    assert_problem(refused, 403)
    assert_problem(api_send(app, "POST", f"/answers/{answer.id}/accept", intruder), 403)
    session.expire_all()
    assert question.body_md != "Mine now" and question.revision_count == 1
    asker = make_token(session, owner, name="asker")
    assert_problem(api_send(app, "PATCH", f"/answers/{answer.id}", asker, {"body": "x y"}), 403)
    accepted = api_send(app, "POST", f"/answers/{answer.id}/accept", asker).get_json()
    assert accepted == {"question_id": question.id, "accepted_answer_id": answer.id}
    undone = api_send(app, "POST", f"/answers/{answer.id}/accept", asker).get_json()
    assert undone["accepted_answer_id"] is None


def test_answers_votes_and_comments(app: Flask, session: Session) -> None:
    asker, answerer = make_user(session, "q"), make_user(session, "a", reputation=500)
    question = make_question(session, asker)
    session.commit()
    secret = make_token(session, answerer)
    created = api_send(app, "POST", f"/questions/{question.id}/answers", secret, {"body": "Do X"})
    assert created.status_code == 201
    answer_id = created.get_json()["id"]
    edited = api_send(
        app, "PATCH", f"/answers/{answer_id}", secret, {"body": "Do Y", "summary": ""}
    )
    assert edited.get_json()["revision"] == 2 and "Do Y" in edited.get_json()["body_html"]
    assert_problem(api_send(app, "PUT", f"/posts/{answer_id}/vote", secret, {"value": 1}), 403)
    up = api_send(app, "PUT", f"/posts/{question.id}/vote", secret, {"value": 1}).get_json()
    assert up == {"post_id": question.id, "score": 1, "my_vote": 1}
    again = api_send(app, "PUT", f"/posts/{question.id}/vote", secret, {"value": 1}).get_json()
    assert again["score"] == 1 and again["my_vote"] == 1
    down = api_send(app, "PUT", f"/posts/{question.id}/vote", secret, {"value": -1}).get_json()
    assert down["score"] == -1
    gone = api_send(app, "DELETE", f"/posts/{question.id}/vote", secret).get_json()
    assert gone == {"post_id": question.id, "score": 0, "my_vote": 0}
    assert_problem(api_send(app, "PUT", f"/posts/{question.id}/vote", secret, {"value": 2}), 422)
    comment = api_send(app, "POST", f"/posts/{question.id}/comments", secret, {"body": "Which?"})
    assert comment.status_code == 201
    reply = api_send(
        app,
        "POST",
        f"/posts/{question.id}/comments",
        secret,
        {"body": "Reply", "parent_id": comment.get_json()["id"]},
    ).get_json()
    assert reply["parent_id"] == comment.get_json()["id"]
    page = api_get(app, f"/questions/{question.id}", secret).get_json()
    assert [c["id"] for c in page["comments"]] == [comment.get_json()["id"], reply["id"]]
    assert page["answers"][0]["id"] == answer_id
    assert_problem(api_get(app, "/questions/999999", secret), 404)
    assert_problem(api_get(app, "/questions/99999999999", secret), 404)


def test_anonymous_authors_never_appear(app: Flask, session: Session) -> None:
    asker = make_user(session, "shy", display_name="Shy Person")
    reader = make_user(session, "reader", role=Role.MODERATOR)
    session.commit()
    mine = make_token(session, asker, name="shy laptop")
    asked = api_send(
        app,
        "POST",
        "/questions",
        mine,
        {
            "title": "Is it fine to ask about salaries?",
            "body": "Wondering.",
            "tags": ["howto"],
            "anonymous": True,
        },
    )
    if asked.status_code == 422:  # the tag must exist first
        make_question(session, tags=("howto",))
        session.commit()
        asked = api_send(
            app,
            "POST",
            "/questions",
            mine,
            {
                "title": "Is it fine to ask about salaries?",
                "body": "Wondering.",
                "tags": ["howto"],
                "anonymous": True,
            },
        )
    question_id = asked.get_json()["id"]
    api_send(app, "POST", f"/questions/{question_id}/answers", mine, {"body": "Self answer"})
    api_send(app, "POST", f"/posts/{question_id}/comments", mine, {"body": "More detail"})
    api_send(app, "PATCH", f"/questions/{question_id}", mine, {"body": "Wondering a lot."})
    other = make_token(session, reader)
    shown = api_get(app, f"/questions/{question_id}", other)
    listed = api_get(app, "/questions", other)
    found = api_get(app, "/search?q=salaries", other)
    for response in (shown, listed, found, asked):
        text = response.get_data(as_text=True)
        assert "shy" not in text.lower().replace("shy laptop", "") or "Shy" not in text
        assert "Shy Person" not in text and '"shy"' not in text
    page = shown.get_json()
    assert page["author"] == {"username": None, "display_name": ANON}
    assert page["answers"][0]["author"]["username"] is None
    assert page["comments"][0]["author"]["username"] is None
    hit = found.get_json()["items"][0]
    assert hit["id"] == question_id and hit["author_username"] is None
    # The token's name could say who asked: the history names no token under the mask.
    summaries = session.scalars(select(Revision.summary)).all()
    assert all("shy laptop" not in text for text in summaries)
    assert "Edited (via an access token)" in summaries


def test_articles_list_get_create_and_edit_with_merge_and_conflict(
    app: Flask, session: Session
) -> None:
    author = make_user(session, "writer", reputation=500)
    make_article(session, author, title="Deploying on Fridays", body="Line one\n\nLine two\n")
    session.commit()
    secret = make_token(session, author, name="docs sync")
    listed = api_get(app, "/articles?tag=howto", secret).get_json()
    assert [a["slug"] for a in listed["items"]] == ["deploying-on-fridays"]
    article = api_get(app, "/articles/deploying-on-fridays", secret).get_json()
    assert (
        article["body_md"] == "Line one\n\nLine two\n" and "<p>Line one</p>" in article["body_html"]
    )
    created = api_send(
        app,
        "POST",
        "/articles",
        secret,
        {"title": "Rotating keys", "body": "Do it.", "tags": ["howto"], "type": "tutorial"},
    )
    assert created.status_code == 201 and created.get_json()["type"] == "tutorial"
    path = "/articles/deploying-on-fridays"
    first = api_send(
        app, "PATCH", path, secret, {"body": "Line one!\n\nLine two\n", "base_revision": 1}
    )
    assert first.get_json()["changed"] and first.get_json()["article"]["revision"] == 2
    # Started from revision 1 as well, another line: merged with revision 2.
    merged = api_send(
        app, "PATCH", path, secret, {"body": "Line one\n\nLine 2\n", "base_revision": 1}
    )
    assert merged.get_json()["merged_with"] == 2
    assert merged.get_json()["article"]["body_md"] == "Line one!\n\nLine 2\n"
    clash = api_send(
        app, "PATCH", path, secret, {"body": "Line uno\n\nLine 2\n", "base_revision": 1}
    )
    body = assert_problem(clash, 409)
    assert (
        body["current_revision"] == 3 and body["fields"] == ["body"] and "<<<<<<<" in body["merged"]
    )
    assert_problem(api_get(app, "/articles/no-such-article", secret), 404)
    revision = session.scalars(select(Revision.summary).order_by(Revision.id.desc())).first()
    assert revision == "(merged with revision 2) (via token docs sync)"


def test_tags_users_search_and_notifications(app: Flask, session: Session) -> None:
    member = make_user(session, "nia", reputation=42, bio="Networks")
    asker = make_user(session, "olu")
    question = make_question(
        session,
        asker,
        title="Kubernetes rollout stuck at half way",
        body="The rollout hangs.",
        tags=("k8s",),
    )
    make_answer(session, question, member, body="Check the readiness probe")
    session.commit()
    secret = make_token(session, asker)
    tags = api_get(app, "/tags?prefix=k", secret).get_json()
    assert tags["items"][0]["name"] == "k8s" and tags["items"][0]["question_count"] == 1
    assert api_get(app, "/tags/k8s", secret).get_json()["question_count"] == 1
    assert_problem(api_get(app, "/tags/nope", secret), 404)
    profile = api_get(app, "/users/nia", secret).get_json()
    assert profile["reputation"] == 42 and profile["bio"] == "Networks"
    assert isinstance(profile["badges"], list)
    assert_problem(api_get(app, "/users/nobody", secret), 404)
    found = api_get(app, "/search?q=rollout", secret).get_json()
    assert found["items"][0]["id"] == question.id and "<mark>" in found["items"][0]["snippet"]
    assert found["items"][0]["author_username"] == "olu"
    refused = api_get(app, '/search?q="unclosed', secret).get_json()
    assert refused["total"] == 0
    inbox = api_get(app, "/notifications", secret).get_json()
    answered = next(n for n in inbox["items"] if n["kind"] == "answer")
    assert inbox["unread"] == inbox["total"] >= 1 and answered["read"] is False
    assert f"/questions/{question.id}" in answered["url"]
    note_id = answered["id"]
    read = api_send(app, "POST", f"/notifications/{note_id}/read", secret).get_json()
    assert read["read"] is True
    other = make_token(session, member)
    assert_problem(api_send(app, "POST", f"/notifications/{note_id}/read", other), 404)
    notifications.notify(
        session, recipient=asker, kind="badge", text="A badge", endpoint="main.index", params={}
    )
    session.commit()
    assert api_send(app, "POST", "/notifications/read-all", secret).get_json()["marked"] >= 1
    session.rollback()
    mine = session.scalars(select(Notification).where(Notification.text == "A badge")).one()
    assert mine.read_at is not None
