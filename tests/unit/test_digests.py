"""Email digests sent over SMTP to a real local server (aiosmtpd), and what they contain."""

from __future__ import annotations

import datetime as dt
import email
import socket
from collections.abc import Iterator
from email.message import Message
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from flask import Flask
from sqlalchemy.orm import Session

from forum.cli.digests import send_digests
from forum.db import utcnow
from forum.mail import MailConfigError, parse_smtp_url
from forum.models import Notification, User
from forum.services import digests, notifications
from tests.factories import make_user


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], Message]] = []

    async def handle_RCPT(
        self,
        _server: SMTP,
        _session: SmtpSession,
        envelope: Envelope,
        address: str,
        _options: list[str],
    ) -> str:
        if address.startswith("refused@"):
            return "550 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: SMTP, _session: SmtpSession, envelope: Envelope) -> str:
        content = envelope.content
        assert isinstance(content, bytes)
        message = email.message_from_bytes(content, policy=default_policy)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
    return {
        **app_config,
        "MAIL_FROM": "Forum <forum@example.com>",
        "SITE_URL": "https://forum.example.com",
    }


def use_server(app: Flask, port: int) -> None:
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"


def stage(session: Session, user: User, kind: str, text: str, **params: Any) -> Notification:
    sent = notifications.notify(
        session,
        recipient=user,
        kind=kind,
        text=text,
        endpoint="users.profile" if params else "main.index",
        params=params,
    )
    assert sent is not None
    return sent


def bodies(message: Message) -> tuple[str, str]:
    plain = message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    rich = message.get_body(preferencelist=("html",))  # type: ignore[attr-defined]
    assert plain is not None and rich is not None
    return plain.get_content(), rich.get_content()


def test_daily_digest_is_received_and_not_sent_twice(
    app: Flask, session: Session, smtp_server: tuple[Inbox, int]
) -> None:
    server, port = smtp_server
    use_server(app, port)
    alice = make_user(session, "alice", display_name="Alice A", email="alice@example.com")
    bob = make_user(session, "bob", email="bob@example.com")
    quiet = make_user(session, "quiet", email="quiet@example.com")
    notifications.set_preferences(session, alice, {"answer": "daily", "mention": "daily"})
    notifications.set_preferences(session, bob, {"reply": "daily"})
    notifications.set_preferences(session, quiet, {"answer": "inbox"})
    stage(
        session, alice, "answer", "Bob answered your question “VPN <setup> & you”", username="bob"
    )
    stage(session, alice, "mention", "Carl mentioned you in “Wiki tips”")
    stage(session, alice, "comment", "Not emailed: comments stay in the inbox")
    old = stage(session, bob, "reply", "Too old for a daily digest")
    stage(session, bob, "reply", "Dana replied to your comment")
    stage(session, quiet, "answer", "Quiet never chose email")
    session.flush()
    old.created_at = utcnow() - dt.timedelta(days=3)
    session.commit()

    report = send_digests(app, "daily")

    assert (report.sent, report.notifications, report.failed) == (2, 3, [])
    assert report.summary() == "Sent 2 daily digests (3 notifications)."
    by_rcpt = {rcpts[0]: msg for rcpts, msg in server.received}
    assert sorted(by_rcpt) == ["alice@example.com", "bob@example.com"]
    to_alice = by_rcpt["alice@example.com"]
    assert to_alice["Subject"] == "Your daily forum digest: 2 notifications"
    assert to_alice["From"] == "Forum <forum@example.com>"
    assert to_alice["To"] == "alice@example.com"
    assert to_alice.get_content_type() == "multipart/alternative"
    text, rich = bodies(to_alice)
    lines = text.splitlines()
    assert lines[0] == "Hello Alice A,"
    assert "- Bob answered your question “VPN <setup> & you”" in lines
    assert "  https://forum.example.com/users/bob" in lines
    assert "- Carl mentioned you in “Wiki tips”" in lines
    assert "Not emailed" not in text
    assert "Your inbox: https://forum.example.com/notifications" in lines
    # The HTML alternative escapes the member-written text.
    assert "VPN &lt;setup&gt; &amp; you" in rich and "<setup>" not in rich
    assert 'href="https://forum.example.com/users/bob"' in rich
    _, bob_rich = bodies(by_rcpt["bob@example.com"])
    assert "Dana replied" in bob_rich and "Too old" not in bob_rich

    # A second run finds nothing new to send.
    again = send_digests(app, "daily")
    assert (again.sent, again.notifications) == (0, 0)
    assert len(server.received) == 2
    session.expire_all()
    emailed = session.query(Notification).filter(Notification.emailed_at.is_not(None)).count()
    assert emailed == 3


