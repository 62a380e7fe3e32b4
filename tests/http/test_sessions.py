"""Login sessions live on the server: logging out ends them, here or everywhere."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from forum.extensions import login_manager
from forum.models import LoginSession
from forum.services import logins
from tests.conftest import TEST_PASSWORD, Browser
from tests.factories import make_user

COOKIE = "forum_session"
LOGGED_IN = "Log out"


def _copy_cookie(source: FlaskClient, app: Flask) -> Browser:
    """A second browser holding a saved copy of ``source``'s session cookie."""
    saved = source.get_cookie(COOKIE)
    assert saved is not None
    thief = app.test_client()
    thief.set_cookie(COOKIE, saved.value)
    return Browser(thief)


def _logged_in(browser: Browser) -> bool:
    return LOGGED_IN in browser.get("/").get_data(as_text=True)


def test_a_saved_cookie_stops_working_after_logout(
    app: Flask, browser: Browser, session: Session
) -> None:
    make_user(session, "grace")
    session.commit()
    assert browser.login("grace").status_code == 302
    copy = _copy_cookie(browser.client, app)
    assert _logged_in(copy)
    assert browser.logout().status_code == 302
    assert not _logged_in(copy)
    assert copy.get("/settings/profile").status_code == 302  # sent to the login page
    assert session.scalars(select(LoginSession.revoked_at)).one() is not None


def test_logout_ends_only_this_devices_session(
    app: Flask, browser: Browser, session: Session
) -> None:
    make_user(session, "grace")
    session.commit()
    laptop = Browser(app.test_client())
    laptop.login("grace")
    browser.login("grace")
    browser.logout()
    assert _logged_in(laptop)


def test_log_out_everywhere_ends_every_session(
    app: Flask, browser: Browser, session: Session
) -> None:
    make_user(session, "grace")
    session.commit()
    laptop = Browser(app.test_client())
    laptop.login("grace")
    browser.login("grace")
    copy = _copy_cookie(browser.client, app)
    page = browser.get("/settings/sessions").get_data(as_text=True)
    assert page.count('class="login-session"') == 2 and "(this device)" in page
    response = browser.post("/settings/sessions/logout-all")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert not _logged_in(browser)
    assert not _logged_in(laptop)
    assert not _logged_in(copy)
    active = select(LoginSession).where(LoginSession.revoked_at.is_(None))
    assert session.scalars(active).all() == []
    assert browser.login("grace").status_code == 302


def test_log_out_everywhere_needs_a_csrf_token(
    app: Flask, browser: Browser, session: Session
) -> None:
    make_user(session, "grace")
    session.commit()
    browser.login("grace")
    assert browser.client.post("/settings/sessions/logout-all").status_code == 400
    assert _logged_in(browser)


def test_a_password_change_ends_saved_cookies_of_other_sessions(
    app: Flask, browser: Browser, session: Session
) -> None:
    make_user(session, "grace")
    session.commit()
    other = Browser(app.test_client())
    other.login("grace")
    copy = _copy_cookie(other.client, app)
    browser.login("grace")
    browser.post(
        "/settings/password",
        {"current_password": TEST_PASSWORD, "new_password": "new passphrase here"},
    )
    assert _logged_in(browser)
    assert not _logged_in(copy)
    active = session.scalars(select(LoginSession).where(LoginSession.revoked_at.is_(None))).all()
    assert len(active) == 1


def test_a_cookie_without_a_server_session_is_logged_out(
    app: Flask, browser: Browser, session: Session
) -> None:
    """A cookie naming only the member (as before sessions were kept) logs in no one."""
    user = make_user(session, "grace")
    session.commit()
    with browser.client.session_transaction() as cookie:
        cookie["_user_id"] = user.get_id()
        cookie["_fresh"] = True
    assert not _logged_in(browser)


def test_last_seen_is_written_at_most_every_few_minutes(
    app: Flask, browser: Browser, session: Session
) -> None:
    make_user(session, "grace")
    session.commit()
    browser.login("grace")
    first = session.scalars(select(LoginSession.last_seen_at)).one()
    for _ in range(3):
        browser.get("/")
    session.expire_all()
    assert session.scalars(select(LoginSession.last_seen_at)).one() == first
    stale = dt.datetime.now(dt.UTC) - logins.TOUCH_INTERVAL - dt.timedelta(minutes=1)
    session.execute(update(LoginSession).values(last_seen_at=stale))
    session.commit()
    assert _logged_in(browser)
    session.expire_all()
    seen = session.scalars(select(LoginSession.last_seen_at)).one()
    assert seen is not None and seen.replace(tzinfo=dt.UTC) > stale + logins.TOUCH_INTERVAL


def test_the_cookie_is_sent_again_only_when_last_seen_is_written(
    app: Flask, browser: Browser, session: Session
) -> None:
    make_user(session, "grace")
    session.commit()
    browser.login("grace")
    browser.get("/")  # the CSRF secret, if the login page did not make one

    def cookie_sent() -> str | None:
        headers = browser.get("/").headers.getlist("Set-Cookie")
        sent = [h for h in headers if h.startswith(f"{COOKIE}=")]
        assert len(sent) <= 1
        return sent[0] if sent else None

    # Nothing changed: the cookie the browser holds stays as it is.
    assert cookie_sent() is None
    # The login session's last-seen time is written: the cookie comes again with an expiry
    # a lifetime from now, as the server counts idle time from that moment too.
    stale = dt.datetime.now(dt.UTC) - logins.TOUCH_INTERVAL - dt.timedelta(minutes=1)
    session.execute(update(LoginSession).values(last_seen_at=stale))
    session.commit()
    refreshed = cookie_sent()
    assert refreshed is not None
    expires = dt.datetime.strptime(
        refreshed.split("Expires=", 1)[1].split(";", 1)[0], "%a, %d %b %Y %H:%M:%S GMT"
    ).replace(tzinfo=dt.UTC)
    expected = dt.datetime.now(dt.UTC) + app.permanent_session_lifetime
    assert abs(expires - expected) < dt.timedelta(minutes=1)
    assert _logged_in(browser)
    assert cookie_sent() is None


def test_session_protection_makes_no_claim_it_cannot_keep() -> None:
    """'strong' does nothing for permanent sessions; server-side sessions replace it."""
    assert login_manager.session_protection is None


def test_a_session_unused_for_the_lifetime_ends_on_the_server(
    app: Flask, browser: Browser, session: Session
) -> None:
    make_user(session, "grace")
    session.commit()
    browser.login("grace")
    old = dt.datetime.now(dt.UTC) - app.permanent_session_lifetime - dt.timedelta(minutes=1)
    session.execute(update(LoginSession).values(last_seen_at=old))
    session.commit()
    assert not _logged_in(browser)
    # The next login forgets sessions that ended that long ago.
    browser.login("grace")
    session.expire_all()
    assert len(session.scalars(select(LoginSession)).all()) == 1
