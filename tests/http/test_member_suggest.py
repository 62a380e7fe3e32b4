"""GET /users/suggest: members to offer after "@", for signed-in members, rate-limited."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.conftest import Browser
from tests.factories import make_user


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Rate limits on, with a small budget reached quickly."""
    return {
        **app_config,
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URL": "memory://",
        "SUGGEST_RATE_LIMIT": "4 per minute",
    }


def test_suggests_active_members_by_username_or_name_and_nothing_private(
    browser: Browser, session: Session
) -> None:
    make_user(session, "me")
    make_user(session, "carla", display_name="Carla Jones")
    make_user(session, "zed", display_name="Carlos Ruiz")
    make_user(session, "carl_gone", display_name="Gone", is_active=False)
    make_user(session, "c%x", display_name="Percent")
    session.commit()
    assert browser.get("/users/suggest?q=car").status_code == 302  # signed-in members only
    browser.login("me")
    response = browser.get("/users/suggest?q=@CAR")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.get_json() == {
        "members": [
            {"username": "carla", "display_name": "Carla Jones"},
            {"username": "zed", "display_name": "Carlos Ruiz"},
        ]
    }
    assert browser.get("/users/suggest?q=c%25").get_json() == {
        "members": [{"username": "c%x", "display_name": "Percent"}]
    }
    assert browser.get("/users/suggest?q=").get_json() == {"members": []}
    assert browser.get("/users/suggest?q=x").status_code == 200
    assert browser.get("/users/suggest?q=x").status_code == 429
