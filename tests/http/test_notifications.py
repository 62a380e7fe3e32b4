"""Notifications through the browser: header counter, inbox, marking read, settings."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.models import Notification, User
from forum.services import notifications
from tests.conftest import Browser
from tests.factories import make_question, make_user


@pytest.fixture
def people(session: Session) -> dict[str, Any]:
    asker = make_user(session, "asker", display_name="Asha Asker")
    helper = make_user(session, "helper", display_name="Hal Helper")
    session.commit()
    return {"asker": asker, "helper": helper}


def unread_in_header(html: str) -> str | None:
    match = re.search(r'<a class="notifications-link"[^>]*>(.*?)</a>', html, re.S)
    assert match, "the header has a notifications link"
    badge = re.search(r'<span class="badge-role" aria-hidden="true">(\d+)</span>', match.group(1))
    return badge.group(1) if badge else None


def own_notifications(session: Session, user: User) -> list[Notification]:
    session.commit()  # a new transaction sees what the requests committed
    session.expire_all()
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.recipient_id == user.id, Notification.kind != "badge")
            .order_by(Notification.id)
        )
    )


def test_answer_shows_in_header_and_inbox_then_reads(
    browser: Browser, session: Session, people: dict[str, Any]
) -> None:
    question = make_question(session, people["asker"], title="Where is the <staging> VPN guide?")
    session.commit()
    browser.login("helper")
    answered = browser.post(f"/questions/{question.id}/answer", {"body": "In the wiki."})
    assert answered.status_code == 302
    browser.logout()

    browser.login("asker")
    home = browser.get("/").get_data(as_text=True)
    count = unread_in_header(home)
    assert count is not None and int(count) >= 1
    assert f'aria-label="Notifications: {count} unread notification' in home

    page = browser.get("/notifications")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    # Plain text, escaped when shown.
    assert "Hal Helper answered your question “Where is the &lt;staging&gt; VPN guide?”" in html
    [note] = own_notifications(session, people["asker"])
    assert note.read_at is None

    opened = browser.post(f"/notifications/{note.id}/read", {"open": "1"})
    assert opened.status_code == 302
    assert (
        opened.headers["Location"] == f"/questions/{question.id}#post-{note.params['_anchor'][5:]}"
    )
    assert note.params["_anchor"] == f"post-{answered.headers['Location'].rsplit('#post-', 1)[1]}"
    assert own_notifications(session, people["asker"])[0].read_at is not None

    assert browser.post("/notifications/read-all").status_code == 302
    assert unread_in_header(browser.get("/").get_data(as_text=True)) is None


def test_someone_elses_notification_is_not_found(
    browser: Browser, session: Session, people: dict[str, Any]
) -> None:
    note = notifications.notify(
        session,
        recipient=people["asker"],
        kind="mentoring",
        text="Private",
        endpoint="main.index",
        params={},
    )
    session.commit()
    assert note is not None
    browser.login("helper")
    assert browser.post(f"/notifications/{note.id}/read").status_code == 404
    assert "Private" not in browser.get("/notifications").get_data(as_text=True)
    assert own_notifications(session, people["asker"])[0].read_at is None


def test_inbox_needs_login_and_posts_need_csrf(
    browser: Browser, client: Any, session: Session, people: dict[str, Any]
) -> None:
    assert browser.get("/notifications").status_code in (302, 401)
    assert browser.get("/settings/notifications").status_code in (302, 401)
    browser.login("asker")
    assert client.post("/notifications/read-all").status_code == 400


def test_inbox_paginates(browser: Browser, session: Session, people: dict[str, Any]) -> None:
    for i in range(notifications.PAGE_SIZE + 3):
        notifications.notify(
            session,
            recipient=people["asker"],
            kind="mentoring",
            text=f"Request number {i}",
            endpoint="main.index",
            params={},
        )
    session.commit()
    browser.login("asker")
    first = browser.get("/notifications").get_data(as_text=True)
    assert f"Request number {notifications.PAGE_SIZE + 2}" in first
    assert "Request number 0<" not in first and "Page 1 of 2" in first
    second = browser.get("/notifications?page=2").get_data(as_text=True)
    assert "Request number 0" in second
    assert browser.get("/notifications?page=zero").status_code == 400


def test_settings_save_and_turn_a_kind_off(
    browser: Browser, session: Session, people: dict[str, Any]
) -> None:
    browser.login("asker")
    page = browser.get("/settings/notifications").get_data(as_text=True)
    assert 'name="kind-answer" value="instant" checked' in page
    assert 'name="kind-badge" value="inbox" checked' in page
    form = {f"kind-{kind}": "inbox" for kind in notifications.KINDS}
    form.update({"kind-answer": "off", "kind-mention": "daily"})
    saved = browser.post("/settings/notifications", form)
    assert saved.status_code == 302
    page = browser.get("/settings/notifications").get_data(as_text=True)
    assert 'name="kind-answer" value="off" checked' in page
    assert 'name="kind-mention" value="daily" checked' in page
    prefs = notifications.preferences(session, people["asker"])
    assert prefs["answer"] == "off" and prefs["mention"] == "daily"

    bad = browser.post("/settings/notifications", {**form, "kind-badge": "carrier-pigeon"})
    assert bad.status_code == 400
    assert "Unknown choice" in bad.get_data(as_text=True)

    # Answers are off now: a new answer stores nothing for the asker.
    question = make_question(session, people["asker"])
    session.commit()
    browser.logout()
    browser.login("helper")
    browser.post(f"/questions/{question.id}/answer", {"body": "Here you go."})
    assert own_notifications(session, people["asker"]) == []


def test_mention_in_a_comment_links_and_notifies(
    browser: Browser, session: Session, people: dict[str, Any]
) -> None:
    make_user(session, "mira", display_name="Mira Mentioned")
    question = make_question(session, people["asker"])
    session.commit()
    browser.login("helper")
    response = browser.post(f"/posts/{question.id}/comments", {"body": "Ask @mira about it"})
    assert response.status_code == 302
    page = browser.get(f"/questions/{question.id}").get_data(as_text=True)
    assert '<a class="mention" href="/users/mira">@mira</a>' in page
    mira = session.scalar(select(User).where(User.username == "mira"))
    assert mira is not None
    [note] = own_notifications(session, mira)
    assert note.kind == "mention" and note.text.startswith("Hal Helper mentioned you")
