"""Instant email end to end against a real SMTP server (aiosmtpd): the queue, retries with
backoff, one-click unsubscribe, following posts, delivery preferences and session reminders."""

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

from forum import delivery, migrate
from forum.db import get_engine, utcnow
from forum.models import (
    Circle,
    CircleMember,
    CircleSession,
    MailDelivery,
    Notification,
    Role,
    Rsvp,
    RsvpResponse,
    User,
)
from forum.services import digests, mailqueue, notifications
from tests.conftest import Browser
from tests.factories import make_answer, make_question, make_user
from tests.unit.test_digests import Inbox, free_port
from tests.unit.test_migrations_practice import insert, table


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
        "MAIL_MAX_ATTEMPTS": 2,
    }


@pytest.fixture
def browser(app: Flask) -> Browser:
    return Browser(app.test_client())


def settle(session: Session) -> None:
    """Wait for the background sender, then look at the database afresh."""
    assert delivery.wait_idle(30)
    session.commit()
    session.expire_all()


def mails(session: Session) -> list[MailDelivery]:
    settle(session)
    return list(session.scalars(select(MailDelivery).order_by(MailDelivery.id)))


def answer_over_http(browser: Browser, question_id: int) -> None:
    browser.login("helper")
    response = browser.post(
        f"/questions/{question_id}/answer", {"body": "Restart the VPN client, then log in again."}
    )
    assert response.status_code == 302, response.status_code


def test_answer_is_emailed_at_once_and_one_click_unsubscribes(
    app: Flask, session: Session, browser: Browser, smtp_server: tuple[Inbox, int]
) -> None:
    server, port = smtp_server
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    asker = make_user(session, "asker", display_name="Zoë Ünal, QA", email="zoe@example.com")
    make_user(session, "helper", display_name="Hal Helper")
    question = make_question(session, asker, title="Why does the café Wi-Fi drop my VPN?")
    session.commit()

    answer_over_http(browser, question.id)

    [row] = mails(session)
    assert (row.state, row.attempts, row.kind) == ("sent", 1, "answer")
    [(rcpts, message)] = server.received
    assert rcpts == ["zoe@example.com"]
    assert message["To"].addresses[0].display_name == "Zoë Ünal, QA"
    assert (
        message["Subject"]
        == "Hal Helper answered your question “Why does the café Wi-Fi drop my VPN?”"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    plain = message.get_body(preferencelist=("plain",)).get_content()
    assert f"https://forum.example.com/questions/{question.id}" in plain
    unsubscribe = re.fullmatch(r"<(.+)>", message["List-Unsubscribe"]).group(1)  # type: ignore[union-attr]
    assert f"Stop emailing me these: {unsubscribe}" in plain
    path = unsubscribe.removeprefix("https://forum.example.com")

    # No login: the GET only asks; the RFC 8058 POST (no CSRF token, as mail clients send it)
    # changes that one preference.
    visitor = app.test_client()
    assert "Answers to my questions" in visitor.get(path).get_data(as_text=True)
    assert notifications.preferences(session, asker)["answer"] == "instant"
    done = visitor.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    settle(session)
    prefs = notifications.preferences(session, asker)
    assert prefs["answer"] == "inbox" and prefs["mention"] == "instant"
    assert visitor.post(path[:-3] + "xyz").status_code == 404  # a forged token

    # Still in the inbox, no more email.
    make_answer(session, question, make_user(session, "third"))
    session.commit()
    settle(session)
    assert len(server.received) == 1
    kinds = session.scalars(
        select(Notification.kind).where(
            Notification.recipient_id == asker.id, Notification.kind != "badge"
        )
    )
    assert list(kinds) == ["answer", "answer"]


def test_refused_connection_never_fails_the_request_and_is_retried_with_backoff(
    app: Flask, session: Session, browser: Browser, smtp_server: tuple[Inbox, int]
) -> None:
    server, port = smtp_server
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}"  # nobody listens there
    asker = make_user(session, "asker", email="asker@example.com")
    make_user(session, "helper")
    make_user(session, "root", role=Role.ADMIN)
    question = make_question(session, asker)
    session.commit()

    before = utcnow()
    answer_over_http(browser, question.id)  # 302: the answer is posted

    [row] = mails(session)
    assert (row.state, row.attempts) == ("queued", 1)
    assert row.last_error is not None and "Could not reach the mail server" in row.last_error
    wait = row.next_attempt_at.replace(tzinfo=dt.UTC) - before
    assert dt.timedelta(seconds=55) < wait < dt.timedelta(seconds=90)

    admin = Browser(app.test_client())
    admin.login("root")
    page = admin.get("/admin/mail").get_data(as_text=True)
    assert "queued" in page and "Could not reach the mail server" in page
    assert browser.get("/admin/mail").status_code == 403

    # Not due yet; once due, the server is back and it goes out.
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    assert delivery.send_due(app, now=before + dt.timedelta(seconds=30)).sent == 0
    report = delivery.send_due(app, now=before + dt.timedelta(minutes=5))
    assert report.summary() == "Sent 1 email."
    settle(session)
    assert (row.state, row.attempts) == ("sent", 2)
    assert [r for r, _ in server.received] == [["asker@example.com"]]


