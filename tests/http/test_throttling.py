"""Failed logins and registrations are throttled, in memory or shared through Redis."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from forum.extensions import limiter
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
