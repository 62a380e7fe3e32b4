"""Password reset by email, end to end, with the mail read from a real SMTP server."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.extensions import limiter
from forum.models import PasswordReset, User
from tests.conftest import Browser
from tests.factories import make_user
from tests.mailbox import Inbox, link_path, smtp_inbox

NEW_PASSWORD = "a brand new passphrase"
SAME_ANSWER = "If an account uses"


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_inbox() as server:
        yield server


@pytest.fixture
def app_config(app_config: dict[str, Any], inbox: Inbox) -> dict[str, Any]:
    return {
        **app_config,
        "PUBLIC_READ": False,
        "SMTP_URL": f"smtp://127.0.0.1:{inbox.port}",
        "SITE_URL": "https://forum.example.com",
        "RATELIMIT_ENABLED": True,
        "PASSWORD_RESET_LIMIT_PER_ADDRESS": "2 per hour",
        "PASSWORD_RESET_LIMIT_PER_IP": "4 per hour",
    }


@pytest.fixture(autouse=True)
def empty_limits(app: Flask) -> None:
    limiter.reset()


def answer_of(page: str) -> str:
    found = re.search(r'<section class="narrow card">.*?</section>', page, re.S)
    assert found is not None
    return found.group(0)


def ask_for_link(browser: Browser, address: str) -> Any:
    return browser.post("/password/forgot", {"email": address})


def test_reset_end_to_end(app: Flask, session: Session, inbox: Inbox) -> None:
    make_user(session, "rosa", display_name="Rosário Nuñez", email="rosa@example.com")
    session.commit()
    laptop = Browser(app.test_client())
    laptop.login("rosa")
    assert laptop.get("/settings/profile").status_code == 200

    phone = Browser(app.test_client())
    login_page = phone.get("/login").get_data(as_text=True)
    assert 'href="/password/forgot"' in login_page and "Forgot password?" in login_page
    answer = ask_for_link(phone, "Rosa@Example.com")
    assert answer.status_code == 200 and SAME_ANSWER in answer.get_data(as_text=True)
    [message] = inbox.wait(1)
    assert str(message["To"]) == "Rosário Nuñez <rosa@example.com>"
    path = link_path(message)
    assert path.startswith("/password/reset/")
    stored = session.scalars(select(PasswordReset)).one()
    assert path.rsplit("/", 1)[1] not in stored.token_hash  # only a hash is kept

    form = phone.get(path)
    assert form.status_code == 200
    weak = phone.post(path, {"password": "short"})
    assert weak.status_code == 400 and "Use at least 10 characters." in weak.get_data(as_text=True)
    done = phone.post(path, {"password": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == "/login"

    # The laptop's session has ended; the new password works, the old one does not.
    assert laptop.get("/settings/profile").headers["Location"].startswith("/login")
    assert phone.login("rosa").status_code == 200  # the form again: old password refused
    assert phone.login("rosa", NEW_PASSWORD).status_code == 302

    # Single use: the link is refused once used.
    reused = Browser(app.test_client()).get(path)
    assert reused.status_code == 404 and "already been used" in reused.get_data(as_text=True)
    again = Browser(app.test_client()).post(path, {"password": "another new passphrase"})
    assert again.status_code == 404
    assert phone.login("rosa", NEW_PASSWORD).status_code == 302


def test_an_expired_link_is_refused(app: Flask, session: Session, inbox: Inbox) -> None:
    make_user(session, "tom", email="tom@example.com")
    session.commit()
    browser = Browser(app.test_client())
    ask_for_link(browser, "tom@example.com")
    [message] = inbox.wait(1)
    reset = session.scalars(select(PasswordReset)).one()
    assert reset.expires_at.replace(tzinfo=dt.UTC) - reset.created_at.replace(
        tzinfo=dt.UTC
    ) == dt.timedelta(minutes=60)
    reset.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    session.commit()
    path = link_path(message)
    assert browser.get(path).status_code == 404
    refused = browser.post(path, {"password": NEW_PASSWORD})
    assert refused.status_code == 404 and "expired" in refused.get_data(as_text=True)
    session.rollback()
    user = session.scalar(select(User).where(User.username == "tom"))
    assert user is not None and user.auth_token  # unchanged account, still usable
    assert browser.login("tom").status_code == 302


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_same_answer_whether_or_not_the_address_exists_and_throttled(
    app: Flask, session: Session, inbox: Inbox, client: FlaskClient
) -> None:
    make_user(session, "una", email="una@example.com")
    session.commit()
    browser = Browser(client)
    known = ask_for_link(browser, "una@example.com").get_data(as_text=True)
    unknown = ask_for_link(browser, "nobody@example.com").get_data(as_text=True)
    assert SAME_ANSWER in known and SAME_ANSWER in unknown
    # The same page but for the address typed (CSRF tokens are signed with the time).
    assert answer_of(known).replace("una@", "X@") == answer_of(unknown).replace("nobody@", "X@")
    assert len(inbox.wait(1)) == 1

    # Per address (however it is spelled), then per client.
    assert ask_for_link(browser, "UNA@example.com ").status_code == 200
    assert ask_for_link(browser, "una@example.com").status_code == 429
    assert ask_for_link(browser, "someone@example.com").status_code == 200
    assert ask_for_link(browser, "else@example.com").status_code == 429
    assert len(inbox.quiet()) == 2


def test_the_reset_mail_is_a_queued_row_whose_link_the_admins_never_see(
    app: Flask, session: Session, inbox: Inbox
) -> None:
    from forum import delivery
    from forum.models import MailDelivery, Role

    make_user(session, "root", role=Role.ADMIN)
    make_user(session, "tess", display_name="Tess Ode", email="tess@example.com")
    session.commit()
    app.config["MAIL_SEND_AFTER_COMMIT"] = False  # held in the queue, to look at it first
    assert SAME_ANSWER in ask_for_link(Browser(app.test_client()), "tess@example.com").get_data(
        as_text=True
    )
    [row] = session.scalars(select(MailDelivery)).all()
    assert (row.kind, row.state, row.to_address) == ("account.reset", "queued", "tess@example.com")
    token_link = re.search(r"https://forum\.example\.com(/password/reset/\S+)", row.text)
    assert token_link is not None
    admin = Browser(app.test_client())
    admin.login("root")
    listing = admin.get("/admin/mail").get_data(as_text=True)
    assert "Reset your forum password" in listing and "@tess" in listing and "queued" in listing
    assert "/password/reset/" not in listing and token_link.group(1) not in listing
    assert app.test_cli_runner().invoke(args=["mail", "send"]).exit_code == 0
    [message] = inbox.wait(1)
    assert link_path(message) == token_link.group(1)
    assert str(message["To"]) == "Tess Ode <tess@example.com>"
    assert "List-Unsubscribe" not in message
    session.rollback()
    assert row.state == "sent" and row.text == ""
    listing = admin.get("/admin/mail?state=sent").get_data(as_text=True)
    assert "Reset your forum password" in listing and "/password/reset/" not in listing
    assert delivery.wait_idle(10)


def test_a_queued_reset_mail_is_given_up_when_the_member_is_deactivated(
    app: Flask, session: Session, inbox: Inbox
) -> None:
    from forum import delivery
    from forum.models import MailDelivery
    from forum.services import accounts

    member = make_user(session, "uli", email="uli@example.com")
    session.commit()
    app.config["MAIL_SEND_AFTER_COMMIT"] = False
    ask_for_link(Browser(app.test_client()), "uli@example.com")
    accounts.deactivate(session, None, member)
    session.commit()
    assert delivery.send_due(app).sent == 0
    [row] = session.scalars(select(MailDelivery)).all()
    session.refresh(row)
    assert (row.state, row.text) == ("failed", "")
    assert inbox.quiet() == []