def test_backoff_doubles_and_the_last_attempt_fails_for_good() -> None:
    policy = mailqueue.RetryPolicy(max_attempts=3, base_delay=60)
    assert [policy.delay(n).total_seconds() for n in (1, 2, 3)] == [60, 120, 240]
    now = utcnow()
    row = MailDelivery(attempts=2, state="queued", next_attempt_at=now)
    mailqueue.record_failure(row, "boom", policy, now=now)
    assert row.state == "queued" and row.next_attempt_at == now + dt.timedelta(seconds=120)
    row.attempts = 3
    mailqueue.record_failure(row, "boom again", policy, now=now)
    assert (row.state, row.last_error) == ("failed", "boom again")


def test_each_channel_is_respected(session: Session) -> None:
    member = make_user(session, "member")
    notifications.set_preferences(
        session,
        member,
        {"badge": "off", "reply": "inbox", "comment": "daily", "accepted": "weekly"},
    )
    for kind in ("badge", "reply", "comment", "accepted", "answer"):
        notifications.notify(
            session, recipient=member, kind=kind, text=kind, endpoint="main.index", params={}
        )
    session.commit()
    told = set(session.scalars(select(Notification.kind)))
    assert told == {"reply", "comment", "accepted", "answer"}  # off: nothing at all
    assert [m.kind for m in session.scalars(select(MailDelivery))] == ["answer"]  # instant
    daily = digests.pending(session, "daily")
    weekly = digests.pending(session, "weekly")
    assert [n.kind for d in daily for n in d.items] == ["comment"]
    assert [n.kind for d in weekly for n in d.items] == ["accepted"]


def test_follow_and_unfollow_over_http(app: Flask, session: Session, browser: Browser) -> None:
    asker = make_user(session, "asker")
    make_user(session, "helper")
    fan = make_user(session, "fan")
    question = make_question(session, asker, anonymous=True)
    session.commit()

    browser.login("fan")
    page = browser.get(f"/questions/{question.id}").get_data(as_text=True)
    assert (
        '<button type="submit" class="button button--link" aria-pressed="false">Follow</button>'
        in page
    )
    assert browser.post(f"/posts/{question.id}/follow", {"follow": "1"}).status_code == 302
    assert "Unfollow</button>" in browser.get(f"/questions/{question.id}").get_data(as_text=True)

    helper = Browser(app.test_client())
    answer_over_http(helper, question.id)
    # The anonymous asker comments on their own question: followers are told without a name.
    asking = Browser(app.test_client())
    asking.login("asker")
    asking.post(f"/posts/{question.id}/comments", {"body": "Thanks, trying that now."})

    def told(member: User) -> list[tuple[str, str, int | None]]:
        session.commit()
        session.expire_all()
        return [
            (n.kind, n.text, n.actor_id)
            for n in session.scalars(
                select(Notification)
                .where(Notification.recipient_id == member.id)
                .order_by(Notification.id)
            )
        ]

    fan_told = told(fan)
    assert [k for k, _, _ in fan_told] == ["followed_post", "followed_post"]
    assert "answered" in fan_told[0][1] and "which you follow" in fan_told[0][1]
    assert fan_told[1][1].startswith("The anonymous asker commented") and fan_told[1][2] is None
    # The asker follows their own question: heard of the answer once, as an answer.
    assert [k for k, _, _ in told(asker)] == ["answer"]

    assert browser.post(f"/posts/{question.id}/follow", {"follow": "0"}).status_code == 302
    assert "Follow</button>" in browser.get(f"/questions/{question.id}").get_data(as_text=True)
    helper.post(f"/posts/{question.id}/comments", {"body": "Did it work in the end?"})
    assert len(told(fan)) == 2
    assert browser.post("/posts/999999/follow", {"follow": "1"}).status_code == 404


