"""Claiming imported members: the link travels by email (a real local SMTP server) or the
command line, works once and for 7 days, and lets the person set a password and log in."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum import delivery
from forum.db import utcnow
from forum.models import AuditLog, ClaimLink, MailDelivery, Role, User
from forum.services import claims
from forum.services.errors import NotFound
from tests.conftest import Browser
from tests.factories import make_user
from tests.http.test_member_lifecycle import fresh
from tests.unit.test_digests import Inbox, free_port

SITE = "https://forum.example.com"
LINK = re.compile(re.escape(SITE) + r"/claim/[A-Za-z0-9_.-]+")
PASSWORD = "a long pass phrase for claiming"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "MAIL_FROM": "Forum <forum@example.com>", "SITE_URL": SITE}


def _imported(session: Session) -> User:
    """A member as the Stack Exchange import leaves them: no password, no email."""
    return make_user(session, "ima", display_name="Ima Ported", email=None, password_hash=None)


def _path(link: str) -> str:
    assert link.startswith(SITE + "/claim/")
    return link.removeprefix(SITE)


def test_claim_link_by_email_sets_a_password_once(
    app: Flask, session: Session, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    boss = make_user(session, "boss", role=Role.ADMIN)
    make_user(session, "taken", email="taken@example.com")
    member = _imported(session)
    session.commit()
    admin = Browser(app.test_client())
    admin.login("boss")
    page = admin.get(f"/admin/users/{member.id}").get_data(as_text=True)
    assert "Imported, not claimed yet" in page
    assert "Imported, not claimed" in admin.get("/admin/users").get_data(as_text=True)

    send = f"/admin/users/{member.id}/claim"
    bad = admin.post(send, {"email": "not an address"})
    assert bad.status_code == 400 and 'value="not an address"' in bad.get_data(as_text=True)
    taken = admin.post(send, {"email": "taken@example.com"})
    assert taken.status_code == 400 and "already taken" in taken.get_data(as_text=True)
    assert inbox.received == []

    sent = admin.post(send, {"email": "Ima@Example.com"}, follow_redirects=True)
    assert "A claim link is on its way to ima@example.com" in sent.get_data(as_text=True)
    assert delivery.wait_idle(20)  # sent after the commit, by the app's mail sender
    [(recipients, message)] = inbox.received
    assert recipients == ["ima@example.com"]
    body = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[attr-defined]
    assert "Ima Ported" in body and "ima" in body and "7 days" in body
    match = LINK.search(body)
    assert match
    path = _path(match.group(0))

    person = Browser(app.test_client())
    form = person.get(path)
    assert form.status_code == 200 and "Ima Ported" in form.get_data(as_text=True)
    weak = person.post(path, {"password": "short"})
    assert weak.status_code == 400 and "at least 10 characters" in weak.get_data(as_text=True)
    claimed = person.post(path, {"password": PASSWORD})
    assert claimed.status_code == 302 and claimed.headers["Location"].endswith("/users/ima")
    assert person.get("/settings/profile").status_code == 200  # logged in

    # Used once: the link is done; the new password logs in by email too.
    again = Browser(app.test_client()).get(path)
    assert again.status_code == 404 and "already used" in again.get_data(as_text=True)
    assert Browser(app.test_client()).login("ima@example.com", PASSWORD).status_code == 302
    fresh(session)
    audit = session.execute(
        select(AuditLog.action, AuditLog.actor_id)
        .where(AuditLog.target_type == "user", AuditLog.target_id == member.id)
        .order_by(AuditLog.id)
    ).all()
    assert [tuple(row) for row in audit] == [
        ("member.claim_link", boss.id),
        ("member.claimed", member.id),
    ]
    # Only the hash of the secret is stored; a claimed member gets no new link.
    stored = session.scalars(select(ClaimLink.token_hash)).one()
    assert len(stored) == 64 and stored not in path
    page = admin.get(f"/admin/users/{member.id}").get_data(as_text=True)
    assert "Imported, not claimed yet" not in page
    refused = admin.post(send, {"email": "ima@example.com"})
    assert refused.status_code == 400 and "can already log in" in refused.get_data(as_text=True)


def test_a_failing_mail_server_never_fails_the_request(
    app: Flask, session: Session, smtp_server: tuple[Inbox, int]
) -> None:
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}"  # nothing listens there
    make_user(session, "boss", role=Role.ADMIN)
    member = _imported(session)
    session.commit()
    admin = Browser(app.test_client())
    admin.login("boss")
    response = admin.post(f"/admin/users/{member.id}/claim", {"email": "ima@example.com"})
    assert response.status_code == 302
    assert delivery.wait_idle(20)
    fresh(session)
    assert session.get(User, member.id).email == "ima@example.com"  # type: ignore[union-attr]
    # The mail waits in the queue; the admins' list shows it without its link.
    [row] = session.scalars(select(MailDelivery)).all()
    assert (row.kind, row.state, row.attempts) == ("account.claim", "queued", 1)
    listing = admin.get("/admin/mail").get_data(as_text=True)
    assert "Your account on forum is waiting for you" in listing and "@ima" in listing
    assert "Could not reach the mail server" in listing
    assert "/claim/" not in listing
    # A later attempt, once the server answers, delivers the link.
    inbox, port = smtp_server
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    assert delivery.send_due(app, now=utcnow() + dt.timedelta(hours=1)).sent == 1
    [(_recipients, message)] = inbox.received
    body = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[attr-defined]
    match = LINK.search(body)
    assert match
    assert Browser(app.test_client()).get(_path(match.group(0))).status_code == 200
    fresh(session)
    assert session.get(MailDelivery, row.id).text == ""  # type: ignore[union-attr]


def test_without_a_mail_server_the_admin_passes_the_link_on(app: Flask, session: Session) -> None:
    make_user(session, "boss", role=Role.ADMIN)
    member = _imported(session)
    session.commit()
    admin = Browser(app.test_client())
    admin.login("boss")
    response = admin.post(f"/admin/users/{member.id}/claim", {"email": "ima@example.com"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "pass this link on yourself" in page
    match = LINK.search(page)
    assert match
    assert Browser(app.test_client()).get(_path(match.group(0))).status_code == 200
    fresh(session)
    assert session.scalars(select(MailDelivery)).all() == []


def test_command_line_links_expiry_and_tampering(app: Flask, session: Session) -> None:
    member = _imported(session)
    make_user(session, "known")
    session.commit()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["users", "claim-link", "ima", "--email", "ima@example.com"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["users", "claim-link", "ima", "--email", "ima@example.com"])
    old, new = LINK.search(first.output), LINK.search(second.output)
    assert old and new
    client = Browser(app.test_client())
    # A new link ends the earlier one; a changed one is refused.
    assert client.get(_path(old.group(0))).status_code == 404
    assert client.get(_path(new.group(0))).status_code == 200
    # One character of the signature changed (not its last, which carries padding bits).
    path = _path(new.group(0))
    at = len(path) - 5
    tampered = path[:at] + ("A" if path[at] != "A" else "B") + path[at + 1 :]
    assert client.get(tampered).status_code == 404
    token = _path(new.group(0)).removeprefix("/claim/")
    key = str(app.secret_key)
    fresh(session)
    assert claims.find(session, token, secret_key=key)[1].id == member.id
    later = utcnow() + dt.timedelta(days=7, minutes=1)
    with pytest.raises(NotFound, match="expired"):
        claims.find(session, token, secret_key=key, now=later)
    action = session.execute(
        select(AuditLog.action, AuditLog.actor_id).where(AuditLog.target_id == member.id)
    ).first()
    assert action is not None and tuple(action) == ("member.claim_link", None)

    refused = runner.invoke(args=["users", "claim-link", "known", "--email", "k@example.com"])
    assert refused.exit_code != 0 and "can already log in" in refused.output
    missing = runner.invoke(args=["users", "claim-link", "nobody", "--email", "n@example.com"])
    assert missing.exit_code != 0 and "No member is called" in missing.output


def test_command_line_deactivates_and_reactivates(app: Flask, session: Session) -> None:
    make_user(session, "boss", role=Role.ADMIN)
    member = make_user(session, "ann")
    session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "deactivate", "ANN"])
    assert result.exit_code == 0 and "Deactivated ann" in result.output, result.output
    assert Browser(app.test_client()).login("ann").status_code == 200  # refused
    again = runner.invoke(args=["users", "deactivate", "ann"])
    assert again.exit_code != 0 and "already deactivated" in again.output
    result = runner.invoke(args=["users", "reactivate", "ann"])
    assert result.exit_code == 0 and "Reactivated ann" in result.output
    assert Browser(app.test_client()).login("ann").status_code == 302
    fresh(session)
    actions = session.execute(
        select(AuditLog.action, AuditLog.actor_id)
        .where(AuditLog.target_id == member.id)
        .order_by(AuditLog.id)
    ).all()
    assert [tuple(a) for a in actions] == [("member.deactivate", None), ("member.reactivate", None)]
    boss = Browser(app.test_client())
    boss.login("boss")
    assert "The command line" in boss.get("/moderation/audit").get_data(as_text=True)
