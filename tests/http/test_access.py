"""Members only by default: what a visitor may open, where the rest sends them, and sso mode.

The routing rules do not depend on the database, so these run on SQLite only.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from forum import access
from forum.services import circles
from tests.conftest import Browser
from tests.factories import make_user

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "PUBLIC_READ": False}


def login_target(response: Any) -> tuple[str, str | None]:
    """The path a redirect goes to, and its ``next``."""
    assert response.status_code == 302, response.status_code
    parts = urlsplit(response.headers["Location"])
    return parts.path, parse_qs(parts.query).get("next", [None])[0]


@pytest.mark.parametrize(
    ("path", "expected_next"),
    [
        ("/", None),
        ("/questions", "/questions"),
        ("/questions?tab=unanswered&page=2", "/questions?tab=unanswered&page=2"),
        ("/users/someone", "/users/someone"),
        ("/search?q=vpn", "/search?q=vpn"),
        ("/no/such/page", "/no/such/page"),
    ],
)
def test_a_visitor_is_sent_to_the_login_page_and_back(
    client: FlaskClient, path: str, expected_next: str | None
) -> None:
    assert login_target(client.get(path)) == ("/login", expected_next)


def test_after_logging_in_the_visitor_lands_on_the_page_asked_for(
    browser: Browser, session: Session
) -> None:
    make_user(session, "reader")
    session.commit()
    path, next_url = login_target(browser.get("/questions?tab=unanswered"))
    page = browser.get(f"{path}?next=/questions%3Ftab%3Dunanswered")
    assert page.status_code == 200
    response = browser.post(
        "/login", {"username": "reader", "password": "correct horse battery", "next": next_url}
    )
    assert response.headers["Location"] == "/questions?tab=unanswered"
    assert browser.get("/questions").status_code == 200


def test_a_next_to_another_site_is_never_followed(browser: Browser, session: Session) -> None:
    make_user(session, "reader")
    session.commit()
    response = browser.post(
        "/login",
        {"username": "reader", "password": "correct horse battery", "next": "//evil.example/"},
    )
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(
    "path",
    ["/login", "/register", "/password/forgot", "/healthz", "/static/css/forum.css"],
)
def test_pages_a_visitor_needs_stay_open(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    response.close()  # a static file is streamed from an open file
    assert response.status_code == 200


def test_every_open_endpoint_is_a_route(app: Flask) -> None:
    # A misspelt name would silently leave its page behind the login.
    assert access.OPEN_ENDPOINTS <= {rule.endpoint for rule in app.url_map.iter_rules()}


def test_links_from_emails_open_without_a_login(client: FlaskClient) -> None:
    # Invalid tokens: the pages answer for themselves instead of redirecting.
    assert client.get("/password/reset/not-a-token").status_code == 404
    assert client.get("/verify-email/not-a-token").status_code == 400
    # A claim link (sent to a member imported without a password) opens and is posted to
    # before the person has any session.
    assert client.get("/claim/not-a-token").status_code == 404
    posted = client.post("/claim/not-a-token", data={"password": "x" * 12})
    assert posted.status_code == 400 and "CSRF" in posted.get_data(as_text=True)  # not a redirect


def test_what_is_not_a_page_answers_401(client: FlaskClient, session: Session, app: Flask) -> None:
    member = make_user(session, "calendar-owner")
    token = circles.calendar_token(session, member)
    session.commit()
    for path in ("/circles/1/calendar.ics", "/uploads/abc.png", "/users/suggest?q=ca"):
        response = client.get(path)
        assert response.status_code == 401, path
    listing = client.get("/questions", headers={"Accept": "application/json"})
    assert listing.status_code == 401
    assert listing.get_json()["status"] == 401
    # The secret feed address is its own key: calendar apps cannot log in.
    feed = client.get(f"/circles/calendar/{token}.ics")
    assert feed.status_code == 200
    assert feed.mimetype == "text/calendar"
    assert client.get("/circles/calendar/wrong-token.ics").status_code == 404


def test_a_visitor_cannot_write_even_with_public_reading(
    app: Flask, browser: Browser, session: Session
) -> None:
    make_user(session, "author")
    session.commit()
    form = {"title": "Is this written?", "body": "A visitor tries to ask.", "tags": "x"}
    path, _next = login_target(browser.post("/questions/ask", form))
    assert path == "/login"
    app.config["PUBLIC_READ"] = True
    assert browser.get("/questions").status_code == 200
    assert browser.get("/circles/1/calendar.ics").status_code == 404  # read, no such circle
    path, _next = login_target(browser.post("/questions/ask", form))
    assert path == "/login"


def test_members_see_everything(browser: Browser, session: Session) -> None:
    make_user(session, "reader")
    session.commit()
    browser.login("reader")
    for path in ("/", "/questions", "/users", "/users/reader"):
        assert browser.get(path).status_code == 200, path


def test_the_login_page_names_the_demo_accounts_only_when_the_demo_is_loaded(
    client: FlaskClient, session: Session
) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert "demo-accounts" not in page
    make_user(session, "amara", email="amara@northwind.example")
    session.commit()
    page = client.get("/login").get_data(as_text=True)
    assert 'id="demo-accounts"' in page
    assert "<strong>amara</strong> (admin)" in page and "<strong>jonas</strong>" in page


def test_sso_mode_turns_off_registration_and_passwords(
    app: Flask, browser: Browser, session: Session
) -> None:
    app.config["REGISTRATION"] = "sso"
    make_user(session, "local")
    session.commit()
    page = browser.get("/login").get_data(as_text=True)
    assert "company sign-in" in page
    assert 'name="password"' not in page and "Forgot password" not in page
    assert "/register" not in page
    refused = browser.login("local")
    assert refused.status_code == 403
    assert login_target(browser.get("/register"))[0] == "/login"
    assert browser.get("/password/forgot").status_code == 404
    assert browser.get("/password/reset/anything").status_code == 404
    # Still nobody is logged in.
    assert login_target(browser.get("/questions"))[0] == "/login"
