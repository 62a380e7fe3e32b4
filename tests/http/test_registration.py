"""Registration modes (open, domain, invite), email confirmation and invitations, with the
emails read from a real SMTP server on a loopback port."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.extensions import limiter
from forum.models import AuditLog, Invitation, MailDelivery, Role, User
from forum.services.tags import parse_tags, tags_named
from tests.conftest import TEST_PASSWORD, Browser
from tests.factories import make_user
from tests.mailbox import Inbox, free_port, link_path, smtp_inbox

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
ASK = {"title": "Where is the VPN guide?", "body": "I cannot find it anywhere.", "tags": "vpn"}


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_inbox() as server:
        yield server


@pytest.fixture
def app_config(app_config: dict[str, Any], inbox: Inbox) -> dict[str, Any]:
    return {
        **app_config,
        "PUBLIC_READ": False,
        "REQUIRE_EMAIL_VERIFICATION": True,
        "SMTP_URL": f"smtp://127.0.0.1:{inbox.port}",
        "MAIL_FROM": "Forum <forum@example.com>",
        "SITE_URL": "https://forum.example.com",
        "RATELIMIT_ENABLED": True,
        "VERIFICATION_RESEND_LIMIT": "1 per hour",
    }


@pytest.fixture(autouse=True)
def empty_limits(app: Flask) -> None:
    limiter.reset()


@pytest.fixture(autouse=True)
def vpn_tag(session: Session) -> None:
    """The tag the questions use (newcomers may not create tags on an established site)."""
    tags_named(session, parse_tags(ASK["tags"]))
    session.commit()


def member(session: Session, username: str) -> User:
    session.rollback()  # a new transaction sees the requests' commits
    found = session.scalar(select(User).where(User.username == username))
    assert found is not None
    return found


@SQLITE_ONLY
def test_a_newcomer_confirms_the_address_before_posting(
    browser: Browser, session: Session, inbox: Inbox
) -> None:
    response = browser.register("zoe", display_name="Zoë Ångström", email="Zoe@Example.com")
    assert response.status_code == 302
    assert member(session, "zoe").email_verified is False

    # Reading works, with a banner; writing is refused with a clear answer.
    page = browser.get("/questions").get_data(as_text=True)
    assert "Confirm your email address" in page and "Send it again" in page
    refused = browser.post("/questions/ask", ASK)
    assert refused.status_code == 403
    assert "Confirm your email address first" in refused.get_data(as_text=True)

    [message] = inbox.wait(1)
    assert str(message["To"]) == "Zoë Ångström <zoe@example.com>"
    assert message["Subject"] == "Confirm your email address for forum"
    confirmed = browser.get(link_path(message))
    assert confirmed.status_code == 302
    assert member(session, "zoe").email_verified is True
    assert "Send it again" not in browser.get("/questions").get_data(as_text=True)
    assert browser.post("/questions/ask", ASK).status_code == 302


@SQLITE_ONLY
def test_a_confirmation_link_for_an_old_address_or_forged_is_refused(
    browser: Browser, session: Session, inbox: Inbox
) -> None:
    browser.register("yann", email="yann@example.com")
    [message] = inbox.wait(1)
    path = link_path(message)
    assert browser.get(path[:-3] + "abc").status_code == 400
    user = member(session, "yann")
    user.email = "yann.new@example.com"
    session.commit()
    assert browser.get(path).status_code == 400
    assert member(session, "yann").email_verified is False


@SQLITE_ONLY
def test_send_again_is_throttled(browser: Browser, inbox: Inbox) -> None:
    browser.register("xena")
    assert browser.post("/verify-email/send").status_code == 302
    assert len(inbox.wait(2)) == 2
    assert browser.post("/verify-email/send").status_code == 429
    assert len(inbox.quiet()) == 2


@SQLITE_ONLY
def test_accounts_made_by_the_cli_count_as_verified(app: Flask, session: Session) -> None:
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "--username=cli-made",
            "--email=cli@example.com",
            "--display-name=Cli Made",
            f"--password={TEST_PASSWORD}",
        ]
    )
    assert result.exit_code == 0, result.output
    assert member(session, "cli-made").email_verified is True


@SQLITE_ONLY
def test_domain_mode_accepts_only_the_listed_domains(
    app: Flask, browser: Browser, session: Session
) -> None:
    app.config["REGISTRATION"] = "domain"
    app.config["ALLOWED_EMAIL_DOMAINS"] = ("northwind.example",)
    page = browser.get("/register").get_data(as_text=True)
    assert "@northwind.example" in page
    for address in ("ann@gmail.example", "ann@eu.northwind.example", "ann@northwind.example.org"):
        refused = browser.register("ann", email=address)
        assert refused.status_code == 400, address
        text = refused.get_data(as_text=True)
        assert "Use your work email address (@northwind.example)." in text
        assert f'value="{address}"' in text
    assert browser.register("ann", email="Ann@NorthWind.Example").status_code == 302
    assert member(session, "ann").email == "ann@northwind.example"


def test_invitations_from_an_admin_end_to_end(
    app: Flask, browser: Browser, session: Session, inbox: Inbox
) -> None:
    app.config["REGISTRATION"] = "invite"
    make_user(session, "boss", role=Role.ADMIN, display_name="Åsa Boss")
    session.commit()

    # Without an invitation there is no form.
    page = browser.get("/register")
    assert page.status_code == 200 and 'name="password"' not in page.get_data(as_text=True)
    assert browser.register("gate-crasher").status_code == 200
    assert session.scalar(select(User).where(User.username == "gate-crasher")) is None

    browser.login("boss")
    assert "Invite colleagues" in browser.get("/").get_data(as_text=True)
    bad = browser.post("/invitations", {"email": "not an address"})
    assert bad.status_code == 400 and 'value="not an address"' in bad.get_data(as_text=True)
    assert browser.post("/invitations", {"email": "Newbie@Example.com"}).status_code == 302
    [message] = inbox.wait(1)
    assert str(message["To"]) == "newbie@example.com"
    assert message["Subject"] == "Åsa Boss invites you to forum"
    path = link_path(message)
    assert path.startswith("/join/")
    browser.logout()

    form = browser.get(path).get_data(as_text=True)
    assert 'value="newbie@example.com" readonly' in form
    # The invitation's address is the account's, whatever the form sends.
    joined = browser.post(
        path,
        {
            "username": "newbie",
            "email": "other@example.com",
            "display_name": "New Bie",
            "password": TEST_PASSWORD,
        },
    )
    assert joined.status_code == 302
    newbie = member(session, "newbie")
    assert newbie.email == "newbie@example.com" and newbie.email_verified is True
    assert browser.post("/questions/ask", ASK).status_code == 302
    browser.logout()

    # Single use.
    reused = browser.get(path)
    assert reused.status_code == 404 and "already been used" in reused.get_data(as_text=True)
    actions = session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["invitation.create", "invitation.accept"]


def test_an_expired_invitation_is_refused(
    app: Flask, browser: Browser, session: Session, inbox: Inbox
) -> None:
    app.config["REGISTRATION"] = "invite"
    make_user(session, "boss", role=Role.ADMIN)
    session.commit()
    browser.login("boss")
    browser.post("/invitations", {"email": "late@example.com"})
    browser.logout()
    [message] = inbox.wait(1)
    invitation = session.scalars(select(Invitation)).one()
    invitation.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    session.commit()
    response = browser.get(link_path(message))
    assert response.status_code == 404 and "expired" in response.get_data(as_text=True)


@SQLITE_ONLY
def test_members_invite_only_when_allowed(
    app: Flask, browser: Browser, session: Session, inbox: Inbox
) -> None:
    app.config["REGISTRATION"] = "invite"
    make_user(session, "plain")
    session.commit()
    browser.login("plain")
    assert "Invite colleagues" not in browser.get("/").get_data(as_text=True)
    assert browser.get("/invitations").status_code == 403
    assert browser.post("/invitations", {"email": "x@example.com"}).status_code == 403
    app.config["MEMBERS_MAY_INVITE"] = True
    assert browser.post("/invitations", {"email": "x@example.com"}).status_code == 302
    assert len(inbox.wait(1)) == 1
    # Not in other modes.
    app.config["REGISTRATION"] = "open"
    assert browser.get("/invitations").status_code == 404


@SQLITE_ONLY
def test_a_failing_smtp_server_never_fails_the_request(
    app: Flask, browser: Browser, session: Session, inbox: Inbox
) -> None:
    from forum import delivery

    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}"  # nobody listens there
    response = browser.register("unlucky")
    assert delivery.wait_idle(30)
    assert response.status_code == 302
    assert member(session, "unlucky").email_verified is False
    # The confirmation waits in the queue, to be tried again later.
    [row] = session.scalars(select(MailDelivery)).all()
    assert (row.kind, row.state, row.attempts, row.to_address) == (
        "account.verify",
        "queued",
        1,
        "unlucky@example.com",
    )
    assert "Could not reach the mail server" in (row.last_error or "")
    # Once the server answers, the retry delivers it and the link in it works.
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{inbox.port}"
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert delivery.send_due(app, now=later).sent == 1
    [message] = inbox.wait(1)
    assert browser.get(link_path(message)).status_code in {200, 302}
    session.rollback()
    assert row.state == "sent" and row.text == ""  # the link is not kept once sent
    assert member(session, "unlucky").email_verified is True
