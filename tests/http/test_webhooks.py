"""Webhooks: signed deliveries to a real receiver on a loopback port, sent after the commit,
retried with backoff (the clock given, never slept), anonymity in payloads, chat formats,
the admin pages with "send again", and the ``forum webhooks`` command."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from forum import events
from forum import webhooks as delivery
from forum.db import new_session, utcnow
from forum.models import AuditLog, Role, User, Webhook, WebhookAttempt, WebhookDelivery
from forum.services import (
    answers,
    article_life,
    articles,
    bounties,
    circles,
    moderation,
    tutorial_requests,
    webhooks,
)
from forum.services.circles import CircleData, SessionData
from tests.conftest import Browser
from tests.factories import make_answer, make_article, make_comment, make_question, make_user

SECRET = "a shared secret for tests"
GOOD = {
    "title": "How do I rotate the staging database password?",
    "body": "I tried `ALTER USER` but the app **lost** its connection.",
    "tags": "postgres ops",
}


class Receiver:
    """An HTTP receiver on a loopback port: records each POST, answers with scripted codes."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        #: Status codes of the next answers, in order; 200 once they are used up.
        self.codes: list[int] = []
        #: When set, each answer waits until this event is set.
        self.hold: threading.Event | None = None
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                receiver.arrived.set()
                if receiver.hold is not None:
                    receiver.hold.wait(20)
                code = receiver.codes.pop(0) if receiver.codes else 200
                self.send_response(code)
                if 300 <= code < 400:
                    self.send_header("Location", f"{receiver.url}/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


def verify(secret: str, body: bytes, header: str) -> bool:
    """The receiver's check, as docs/api.md shows it."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def deliver_in_app() -> bool:
    """Most tests send deliveries themselves, with the clock they choose."""
    return False


@pytest.fixture
def app_config(app_config: dict[str, Any], deliver_in_app: bool) -> dict[str, Any]:
    return {
        **app_config,
        "WEBHOOKS_DELIVER_IN_APP": deliver_in_app,
        "SITE_URL": "https://forum.example.com",
        "REPUTATION_THRESHOLDS": {"create_tags": 0},
    }


@pytest.fixture(autouse=True)
def _senders_finish(app: Flask) -> Iterator[None]:
    yield
    assert delivery.dispatcher(app).wait_idle(20)


def add_webhook(
    session: Session, url: str, names: list[str] | None = None, body_format: str = "json"
) -> Webhook:
    webhook = webhooks.create(
        session,
        actor=None,
        data=webhooks.WebhookData(
            url=url, secret=SECRET, events=names or list(webhooks.EVENTS), format=body_format
        ),
    )
    session.commit()
    return webhook


def deliveries(app: Flask) -> list[WebhookDelivery]:
    with new_session(app) as db:
        return list(
            db.scalars(
                select(WebhookDelivery)
                .order_by(WebhookDelivery.id)
                .options(joinedload(WebhookDelivery.webhook))
            )
        )


def attempts(app: Flask) -> list[WebhookAttempt]:
    with new_session(app) as db:
        return list(db.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id)))


def send_due(app: Flask, now: dt.datetime) -> int:
    return delivery.deliver_due(
        delivery.open_writer(app), delivery.settings_of(app.config), now=now
    )


def wait_for(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


# --- delivery ---------------------------------------------------------------------------------


@pytest.mark.parametrize("deliver_in_app", [True])
def test_a_question_is_sent_signed_after_the_request_has_answered(
    app: Flask, session: Session, browser: Browser, receiver: Receiver
) -> None:
    make_user(session, "grace", display_name="Grace Hopper")
    add_webhook(session, receiver.url, ["question.created"])
    receiver.hold = threading.Event()
    browser.login("grace")
    started = time.monotonic()
    response = browser.post("/questions/ask", GOOD)
    elapsed = time.monotonic() - started
    assert response.status_code == 302
    # The receiver keeps its answer back: the request did not wait for it.
    assert elapsed < 5
    [queued] = deliveries(app)
    assert queued.status == "pending" and queued.attempts == 0
    assert receiver.arrived.wait(10), "the running app sends within 10 s"
    receiver.hold.set()
    wait_for(lambda: deliveries(app)[0].status == "delivered")

    [(headers, body)] = receiver.requests
    sent = deliveries(app)[0]
    assert headers["x-forum-event"] == "question.created"
    assert headers["x-forum-delivery"] == sent.uuid
    assert headers["content-type"] == "application/json"
    assert verify(SECRET, body, headers["x-forum-signature-256"])
    assert not verify("another secret", body, headers["x-forum-signature-256"])
    payload = json.loads(body)
    question_id = int(response.headers["Location"].split("/")[2])
    assert payload == {
        "event": "question.created",
        "id": question_id,
        "title": GOOD["title"],
        "excerpt": "I tried ALTER USER but the app lost its connection.",
        "tags": ["ops", "postgres"],
        "url": f"https://forum.example.com/questions/{question_id}",
        "actor": {"name": "Grace Hopper", "url": "https://forum.example.com/users/grace"},
    }
    [attempt] = attempts(app)
    assert attempt.status_code == 200 and attempt.error is None and attempt.duration_ms >= 0


def test_nothing_is_sent_for_a_rolled_back_action_or_an_unsubscribed_event(
    app: Flask, session: Session, receiver: Receiver
) -> None:
    add_webhook(session, receiver.url, ["answer.created"])
    make_question(session)
    session.rollback()
    make_question(session)
    session.commit()
    assert deliveries(app) == []


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(
    app: Flask, session: Session, receiver: Receiver
) -> None:
    add_webhook(session, receiver.url, ["question.created"])
    make_question(session)
    session.commit()
    receiver.codes = [500, 503]
    t0 = utcnow()
    assert send_due(app, t0) == 1
    assert send_due(app, t0 + dt.timedelta(seconds=29)) == 0  # first retry after 30 s
    assert send_due(app, t0 + dt.timedelta(seconds=30)) == 1
    assert send_due(app, t0 + dt.timedelta(seconds=89)) == 0  # then twice as long
    row = deliveries(app)[0]
    assert (row.status, row.attempts, row.last_status_code) == ("pending", 2, 503)
    assert send_due(app, t0 + dt.timedelta(seconds=90)) == 1
    row = deliveries(app)[0]
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 3, 200)
    assert [(a.status_code, a.error) for a in attempts(app)] == [
        (500, "HTTP 500"),
        (503, "HTTP 503"),
        (200, None),
    ]
    # Every attempt sent the same body, id and signature.
    assert len(receiver.requests) == 3
    assert len({(h["x-forum-delivery"], body) for h, body in receiver.requests}) == 1
    assert all(verify(SECRET, body, h["x-forum-signature-256"]) for h, body in receiver.requests)
    assert send_due(app, t0 + dt.timedelta(days=2)) == 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_delivery_is_given_up_after_a_day_with_every_error_logged(
    app: Flask, session: Session
) -> None:
    add_webhook(session, f"http://127.0.0.1:{_closed_port()}/hook", ["question.created"])
    make_question(session)
    session.commit()
    t0 = utcnow()
    assert send_due(app, t0) == 1
    assert deliveries(app)[0].status == "pending"
    assert send_due(app, t0 + dt.timedelta(days=1)) == 1
    row = deliveries(app)[0]
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 2, None)
    logged = attempts(app)
    assert [a.status_code for a in logged] == [None, None]
    assert all(a.error and "Connection" in a.error for a in logged)


def test_redirects_are_not_followed(app: Flask, session: Session, receiver: Receiver) -> None:
    add_webhook(session, receiver.url, ["question.created"])
    make_question(session)
    session.commit()
    receiver.codes = [302]
    assert send_due(app, utcnow()) == 1
    assert len(receiver.requests) == 1
    row = deliveries(app)[0]
    assert (row.status, row.last_status_code) == ("pending", 302)


# --- payloads ---------------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_anonymous_posts_never_reveal_their_author(app: Flask, session: Session) -> None:
    add_webhook(session, "https://hooks.example.com/json")
    add_webhook(session, "https://hooks.example.com/slack", body_format="slack")
    asker = make_user(session, "hiddenasker", display_name="Hidden Person")
    helper = make_user(session, "helper", display_name="Helpful Helen")
    question = make_question(session, asker, anonymous=True)
    answer = make_answer(session, question, helper)
    make_answer(session, question, asker, body="Answering myself, anonymously.\n")
    make_comment(session, question, asker, body="Thanks, this is the asker speaking.")
    answers.accept(session, acceptor=asker, answer_id=answer.id)
    session.commit()
    bodies = [d.body for d in deliveries(app)]
    assert len(bodies) == 2 * 5
    for body in bodies:
        assert "hiddenasker" not in body and "Hidden Person" not in body
    actors = {
        (json.loads(d.body)["event"], json.dumps(json.loads(d.body)["actor"]))
        for d in deliveries(app)
        if d.webhook.url.endswith("/json")
    }
    anonymous = json.dumps({"name": "Anonymous colleague", "url": None})
    assert ("question.created", anonymous) in actors
    assert ("answer.created", anonymous) in actors
    assert ("answer.accepted", anonymous) in actors
    assert (
        "comment.created",
        json.dumps({"name": "Anonymous colleague (asker)", "url": None}),
    ) in actors
    # Helen's own answer is hers.
    assert any("Helpful Helen" in body for body in bodies)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_chat_formats(app: Flask, session: Session) -> None:
    for body_format in ("slack", "teams", "mattermost"):
        add_webhook(session, f"https://chat.example.com/{body_format}", body_format=body_format)
    author = make_user(session, "ada", display_name="Ada <Lovelace>")
    question = make_question(
        session, author, title="Why does A & B < C fail?", body="It **fails**.", tags=("sql",)
    )
    session.commit()
    url = f"https://forum.example.com/questions/{question.id}"
    sent = {d.webhook.format: json.loads(d.body) for d in deliveries(app)}

    slack = sent["slack"]
    assert slack["text"] == f"New question: <{url}|Why does A &amp; B &lt; C fail?>"
    section, context = slack["blocks"]
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert f"<{url}|Why does A &amp; B &lt; C fail?>" in section["text"]["text"]
    assert section["text"]["text"].endswith("\nIt fails.")
    assert context["elements"][0]["text"] == "Tags: sql · By Ada &lt;Lovelace&gt;"

    teams = sent["teams"]
    assert teams["@type"] == "MessageCard"
    assert teams["title"] == "New question: Why does A & B < C fail?"
    assert teams["text"] == "It fails."
    assert {"name": "Tags", "value": "sql"} in teams["sections"][0]["facts"]
    assert teams["potentialAction"][0]["targets"] == [{"os": "default", "uri": url}]

    mattermost = sent["mattermost"]
    assert mattermost["text"] == f"New question: [Why does A & B < C fail?]({url})"
    [attachment] = mattermost["attachments"]
    assert (attachment["title"], attachment["title_link"]) == ("Why does A & B < C fail?", url)
    assert attachment["text"] == "It fails."
    assert {"title": "Tags", "value": "sql", "short": True} in attachment["fields"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_event_is_queued_by_the_service_that_acts(app: Flask, session: Session) -> None:
    add_webhook(session, "https://hooks.example.com/all")
    member = make_user(session, "kim", display_name="Kim Lee", role=Role.MODERATOR)
    other = make_user(session, "lou", display_name="Lou Reed")
    question = make_question(session, member)
    answer = make_answer(session, question, other)
    answers.accept(session, acceptor=member, answer_id=answer.id)
    make_comment(session, question, other)
    article = make_article(session, member, title="Deploying on Fridays")
    articles.edit_article(
        session,
        article,
        editor=member,
        data=articles.ArticleData(
            title="Deploying on Fridays", body_md="Don't.\n", tags_text="howto", article_type="tip"
        ),
        base_revision=article.revision_count,
    )
    article.review_by = utcnow() - dt.timedelta(days=1)
    article_life.notify_stale(session)
    events.emit(session, events.BadgeAwarded(other.id, "curious", "Curious"))
    tutorial_requests.create(
        session, requester=other, title="Intro to our CI", details_md="Please.", tags=["howto"]
    )
    circle = circles.create_circle(
        session,
        facilitator=member,
        data=CircleData(name="Rust readers", description_md="", tags=["howto"], size_limit=4),
    )
    start = (utcnow() + dt.timedelta(days=7)).replace(tzinfo=None)
    circles.schedule(
        session,
        actor=member,
        circle=circle,
        data=SessionData(
            title="Chapter 3",
            kind="meeting",
            date=start.date(),
            time=start.time().replace(second=0, microsecond=0),
            timezone="Europe/London",
            duration_minutes=60,
            location="Room 4",
            link="",
            agenda_md="Borrowing",
            presenter="",
        ),
    )
    member.reputation = 500  # the ledger is not what this test is about
    question.created_at = utcnow() - dt.timedelta(days=3)
    session.flush()
    bounties.start(session, offerer=member, question_id=question.id, amount=100, reason="reward")
    bounties.award(session, actor=member, answer_id=answer.id)
    session.commit()
    sent = {d.event: json.loads(d.body) for d in deliveries(app)}
    assert set(sent) == set(webhooks.EVENTS)
    assert sent["bounty.started"]["actor"]["name"] == "Kim Lee"
    assert sent["bounty.awarded"]["excerpt"].startswith("+100 bounty awarded")
    assert sent["article.edited"]["excerpt"] == "Don't."
    assert sent["article.stale"]["actor"] is None
    assert sent["badge.awarded"]["url"] == "https://forum.example.com/badges/curious"
    assert sent["comment.created"]["url"].startswith(
        f"https://forum.example.com/questions/{question.id}#comment-"
    )
    assert sent["tutorial_request.created"]["title"] == "Intro to our CI"
    assert sent["circle_session.scheduled"]["title"] == "Rust readers: Chapter 3"


def test_only_http_and_https_addresses_are_accepted(session: Session) -> None:
    for url in ("ftp://example.com/x", "file:///etc/passwd", "javascript:alert(1)", "example.com"):
        with pytest.raises(webhooks.ValidationError) as refused:
            webhooks.create(
                session,
                actor=None,
                data=webhooks.WebhookData(url=url, secret=SECRET, events=["question.created"]),
            )
        assert refused.value.errors["url"] == ["Use an http:// or https:// address."]


# --- admin pages ------------------------------------------------------------------------------


@pytest.fixture
def admin(session: Session) -> User:
    user = make_user(session, "root", role=Role.ADMIN)
    session.commit()
    return user


def _form(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "url": url,
        "secret": SECRET,
        "events": ["question.created", "answer.created"],
        "format": "slack",
        "active": "y",
        **extra,
    }


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_admin_pages_add_edit_and_remove_a_webhook(
    app: Flask, session: Session, browser: Browser, admin: User
) -> None:
    make_user(session, "member")
    session.commit()
    browser.login("member")
    assert browser.get("/admin/webhooks").status_code == 403
    assert browser.post("/admin/webhooks/new", _form("https://x.example.com")).status_code == 403
    browser.logout()
    browser.login("root")
    assert browser.get("/admin/webhooks/new").status_code == 200

    refused = browser.post("/admin/webhooks/new", _form("ftp://files.example.com/in"))
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert "Use an http:// or https:// address." in page
    assert 'value="ftp://files.example.com/in"' in page
    none_chosen = browser.post("/admin/webhooks/new", _form("https://x.example.com", events=[]))
    assert none_chosen.status_code == 400
    assert "Choose at least one event." in none_chosen.get_data(as_text=True)

    added = browser.post("/admin/webhooks/new", _form("https://chat.example.com/in"))
    assert added.status_code == 302
    [webhook] = session.scalars(select(Webhook)).all()
    assert (webhook.url, webhook.format, webhook.secret, webhook.created_by_id) == (
        "https://chat.example.com/in",
        "slack",
        SECRET,
        admin.id,
    )
    assert webhook.event_names == ["question.created", "answer.created"]
    listing = browser.get("/admin/webhooks").get_data(as_text=True)
    assert "https://chat.example.com/in" in listing and SECRET not in listing

    edit_page = browser.get(f"/admin/webhooks/{webhook.id}/edit").get_data(as_text=True)
    assert SECRET not in edit_page
    saved = browser.post(
        f"/admin/webhooks/{webhook.id}/edit",
        _form("https://chat.example.com/other", secret="", events=["article.published"]),
    )
    assert saved.status_code == 302
    session.rollback()
    assert webhook.url == "https://chat.example.com/other"
    assert webhook.secret == SECRET  # kept: no new one was given
    assert webhook.event_names == ["article.published"] and webhook.active

    webhook_id = webhook.id
    confirm = browser.get(f"/admin/webhooks/{webhook_id}/delete")
    assert "Remove this webhook?" in confirm.get_data(as_text=True)
    assert browser.post(f"/admin/webhooks/{webhook_id}/delete").status_code == 400
    assert session.get(Webhook, webhook_id) is not None
    session.rollback()
    gone = browser.post(f"/admin/webhooks/{webhook_id}/delete", {"confirm": "yes"})
    assert gone.status_code == 302
    session.rollback()
    assert session.scalars(select(Webhook)).all() == []
    assert browser.get(f"/admin/webhooks/{webhook_id}").status_code == 404


@pytest.mark.parametrize("deliver_in_app", [True])
def test_deliveries_are_listed_and_sent_again_on_demand(
    app: Flask, session: Session, browser: Browser, admin: User, receiver: Receiver
) -> None:
    webhook = add_webhook(session, receiver.url, ["question.created"])
    receiver.codes = [410]
    make_question(session, title="Where is the VPN guide kept nowadays?")
    session.commit()
    wait_for(lambda: deliveries(app)[0].attempts == 1)
    with new_session(app) as db:
        db.execute(WebhookDelivery.__table__.update().values(status="failed", next_attempt_at=None))
        db.commit()
    [row] = deliveries(app)
    browser.login("root")
    page = browser.get(f"/admin/webhooks/{webhook.id}").get_data(as_text=True)
    assert row.uuid in page and "HTTP 410" in page and "failed" in page

    again = browser.post(f"/admin/webhooks/deliveries/{row.id}/send-again")
    assert again.status_code == 302
    wait_for(lambda: deliveries(app)[0].status == "delivered")
    assert [a.status_code for a in attempts(app)] == [410, 200]
    assert len({h["x-forum-delivery"] for h, _body in receiver.requests}) == 1
    page = browser.get(f"/admin/webhooks/{webhook.id}").get_data(as_text=True)
    assert "delivered" in page and "HTTP 200" in page
    assert browser.client.post(f"/admin/webhooks/deliveries/{row.id}/send-again").status_code == 400


# --- the command ------------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_webhooks_command(app: Flask, session: Session, receiver: Receiver) -> None:
    runner = app.test_cli_runner()
    added = runner.invoke(
        args=[
            "webhooks",
            "add",
            receiver.url,
            "--secret",
            SECRET,
            "--event",
            "question.created",
            "--event",
            "answer.created",
            "--format",
            "mattermost",
        ]
    )
    assert added.exit_code == 0, added.output
    refused = runner.invoke(
        args=[
            "webhooks",
            "add",
            "gopher://old.example.com",
            "--secret",
            SECRET,
            "--event",
            "question.created",
        ]
    )
    assert refused.exit_code == 1
    assert "url: Use an http:// or https:// address." in refused.output
    listed = runner.invoke(args=["webhooks", "list"])
    [line] = listed.output.splitlines()
    webhook_id = line.split("\t")[0]
    assert line.split("\t")[1:] == [
        "active",
        "mattermost",
        receiver.url,
        "question.created, answer.created",
    ]

    make_question(session)
    session.commit()
    sent = runner.invoke(args=["webhooks", "deliver"])
    assert sent.output.strip() == "Tried 1 delivery."
    assert deliveries(app)[0].status == "delivered"
    [(headers, body)] = receiver.requests
    assert verify(SECRET, body, headers["x-forum-signature-256"])
    assert "attachments" in json.loads(body)

    removed = runner.invoke(args=["webhooks", "remove", webhook_id])
    assert removed.exit_code == 0
    assert runner.invoke(args=["webhooks", "list"]).output.strip() == "No webhooks."
    assert runner.invoke(args=["webhooks", "remove", webhook_id]).exit_code == 1


# --- the audit log ----------------------------------------------------------------------------


def _audit_rows(app: Flask) -> list[AuditLog]:
    with new_session(app) as db:
        return list(db.scalars(select(AuditLog).order_by(AuditLog.id)))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_webhook_changes_in_the_pages_are_audited_without_secrets(
    app: Flask, session: Session, browser: Browser, admin: User
) -> None:
    moderator = make_user(session, "mod", role=Role.MODERATOR)
    session.commit()
    browser.login("root")
    hook_url = "https://hooks.example.com/services/T0/B0/XYZsecretpath"
    assert browser.post("/admin/webhooks/new", _form(hook_url)).status_code == 302
    [webhook] = session.scalars(select(Webhook)).all()
    webhook_id = webhook.id
    new_secret = "another shared secret"
    saved = browser.post(
        f"/admin/webhooks/{webhook_id}/edit",
        _form(hook_url, secret=new_secret, events=["article.published"], active=""),
    )
    assert saved.status_code == 302
    # Saving it unchanged writes nothing; enabling it again is its own entry.
    unchanged = _form(hook_url, secret="", events=["article.published"], active="")
    assert browser.post(f"/admin/webhooks/{webhook_id}/edit", unchanged).status_code == 302
    enabled = _form(hook_url, secret="", events=["article.published"])
    assert browser.post(f"/admin/webhooks/{webhook_id}/edit", enabled).status_code == 302
    with new_session(app) as db:
        row = WebhookDelivery(
            webhook_id=webhook_id,
            uuid="6a1f0c3e-0000-4000-8000-000000000001",
            event="article.published",
            body="{}",
            status="failed",
            next_attempt_at=None,
            give_up_at=utcnow(),
        )
        db.add(row)
        db.commit()
        delivery_id = row.id
    again = browser.post(f"/admin/webhooks/deliveries/{delivery_id}/send-again")
    assert again.status_code == 302
    assert (
        browser.post(f"/admin/webhooks/{webhook_id}/delete", {"confirm": "yes"}).status_code == 302
    )

    rows = _audit_rows(app)
    assert [r.action for r in rows] == [
        "webhook.add",
        "webhook.edit",
        "webhook.disable",
        "webhook.enable",
        "webhook.send_again",
        "webhook.remove",
    ]
    assert {(r.actor_id, r.target_type, r.target_id) for r in rows} == {
        (admin.id, "webhook", webhook_id)
    }
    assert rows[1].reason.startswith("Changed secret, events:")
    assert "6a1f0c3e-0000-4000-8000-000000000001" in rows[4].reason
    for row in rows:
        assert SECRET not in row.reason and new_secret not in row.reason
        assert "XYZsecretpath" not in row.reason
        assert "https://hooks.example.com" in row.reason

    browser.logout()
    browser.login(moderator.username)
    page = browser.get("/moderation/audit").get_data(as_text=True)
    for label in ("Added a webhook", "Changed a webhook", "Paused a webhook", "Removed a webhook"):
        assert label in page
    assert "Sent a webhook delivery again" in page
    assert SECRET not in page and new_secret not in page and "XYZsecretpath" not in page


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_webhook_changes_at_the_command_line_are_audited(
    app: Flask, session: Session, admin: User
) -> None:
    runner = app.test_cli_runner()
    url = "https://chat.example.com/hooks/abcdef"
    added = runner.invoke(
        args=["webhooks", "add", url, "--secret", SECRET, "--event", "question.created"]
    )
    assert added.exit_code == 0, added.output
    [webhook] = session.scalars(select(Webhook)).all()
    webhook_id = str(webhook.id)
    assert runner.invoke(args=["webhooks", "disable", webhook_id]).exit_code == 0
    assert runner.invoke(args=["webhooks", "disable", webhook_id]).exit_code == 0  # no change
    session.rollback()
    assert not webhook.active
    assert runner.invoke(args=["webhooks", "enable", webhook_id]).exit_code == 0
    assert runner.invoke(args=["webhooks", "enable", "999"]).exit_code == 1
    session.rollback()
    make_question(session)
    session.commit()
    [row] = deliveries(app)
    again = runner.invoke(args=["webhooks", "send-again", str(row.id)])
    assert again.exit_code == 0 and "queued again" in again.output
    assert runner.invoke(args=["webhooks", "send-again", "999"]).exit_code == 1
    assert runner.invoke(args=["webhooks", "remove", webhook_id]).exit_code == 0

    rows = _audit_rows(app)
    assert [r.action for r in rows] == [
        "webhook.add",
        "webhook.disable",
        "webhook.enable",
        "webhook.send_again",
        "webhook.remove",
    ]
    assert all(r.actor_id is None and SECRET not in r.reason for r in rows)
    assert all("abcdef" not in r.reason for r in rows)
    entries, _total = moderation.audit_log(session, viewer=admin)
    assert {e.actor_label for e in entries} == {"The command line"}