def test_weekly_digest_covers_the_week(
    app: Flask, session: Session, smtp_server: tuple[Inbox, int]
) -> None:
    server, port = smtp_server
    use_server(app, port)
    bob = make_user(session, "bob", email="bob@example.com")
    notifications.set_preferences(session, bob, {"reply": "weekly"})
    old = stage(session, bob, "reply", "From three days ago")
    ancient = stage(session, bob, "reply", "From last month")
    session.flush()
    old.created_at = utcnow() - dt.timedelta(days=3)
    ancient.created_at = utcnow() - dt.timedelta(days=30)
    session.commit()
    report = send_digests(app, "weekly")
    assert report.sent == 1
    [(rcpts, message)] = server.received
    assert rcpts == ["bob@example.com"]
    assert message["Subject"] == "Your weekly forum digest: 1 notification"
    text, _ = bodies(message)
    assert "- From three days ago" in text.splitlines() and "last month" not in text


def test_cli_prints_a_summary(app: Flask, session: Session, smtp_server: tuple[Inbox, int]) -> None:
    server, port = smtp_server
    use_server(app, port)
    carol = make_user(session, "carol", email="carol@example.com")
    notifications.set_preferences(session, carol, {"badge": "daily"})
    stage(session, carol, "badge", "You earned the badge “Helper”")
    session.commit()
    result = app.test_cli_runner().invoke(args=["digest", "send", "--period", "daily"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Sent 1 daily digest (1 notification)."
    assert [r for r, _ in server.received] == [["carol@example.com"]]
    bad = app.test_cli_runner().invoke(args=["digest", "send", "--period", "hourly"])
    assert bad.exit_code == 2 and "hourly" in bad.output


def test_without_smtp_url_the_command_fails_clearly(app: Flask) -> None:
    app.config["SMTP_URL"] = None
    result = app.test_cli_runner().invoke(args=["digest", "send"])
    assert result.exit_code == 1
    assert "FORUM_SMTP_URL" in result.output


def test_smtp_url_parsing() -> None:
    plain = parse_smtp_url("smtp://mail.example.com:2525")
    assert (plain.host, plain.port, plain.starttls, plain.tls, plain.username) == (
        "mail.example.com",
        2525,
        False,
        False,
        None,
    )
    secure = parse_smtp_url("smtp://me%40corp:p%3Ass@mail.example.com?starttls=1")
    assert (secure.port, secure.starttls, secure.username, secure.password) == (
        25,
        True,
        "me@corp",
        "p:ss",
    )
    assert parse_smtp_url("smtps://mail.example.com").port == 465
    for bad in ("http://mail.example.com", "smtp://", "smtp://host:port"):
        with pytest.raises(MailConfigError):
            parse_smtp_url(bad)


def test_unknown_period_is_refused(session: Session) -> None:
    from forum.services.errors import ValidationError

    with pytest.raises(ValidationError):
        digests.pending(session, "hourly")


def test_a_refused_recipient_keeps_their_notifications_for_next_time(
    app: Flask, session: Session, smtp_server: tuple[Inbox, int]
) -> None:
    server, port = smtp_server
    use_server(app, port)
    refused = make_user(session, "refused", email="refused@example.com")
    fine = make_user(session, "fine", email="fine@example.com")
    for member in (refused, fine):
        notifications.set_preferences(session, member, {"answer": "daily"})
        stage(session, member, "answer", f"An answer for {member.username}")
    session.commit()
    report = send_digests(app, "daily")
    assert (report.sent, report.failed) == (1, ["refused"])
    assert report.summary() == "Sent 1 daily digest (1 notification). Not sent to 1: refused."
    assert [r for r, _ in server.received] == [["fine@example.com"]]
    session.expire_all()
    pending = digests.pending(session, "daily")
    assert [d.user.username for d in pending] == ["refused"]


def test_an_address_that_cannot_be_a_header_skips_only_its_member(
    app: Flask, session: Session, smtp_server: tuple[Inbox, int]
) -> None:
    server, port = smtp_server
    use_server(app, port)
    broken = make_user(session, "broken", email="broken@example.com")
    fine = make_user(session, "fine", email="fine@example.com")
    for member in (broken, fine):
        notifications.set_preferences(session, member, {"answer": "daily"})
        stage(session, member, "answer", f"An answer for {member.username}")
    # Stored by an older version or another tool, bypassing the address check.
    broken.email = "broken@example.com\r\nBcc: everyone@example.com"
    session.commit()
    report = send_digests(app, "daily")
    assert (report.sent, report.failed) == (1, ["broken"])
    assert [r for r, _ in server.received] == [["fine@example.com"]]


# Read in the inbox: left out of the digest; nothing unread, no message.


def test_read_notifications_are_left_out_of_both_parts(
    app: Flask, session: Session, smtp_server: tuple[Inbox, int]
) -> None:
    server, port = smtp_server
    use_server(app, port)
    alice = make_user(session, "alice", display_name="Alice A", email="alice@example.com")
    notifications.set_preferences(session, alice, {"answer": "daily", "mention": "daily"})
    seen = stage(session, alice, "answer", "Already seen in the inbox")
    fresh = stage(session, alice, "mention", "Carl mentioned you in “Wiki tips”")
    also_fresh = stage(session, alice, "answer", "Dana answered your question")
    session.flush()
    notifications.mark_read(session, alice, seen.id)
    session.commit()

    report = send_digests(app, "daily")

    assert (report.sent, report.notifications) == (1, 2)
    [(rcpts, message)] = server.received
    assert rcpts == ["alice@example.com"]
    assert message["Subject"] == "Your daily forum digest: 2 notifications"
    text, rich = bodies(message)
    assert "2 new notifications on the forum:" in text.splitlines()
    assert "<p>2 new notifications on the forum:</p>" in rich
    for part in (text, rich):
        assert "Already seen" not in part
        assert "Dana answered your question" in part
        assert "Wiki tips" in part
    session.expire_all()
    emailed = {
        n.id for n in session.query(Notification).filter(Notification.emailed_at.is_not(None)).all()
    }
    assert emailed == {fresh.id, also_fresh.id}


def test_nothing_unread_means_no_message(
    app: Flask, session: Session, smtp_server: tuple[Inbox, int]
) -> None:
    server, port = smtp_server
    use_server(app, port)
    bob = make_user(session, "bob", email="bob@example.com")
    carol = make_user(session, "carol", email="carol@example.com")
    for member in (bob, carol):
        notifications.set_preferences(session, member, {"reply": "daily"})
    stage(session, bob, "reply", "Read before the digest went out")
    stage(session, bob, "reply", "Also read")
    stage(session, carol, "reply", "Carol has not looked yet")
    session.flush()
    assert notifications.mark_all_read(session, bob) == 2
    session.commit()

    report = send_digests(app, "daily")

    assert (report.sent, report.notifications) == (1, 1)
    assert [r for r, _ in server.received] == [["carol@example.com"]]
    assert report.summary() == "Sent 1 daily digest (1 notification)."


def test_pending_leaves_out_read_items(session: Session) -> None:
    dana = make_user(session, "dana", email="dana@example.com")
    notifications.set_preferences(session, dana, {"badge": "daily"})
    read = stage(session, dana, "badge", "You earned “Helper”")
    unread = stage(session, dana, "badge", "You earned “Scholar”")
    session.flush()
    notifications.mark_read(session, dana, read.id)
    session.commit()
    [digest] = digests.pending(session, "daily")
    assert [n.id for n in digest.items] == [unread.id]
    notifications.mark_read(session, dana, unread.id)
    session.commit()
    assert digests.pending(session, "daily") == []