def test_session_reminder_is_emailed_once_with_the_ics(
    app: Flask, session: Session, smtp_server: tuple[Inbox, int]
) -> None:
    server, port = smtp_server
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    host = make_user(session, "host")
    keen = make_user(session, "keen", email="keen@example.com")
    away = make_user(session, "away")
    notifications.set_preferences(session, keen, {"session_reminder": "instant"})
    circle = Circle(name="Rust für Anfänger", facilitator_id=host.id)
    session.add(circle)
    session.flush()
    for member in (host, keen, away):
        session.add(CircleMember(circle_id=circle.id, user_id=member.id))
    soon = CircleSession(
        circle_id=circle.id,
        title="Ownership",
        starts_at=utcnow() + dt.timedelta(hours=20),
        timezone="Europe/Berlin",
    )
    later = CircleSession(
        circle_id=circle.id,
        title="Lifetimes",
        starts_at=utcnow() + dt.timedelta(days=3),
        timezone="Europe/Berlin",
    )
    session.add_all([soon, later])
    session.flush()
    session.add(Rsvp(session_id=soon.id, user_id=away.id, response=RsvpResponse.NO))
    session.commit()

    runner = app.test_cli_runner()
    first = runner.invoke(args=["mail", "reminders"])
    assert first.exit_code == 0, first.output
    assert "Reminded 2 member(s) of 1 circle session(s)" in first.output  # not `away`
    again = runner.invoke(args=["mail", "reminders"])
    assert "Reminded 0 member(s)" in again.output

    [row] = mails(session)
    assert (row.state, row.kind) == ("sent", "session_reminder")
    [(rcpts, message)] = server.received
    assert rcpts == ["keen@example.com"]
    assert message["Subject"].startswith("Reminder: “Ownership” of the circle “Rust für Anfänger”")
    [ics] = [
        part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"
    ]
    assert "SUMMARY:Ownership" in ics.get_content()
    kinds = session.scalars(
        select(Notification.recipient_id).where(Notification.kind == "session_reminder")
    )
    assert sorted(kinds) == sorted([host.id, keen.id])


def test_digest_carries_one_click_unsubscribe(
    app: Flask, session: Session, smtp_server: tuple[Inbox, int]
) -> None:
    from forum.cli.digests import send_digests

    server, port = smtp_server
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    member = make_user(session, "member")
    notifications.set_preferences(session, member, {"reply": "daily", "badge": "daily"})
    for kind in ("reply", "badge"):
        notifications.notify(
            session, recipient=member, kind=kind, text=kind, endpoint="main.index", params={}
        )
    session.commit()
    assert send_digests(app, "daily").sent == 1
    [(_rcpts, message)] = server.received
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    plain = message.get_body(preferencelist=("plain",)).get_content()
    assert plain.count("Stop emailing me these: https://forum.example.com/unsubscribe/") == 2
    url = re.fullmatch(r"<(.+)>", message["List-Unsubscribe"]).group(1)  # type: ignore[union-attr]
    response = app.test_client().post(url.removeprefix("https://forum.example.com"))
    assert response.status_code == 200 and "no longer reach you" in response.get_data(as_text=True)
    settle(session)
    prefs = notifications.preferences(session, member)
    assert (prefs["reply"], prefs["badge"], prefs["comment"]) == ("inbox", "inbox", "inbox")


def test_migration_backfills_follows_and_renames_the_digest_channel(empty_app: Flask) -> None:
    migrate.upgrade(empty_app, "0022_article_life")
    with get_engine(empty_app).begin() as conn:
        ana = insert(conn, "users", username="ana", display_name="Ana", auth_token="t" * 16)
        ben = insert(conn, "users", username="ben", display_name="Ben", auth_token="t" * 16)

        def post(kind: str, **values: Any) -> int:
            return insert(conn, "posts", kind=kind, body_md="x", body_html="<p>x</p>", **values)

        question = post("question", title="Q", author_id=ana)
        post("answer", parent_id=question, author_id=ben)
        article = post("article", title="A", slug="a", author_id=ana, owner_id=ben)
        insert(conn, "notification_preferences", user_id=ana, kind="answer", channel="email")
    migrate.upgrade(empty_app)
    with get_engine(empty_app).connect() as conn:
        follows = table(conn, "post_follows")
        rows = set(conn.execute(select(follows.c.user_id, follows.c.post_id)).all())
        prefs = table(conn, "notification_preferences")
        channels = conn.execute(select(prefs.c.channel)).scalars().all()
    assert rows == {(ana, question), (ana, article), (ben, article)}
    assert channels == ["daily"]
