"""A NUL character anywhere in a request gets a 400, never a 500 (PostgreSQL text has no NUL)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum.models import Question
from tests.conftest import Browser
from tests.factories import make_user

NUL_GETS = [
    pytest.param("/search?q=a%00b", id="search-query"),
    pytest.param("/search?q=ok&q=a%00b", id="second-value"),
    pytest.param("/search?q%00=x", id="query-key"),
    pytest.param("/questions?tab=newest&tag=a%00b", id="question-filter"),
    pytest.param("/articles?tag=a%00b", id="article-filter"),
    pytest.param("/users?q=a%00b", id="people-filter"),
    pytest.param("/tags/a%00b", id="tag-path"),
    pytest.param("/users/a%00b", id="user-path"),
    pytest.param("/articles/a%00b", id="article-path"),
    pytest.param("/no-such-page/%00", id="unknown-path"),
]


@pytest.mark.parametrize("path", NUL_GETS)
def test_nul_in_the_address_is_a_bad_request(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 400
    assert "NUL character" in response.get_data(as_text=True)


def test_the_same_addresses_without_nul_still_work(client: FlaskClient, session: Session) -> None:
    make_user(session, "amara")
    session.commit()
    for path in ("/search?q=ab", "/questions?tag=ab", "/articles?tag=ab", "/users/amara"):
        assert client.get(path).status_code in (200, 404), path


def test_nul_in_a_cookie_is_a_bad_request(client: FlaskClient) -> None:
    client.set_cookie("theme", "dark\x00")
    assert client.get("/").status_code == 400


def test_nul_in_a_form_field_keeps_the_database_untouched(
    browser: Browser, session: Session
) -> None:
    make_user(session, "priya")
    session.commit()
    browser.login("priya")
    form: dict[str, Any] = {
        "title": "How do I read a query plan\x00?",
        "body": "I ran EXPLAIN and got lost in the output of the planner.",
        "tags": "sql",
    }
    response = browser.post("/questions/ask", form)
    assert response.status_code == 400
    assert "NUL character in a form field" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Question)) == 0


def test_nul_in_a_login_field_is_a_bad_request(browser: Browser, session: Session) -> None:
    make_user(session, "priya")
    session.commit()
    response = browser.post("/login", {"username": "pri\x00ya", "password": "x"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('{"q": "a\\u0000b"}', id="value"),
        pytest.param('{"a\\u0000": 1}', id="key"),
        pytest.param('{"list": [["x", "a\\u0000"]]}', id="nested"),
        pytest.param("[" * 100_000 + "]" * 100_000, id="too-deep"),
    ],
)
def test_nul_in_a_json_body_is_a_bad_request(client: FlaskClient, body: str) -> None:
    response = client.post("/login", data=body, content_type="application/json")
    assert response.status_code == 400


def test_nul_in_a_header_is_a_bad_request(client: FlaskClient) -> None:
    response = client.get("/", headers={"X-Client": "a\x00b"})
    assert response.status_code == 400
