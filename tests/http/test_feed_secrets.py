"""Feeds on a members-only site: addresses carry the member's feed secret, pages link them,
visitors without it get 401; with FORUM_PUBLIC_READ the plain addresses keep working."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from forum.services import accounts
from tests.conftest import Browser
from tests.factories import make_question, make_user

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
FEED_LINK = re.compile(r'<link rel="alternate" type="application/atom\+xml"[^>]* href="([^"]+)"')


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "PUBLIC_READ": False}


def _linked(browser: Browser, page: str) -> str:
    found = FEED_LINK.search(browser.get(page).get_data(as_text=True))
    assert found is not None
    return html.unescape(found.group(1))


def test_members_only_feeds_need_the_secret(app: Flask, session: Session, browser: Browser) -> None:
    member = make_user(session, "fay")
    make_question(session, member, title="Where are the printer drivers kept?", tags=("it",))
    session.commit()
    visitor = app.test_client()
    for path in ("/feeds/questions.atom", "/feeds/tags/it.atom", "/feeds/users/fay.atom"):
        assert visitor.get(path).status_code == 401
        assert visitor.get(path + "?key=guess").status_code == 401
    browser.login("fay")
    link = _linked(browser, "/questions")
    assert link.startswith("/feeds/questions.atom?key=")
    # The same secret on every page, and it opens every feed without a login.
    key = link.split("key=", 1)[1]
    assert _linked(browser, "/tags/it") == f"/feeds/tags/it.atom?key={key}"
    assert _linked(browser, "/users/fay") == f"/feeds/users/fay.atom?key={key}"
    feed = visitor.get(link)
    assert feed.status_code == 200 and feed.mimetype == "application/atom+xml"
    assert "printer drivers" in feed.get_data(as_text=True)
    assert feed.headers["Cache-Control"].startswith("private")
    assert visitor.get(f"/feeds/tags/it.atom?key={key}").status_code == 200
    # A deactivated member's secret opens nothing.
    accounts.deactivate(session, None, member)
    session.commit()
    assert visitor.get(link).status_code == 401


def test_public_read_sites_keep_plain_addresses(
    app: Flask, session: Session, browser: Browser
) -> None:
    app.config["PUBLIC_READ"] = True
    make_user(session, "gus")
    session.commit()
    browser.login("gus")
    assert _linked(browser, "/questions") == "/feeds/questions.atom"
    assert app.test_client().get("/feeds/questions.atom").status_code == 200


def test_a_member_replaces_their_feed_secret_after_a_confirmation(
    app: Flask, session: Session, browser: Browser
) -> None:
    make_user(session, "hal")
    make_question(session, title="Which VPN client do we use on Linux?", tags=("it",))
    session.commit()
    assert app.test_client().get("/settings/feeds").status_code == 302  # to the login page
    browser.login("hal")
    old = _linked(browser, "/questions")
    page = browser.get("/settings/feeds")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "private, no-store"
    assert html.escape(old.split("?", 1)[1]) in page.get_data(as_text=True)
    visitor = app.test_client()
    assert visitor.get(old).status_code == 200

    # Without the box ticked nothing changes; without the CSRF token neither.
    refused = browser.post("/settings/feeds/regenerate", {"which": "feed"})
    assert refused.status_code == 400
    assert "Tick the box" in refused.get_data(as_text=True)
    no_csrf = browser.client.post(
        "/settings/feeds/regenerate", data={"which": "feed", "confirm": "yes"}
    )
    assert no_csrf.status_code == 400
    assert (
        browser.post("/settings/feeds/regenerate", {"which": "x", "confirm": "yes"}).status_code
        == 400
    )
    assert visitor.get(old).status_code == 200

    done = browser.post("/settings/feeds/regenerate", {"which": "feed", "confirm": "yes"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/settings/feeds")
    new = _linked(browser, "/questions")
    assert new != old
    assert visitor.get(old).status_code == 401
    assert visitor.get(old.replace("questions.atom", "tags/it.atom")).status_code == 401
    assert visitor.get(new).status_code == 200


def test_a_member_replaces_their_calendar_address_there_too(
    app: Flask, session: Session, browser: Browser
) -> None:
    make_user(session, "ida")
    session.commit()
    browser.login("ida")
    found = re.search(
        r'id="calendar-url"[^>]* value="[^"]+/circles/calendar/([^"/]+)\.ics"',
        browser.get("/settings/feeds").get_data(as_text=True),
    )
    assert found is not None
    old = f"/circles/calendar/{found.group(1)}.ics"
    visitor = app.test_client()
    assert visitor.get(old).status_code == 200
    feed_key = _linked(browser, "/questions")
    refused = browser.post("/settings/feeds/regenerate", {"which": "calendar"})
    assert refused.status_code == 400 and visitor.get(old).status_code == 200
    done = browser.post("/settings/feeds/regenerate", {"which": "calendar", "confirm": "yes"})
    assert done.status_code == 302
    assert visitor.get(old).status_code == 404
    assert _linked(browser, "/questions") == feed_key  # the news feeds' secret is another one
