"""Digests leave out what the member already read in the inbox; nothing unread, no message."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy.orm import Session

from forum.commands_notifications import send_digests
from forum.models import Notification
from forum.services import digests, notifications
from tests.factories import make_user
from tests.unit.test_digests import Inbox, bodies, free_port, stage, use_server


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


def test_read_notifications_are_left_out_of_both_parts(
    app: Flask, session: Session, smtp_server: tuple[Inbox, int]
) -> None:
    server, port = smtp_server
    use_server(app, port)
    alice = make_user(session, "alice", display_name="Alice A", email="alice@example.com")
    notifications.set_preferences(session, alice, {"answer": "email", "mention": "email"})
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
        notifications.set_preferences(session, member, {"reply": "email"})
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
    notifications.set_preferences(session, dana, {"badge": "email"})
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
