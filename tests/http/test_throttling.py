"""Failed logins and registrations are throttled, in memory or shared through Redis."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy.orm import Session

from forum.blueprints.auth import DEVICE_COOKIE
from forum.extensions import limiter
from forum.models import Role
from tests.conftest import REDIS_URL, TEST_PASSWORD, Browser
from tests.factories import make_user

STORAGES = [
    pytest.param("memory://", id="memory"),
    pytest.param(
        REDIS_URL or "",
        id="redis",
        marks=pytest.mark.skipif(
            REDIS_URL is None,
            reason="FORUM_TEST_REDIS_URL is not set: Redis variants need a server",
        ),
    ),
]


@pytest.fixture(params=STORAGES)
def app_config(request: pytest.FixtureRequest, app_config: dict[str, Any]) -> dict[str, Any]:
    """Rate limits on, in memory or in Redis, with small limits to reach quickly."""
    return {
        **app_config,
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URL": request.param,
        "LOGIN_LIMIT_PER_ACCOUNT": "3 per minute",
        "LOGIN_LIMIT_PER_IP": "5 per minute",
        "REGISTER_LIMIT_PER_IP": "2 per minute",
        "PASSWORD_CHECK_LIMIT": "3 per minute",
        "DRAFT_RATE_LIMIT": "3 per minute",
    }


@pytest.fixture(autouse=True)
def empty_limits(app: Flask) -> None:
    """Start each test with no attempts counted (the Redis storage outlives apps)."""
    limiter.reset()


def test_failed_logins_are_throttled_per_account(
    app: Flask, browser: Browser, session: Session
) -> None:
    make_user(session, "grace")
    session.commit()
    for _ in range(3):
        assert browser.login("grace", "wrong password").status_code == 200
    blocked = browser.login("grace", TEST_PASSWORD)
    assert blocked.status_code == 429
    page = blocked.get_data(as_text=True)
    assert "Slow down" in page and '<main id="main"' in page
    # Another account from the same address is not blocked by grace's limit.
    make_user(session, "tom")
    session.commit()
    assert browser.login("tom").status_code == 302


def test_failed_logins_are_throttled_per_address(
    app: Flask, browser: Browser, session: Session
) -> None:
    for n in range(5):
        assert browser.login(f"someone{n}", "wrong password").status_code == 200
    assert browser.login("someone-else", "wrong password").status_code == 429


def test_successful_logins_are_not_throttled(
    app: Flask, browser: Browser, session: Session
) -> None:
    make_user(session, "grace")
    session.commit()
    for _ in range(6):
        assert browser.login("grace").status_code == 302
        browser.logout()


def test_registrations_are_throttled_per_address(app: Flask, browser: Browser) -> None:
    assert browser.register("first1").status_code == 302
    browser.logout()
    assert browser.register("second2").status_code == 302
    browser.logout()
    assert browser.register("third3").status_code == 429


def test_username_and_email_of_one_account_share_a_bucket(
    app: Flask, browser: Browser, session: Session
) -> None:
    make_user(session, "grace", email="grace@example.com")
    session.commit()
    assert browser.login("grace", "wrong password").status_code == 200
    assert browser.login("GRACE@example.com", "wrong password").status_code == 200
    assert browser.login(" Grace ", "wrong password").status_code == 200
    assert browser.login("grace@example.com", TEST_PASSWORD).status_code == 429


def test_others_failures_never_lock_the_owner_out_of_a_known_device(
    app: Flask, browser: Browser, session: Session
) -> None:
    make_user(session, "admin1", role=Role.ADMIN, email="boss@example.com")
    session.commit()
    owner = Browser(app.test_client())
    assert owner.login("admin1").status_code == 302
    owner.logout()
    # Someone else tries to lock the account, by name and by email.
    assert browser.login("admin1", "guess").status_code == 200
    assert browser.login("boss@example.com", "guess").status_code == 200
    assert browser.login("admin1", "guess").status_code == 200
    assert browser.login("admin1", TEST_PASSWORD).status_code == 429
    # The owner's browser has logged in before: its own bucket is untouched.
    assert owner.login("admin1").status_code == 302


def test_a_known_device_is_still_throttled_on_its_own_failures(
    app: Flask, browser: Browser, session: Session
) -> None:
    make_user(session, "grace")
    session.commit()
    assert browser.login("grace").status_code == 302
    browser.logout()
    for _ in range(3):
        assert browser.login("grace", "wrong password").status_code == 200
    assert browser.login("grace", TEST_PASSWORD).status_code == 429


def test_a_forged_device_cookie_counts_as_an_unknown_device(
    app: Flask, browser: Browser, session: Session
) -> None:
    user = make_user(session, "grace")
    session.commit()
    for _ in range(3):
        assert browser.login("grace", "wrong password").status_code == 200
    forged = URLSafeTimedSerializer("not the key", salt="forum.login-device")
    browser.client.set_cookie(DEVICE_COOKIE, forged.dumps({"d": "mine", "u": [user.id]}))
    assert browser.login("grace", TEST_PASSWORD).status_code == 429


def test_a_device_known_to_another_account_is_unknown_to_this_one(
    app: Flask, browser: Browser, session: Session
) -> None:
    make_user(session, "grace")
    make_user(session, "tom")
    session.commit()
    assert browser.login("tom").status_code == 302
    browser.logout()
    for _ in range(3):
        assert browser.login("grace", "wrong password").status_code == 200
    assert browser.login("grace", TEST_PASSWORD).status_code == 429


def test_unknown_names_are_throttled_per_typed_value_like_accounts(
    app: Flask, browser: Browser, session: Session
) -> None:
    make_user(session, "grace")
    session.commit()
    for _ in range(3):
        assert browser.login("nobody-here", "wrong password").status_code == 200
    assert browser.login("nobody-here", "wrong password").status_code == 429
    assert browser.login("grace").status_code == 302


def test_current_password_checks_are_throttled_per_account(
    app: Flask, browser: Browser, session: Session
) -> None:
    make_user(session, "grace")
    session.commit()
    browser.login("grace")
    new = {"new_password": "new passphrase here"}
    # A weak new password with the right current one does not count.
    weak = browser.post(
        "/settings/password", {"current_password": TEST_PASSWORD, "new_password": "x"}
    )
    assert weak.status_code == 400
    for _ in range(3):
        wrong = browser.post("/settings/password", {"current_password": "guess", **new})
        assert wrong.status_code == 400
    blocked = browser.post("/settings/password", {"current_password": TEST_PASSWORD, **new})
    assert blocked.status_code == 429
    # The limit follows the account, not the browser's session.
    laptop = Browser(app.test_client())
    laptop.login("grace")
    again = laptop.post("/settings/password", {"current_password": TEST_PASSWORD, **new})
    assert again.status_code == 429
    # Another member is not affected.
    make_user(session, "tom")
    session.commit()
    other = Browser(app.test_client())
    other.login("tom")
    ok = other.post("/settings/password", {"current_password": TEST_PASSWORD, **new})
    assert ok.status_code == 302


def test_draft_autosaves_are_throttled_per_member(session: Session, browser: Browser) -> None:
    make_user(session, "typist")
    session.commit()
    browser.login("typist")
    token = browser.csrf_token()
    statuses = [
        browser.client.post(
            "/drafts/autosave",
            json={"kind": "question", "target": 0, "body": f"version {n}"},
            headers={"X-CSRFToken": token},
        ).status_code
        for n in range(4)
    ]
    assert statuses == [204, 204, 204, 429]
