"""Registration, login and logout through the forms, with their failures and throttling."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import User
from forum.services import departments
from tests.conftest import TEST_PASSWORD, Browser
from tests.factories import make_user


def test_newcomer_registers_and_is_logged_in(browser: Browser, session: Session) -> None:
    departments.ensure(session, "Support")
    session.commit()
    response = browser.register("newhire", department="Support", job_title="Agent")
    assert response.status_code == 302
    assert response.headers["Location"] == "/users/newhire"
    page = browser.get("/users/newhire").get_data(as_text=True)
    assert "Newhire Tester" in page and "Support" in page
    assert "Log out" in browser.get("/").get_data(as_text=True)
    user = session.scalars(select(User).where(User.username == "newhire")).one()
    assert user.email == "newhire@example.com" and user.department == "Support"


def test_register_form_keeps_input_and_explains_errors(browser: Browser, session: Session) -> None:
    departments.ensure(session, "Kept Department")
    session.commit()
    response = browser.register(
        "x y",
        email="not-email",
        display_name="Kept Name",
        password="short",
        department="Kept Department",
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'value="x y"' in page and 'value="not-email"' in page
    assert 'value="Kept Name"' in page and 'selected value="Kept Department"' in page
    assert "Use 3–32 characters" in page
    assert "valid email address" in page
    assert "at least 10 characters" in page
    assert 'aria-invalid="true"' in page


def test_duplicate_username_and_email_are_refused(browser: Browser, session: Session) -> None:
    make_user(session, "taken", email="taken@example.com")
    session.commit()
    response = browser.register("Taken", email="TAKEN@example.com")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "This username is already taken." in page
    assert "This email is already taken." in page


def test_login_with_username_or_email_then_logout(browser: Browser, session: Session) -> None:
    make_user(session, "grace", email="grace@example.com", display_name="Grace Kim")
    session.commit()
    response = browser.login("grace")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    header = '<span class="account-name">Grace Kim</span>'
    assert header in browser.get("/").get_data(as_text=True)
    assert browser.logout().status_code == 302
    assert header not in browser.get("/").get_data(as_text=True)
    assert browser.login("GRACE@example.com").status_code == 302


def test_wrong_password_and_unknown_account_get_the_same_answer(
    browser: Browser, session: Session
) -> None:
    make_user(session, "grace")
    session.commit()
    wrong = browser.login("grace", "not the password")
    unknown = browser.login("nobody-here", "not the password")
    assert wrong.status_code == unknown.status_code == 200
    message = "That username or email and password don&#39;t match an account."
    assert message in wrong.get_data(as_text=True)
    assert message in unknown.get_data(as_text=True)
    assert 'value="grace"' in wrong.get_data(as_text=True)


def test_logout_needs_post(browser: Browser, session: Session) -> None:
    make_user(session, "grace")
    session.commit()
    browser.login("grace")
    assert browser.get("/logout").status_code == 405
    assert "Log out" in browser.get("/").get_data(as_text=True)


def test_login_starts_a_fresh_session(browser: Browser, session: Session) -> None:
    make_user(session, "grace")
    session.commit()
    with browser.client.session_transaction() as cookie:
        cookie["planted"] = "by someone else"
    browser.login("grace")
    with browser.client.session_transaction() as cookie:
        assert "planted" not in cookie
        assert cookie["_user_id"].startswith(str(session.scalars(select(User.id)).one()))


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\\evil.example",
        "https:evil.example",
        "%2f%2fevil.example",
        "javascript:alert(1)",
        "https://evil.example/path",
        "/%5c%5cevil.example",
    ],
)
def test_next_never_leaves_the_site(browser: Browser, session: Session, target: str) -> None:
    make_user(session, "grace")
    session.commit()
    response = browser.post(
        "/login", {"username": "grace", "password": TEST_PASSWORD, "next": target}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    # Already logged in: the GET form redirects too, and also stays on the site.
    again = browser.get("/login", query_string={"next": target})
    assert again.headers["Location"] == "/"


def test_next_keeps_local_paths(browser: Browser, session: Session) -> None:
    make_user(session, "grace")
    session.commit()
    response = browser.post(
        "/login", {"username": "grace", "password": TEST_PASSWORD, "next": "/users?department=HR"}
    )
    assert response.headers["Location"] == "/users?department=HR"


def test_protected_pages_send_visitors_to_login_with_next(browser: Browser) -> None:
    response = browser.get("/settings/profile")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
