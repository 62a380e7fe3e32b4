"""Templates build URLs through a per-app memo that must give exactly what url_for gives."""

from __future__ import annotations

from typing import Any

import flask
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from forum import web
from forum.services import comments, questions, votes
from tests.factories import make_answer, make_comment, make_question, make_user


@pytest.mark.parametrize(
    ("endpoint", "values"),
    [
        ("questions.detail", {"question_id": 7, "slug": "a-slug"}),
        ("questions.detail", {"question_id": 7}),
        ("tags.detail", {"name": "c++ & go"}),
        ("users.profile", {"username": "grace"}),
        ("auth.login", {"next": "/questions/7?tab=top&x=1"}),
        ("auth.login", {"next": None}),
        ("questions.index", {"tab": "top", "page": 2}),
        ("questions.index", {"page": 2, "tab": "top"}),
        ("static", {"filename": "css/forum.css"}),
    ],
)
def test_cached_urls_equal_flask_urls(app: Flask, endpoint: str, values: dict[str, Any]) -> None:
    with app.test_request_context("/"):
        expected = flask.url_for(endpoint, **values)
        assert web.url_for(endpoint, **values) == expected
        # The second call is answered from the memo, and still the same.
        assert web.url_for(endpoint, **values) == expected


def test_the_request_base_is_part_of_the_key(app: Flask) -> None:
    with app.test_request_context("/"):
        plain = web.url_for("users.profile", username="ada")
    with app.test_request_context("/", base_url="http://localhost/forum/"):
        mounted = web.url_for("users.profile", username="ada")
        assert mounted == flask.url_for("users.profile", username="ada")
    assert plain == "/users/ada"
    assert mounted == "/forum/users/ada"


def test_options_and_unusual_values_are_built_every_time(app: Flask) -> None:
    with app.test_request_context("/"):
        assert web.url_for("users.profile", username="ada", _anchor="answers") == (
            "/users/ada#answers"
        )
        assert web.url_for("users.profile", username="ada", _external=True) == (
            "http://localhost/users/ada"
        )
        # True must not be answered with the URL built for 1 (they are equal as keys).
        assert web.url_for("questions.index", page=1) == "/questions?page=1"
        assert web.url_for("questions.index", page=True) == flask.url_for(
            "questions.index", page=True
        )
        assert web.url_for("questions.index", page=1.5) == "/questions?page=1.5"
    assert not any(key[4] == "users.profile" for key in app.extensions.get("forum.urls", {}))


def test_outside_a_request_url_for_behaves_as_flask(app: Flask) -> None:
    app.config["SERVER_NAME"] = "forum.example"
    with app.app_context():
        assert web.url_for("users.profile", username="ada") == "http://forum.example/users/ada"


def test_the_memo_is_bounded(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web, "URL_CACHE_SIZE", 5)
    with app.test_request_context("/"):
        for n in range(40):
            path = f"/questions/{n}"
            assert web.url_for("auth.login", next=path) == flask.url_for("auth.login", next=path)
    assert len(app.extensions["forum.urls"]) <= 5


def test_templates_use_the_memo(client: FlaskClient, app: Flask) -> None:
    assert client.get("/questions").status_code == 200
    endpoints = {key[4] for key in app.extensions["forum.urls"]}
    assert {"static", "questions.index", "tags.index"} <= endpoints


def test_question_page_statements_are_built_once(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    asker, other = make_user(session), make_user(session)
    question = make_question(session, asker, title="How do I read a flame graph well?")
    answer = make_answer(session, question, other)
    make_comment(session, answer, asker, body="Which profiler made it?")
    session.commit()
    for _ in range(3):
        page = client.get(f"/questions/{question.id}")
        assert page.status_code == 200
        assert b"Which profiler made it?" in page.data
    built = (
        questions._page_statement.cache_info().currsize
        + comments._load_statement.cache_info().currsize
        + questions._tags_statement.cache_info().currsize
    )
    # At most one page statement per kind of viewer, one for comments and one for tags.
    assert built <= 4
    assert votes._viewer_votes_statement.cache_info().currsize <= 1


def test_templates_get_the_requests_csrf_token(app: Flask) -> None:
    from flask_wtf.csrf import generate_csrf, validate_csrf

    with app.test_request_context("/"):
        rendered = flask.render_template_string("{{ csrf_token() }}|{{ csrf_token() }}")
        first, second = rendered.split("|")
        assert first == second == generate_csrf() == web.csrf_token()
        validate_csrf(first)  # raises if the token does not match the session's


def test_a_renamed_csrf_field_is_honoured(app: Flask) -> None:
    from flask_wtf.csrf import generate_csrf

    app.config["WTF_CSRF_FIELD_NAME"] = "csrf_other"
    with app.test_request_context("/"):
        flask.g.csrf_token = "not this one"
        assert web.csrf_token() == generate_csrf() != "not this one"
