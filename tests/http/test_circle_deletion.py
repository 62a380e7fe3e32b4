"""Deleting a learning circle: only its facilitator or an admin, after a confirmation that
works without JavaScript; everything in it goes, its members are told, feeds forget it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from flask import Flask
from icalendar import Calendar
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.models import (
    Attendance,
    Circle,
    CircleMember,
    CircleResource,
    CircleSession,
    Notification,
    Role,
    Rsvp,
    RsvpResponse,
    SessionKind,
    WorkshopRating,
    circle_tags,
)
from forum.services import circles
from forum.services.circles import CircleData
from tests.conftest import Browser
from tests.factories import make_question, make_user


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Members here may create tags (the tag policy is tested in test_tag_policy.py)."""
    return {**app_config, "REPUTATION_THRESHOLDS": {"create_tags": 0}}


CHILD_TABLES = (
    "circle_members",
    "circle_sessions",
    "circle_rsvps",
    "circle_attendance",
    "workshop_ratings",
    "circle_resources",
    "circle_tags",
)


@pytest.fixture
def world(session: Session) -> dict[str, Any]:
    """A circle with members, a past rated workshop, an upcoming meeting with RSVPs, a
    resource and tags; and a second circle that must not be touched."""
    people = {
        name: make_user(session, name, display_name=name.capitalize() + " Tester")
        for name in ("fran", "ben", "cleo", "out")
    }
    people["mod"] = make_user(session, "mod", role=Role.MODERATOR)
    people["admin"] = make_user(session, "admin", role=Role.ADMIN)
    circle = circles.create_circle(
        session,
        facilitator=people["fran"],
        data=CircleData(name="Rust reading group", tags=["rust", "reading"], size_limit=8),
    )
    other = circles.create_circle(
        session,
        facilitator=people["cleo"],
        data=CircleData(name="Design crit", tags=["design"], size_limit=8),
    )
    for name in ("ben", "cleo"):
        circles.join(session, user=people[name], circle=circle)
    now = utcnow()

    def add_session(where: Circle, title: str, starts_at: dt.datetime, **kw: Any) -> int:
        item = CircleSession(
            circle_id=where.id,
            title=title,
            starts_at=starts_at,
            timezone="Europe/London",
            duration_minutes=60,
            **kw,
        )
        session.add(item)
        session.flush()
        return item.id

    past = add_session(
        circle,
        "Past workshop",
        now - dt.timedelta(days=3),
        kind=SessionKind.WORKSHOP,
        presenter_id=people["ben"].id,
    )
    upcoming = add_session(circle, "Next meeting", now + dt.timedelta(days=5))
    kept = add_session(other, "Design review", now + dt.timedelta(days=6))
    session.add_all(
        [
            Rsvp(session_id=upcoming, user_id=people["ben"].id, response=RsvpResponse.YES),
            Rsvp(session_id=upcoming, user_id=people["cleo"].id, response=RsvpResponse.MAYBE),
            # An outsider who said yes sees the session in their feed too.
            Rsvp(session_id=upcoming, user_id=people["out"].id, response=RsvpResponse.YES),
            Rsvp(session_id=kept, user_id=people["cleo"].id, response=RsvpResponse.YES),
            Attendance(session_id=past, user_id=people["cleo"].id, present=True),
            WorkshopRating(session_id=past, user_id=people["cleo"].id, rating=5),
        ]
    )
    question = make_question(session, people["ben"])
    session.add(
        CircleResource(circle_id=circle.id, post_id=question.id, added_by_id=people["ben"].id)
    )
    session.add(CircleResource(circle_id=other.id, post_id=question.id))
    session.commit()
    return {
        "people": people,
        "circle": circle.id,
        "other": other.id,
        "sessions": (past, upcoming),
        "kept": kept,
        "question": question.id,
    }


def _login(app: Flask, username: str) -> Browser:
    browser = Browser(app.test_client())
    assert browser.login(username).status_code == 302
    return browser


def _rows(session: Session, circle_id: int) -> dict[str, int]:
    """How many rows of each circle table belong to ``circle_id``."""
    session.rollback()  # a fresh snapshot: see what the requests committed
    in_circle = select(CircleSession.id).where(CircleSession.circle_id == circle_id)
    queries = {
        "circles": select(func.count()).where(Circle.id == circle_id),
        "circle_members": select(func.count()).where(CircleMember.circle_id == circle_id),
        "circle_sessions": select(func.count()).where(CircleSession.circle_id == circle_id),
        "circle_rsvps": select(func.count()).where(Rsvp.session_id.in_(in_circle)),
        "circle_attendance": select(func.count()).where(Attendance.session_id.in_(in_circle)),
        "workshop_ratings": select(func.count()).where(WorkshopRating.session_id.in_(in_circle)),
        "circle_resources": select(func.count()).where(CircleResource.circle_id == circle_id),
        "circle_tags": select(func.count())
        .select_from(circle_tags)
        .where(circle_tags.c.circle_id == circle_id),
    }
    return {name: int(session.scalar(query) or 0) for name, query in queries.items()}


def _feed_titles(app: Flask, username: str) -> list[str]:
    browser = _login(app, username)
    page = browser.get("/circles/calendar").get_data(as_text=True)
    match = re.search(r"/circles/calendar/([^\"/]+)\.ics", page)
    assert match, page
    response = Browser(app.test_client()).get(f"/circles/calendar/{match.group(1)}.ics")
    assert response.status_code == 200
    return [str(e["SUMMARY"]) for e in Calendar.from_ical(response.get_data()).walk("VEVENT")]


def test_the_confirmation_page_says_what_goes(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    fran = _login(app, "fran")
    circle_id = world["circle"]
    detail = fran.get(f"/circles/{circle_id}").get_data(as_text=True)
    assert f'href="/circles/{circle_id}/delete"' in detail
    page = fran.get(f"/circles/{circle_id}/delete")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Delete Rust reading group?" in html
    assert "3 members are" in html and "2 sessions (1 still to come)" in html
    assert re.search(r'<input type="checkbox" name="confirm" value="yes" required>', html)
    assert f'action="/circles/{circle_id}/delete"' in html and 'name="csrf_token"' in html
    # Members who can't delete don't see the button.
    ben_view = _login(app, "ben").get(f"/circles/{circle_id}").get_data(as_text=True)
    assert f"/circles/{circle_id}/delete" not in ben_view


def test_without_the_box_ticked_nothing_is_deleted(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    before = _rows(session, world["circle"])
    response = _login(app, "fran").post(f"/circles/{world['circle']}/delete", {})
    assert response.status_code == 400
    assert "Tick the box to confirm" in response.get_data(as_text=True)
    assert _rows(session, world["circle"]) == before
    unticked = _login(app, "fran").post(f"/circles/{world['circle']}/delete", {"confirm": "no"})
    assert unticked.status_code == 400
    assert _rows(session, world["circle"]) == before


def test_the_facilitator_deletes_everything_in_the_circle(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    circle_id = world["circle"]
    assert "Next meeting (Rust reading group)" in _feed_titles(app, "ben")
    assert "Next meeting (Rust reading group)" in _feed_titles(app, "out")
    other_before = _rows(session, world["other"])
    fran = _login(app, "fran")

    response = fran.post(f"/circles/{circle_id}/delete", {"confirm": "yes"})

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/circles")
    assert "Rust reading group is deleted" in fran.get("/circles").get_data(as_text=True)
    assert _rows(session, circle_id) == {"circles": 0, **{t: 0 for t in CHILD_TABLES}}
    for item_id in world["sessions"]:
        assert fran.get(f"/circles/sessions/{item_id}").status_code == 404
    assert fran.get(f"/circles/{circle_id}").status_code == 404
    assert fran.get(f"/circles/{circle_id}/calendar.ics").status_code == 404
    # The other circle and the linked question are untouched.
    assert _rows(session, world["other"]) == other_before
    assert fran.get(f"/questions/{world['question']}").status_code == 200
    # No feed lists the deleted circle's sessions any more.
    for username in ("ben", "cleo", "out", "fran"):
        assert not [t for t in _feed_titles(app, username) if "Rust reading group" in t]
    assert _feed_titles(app, "cleo") == ["Design review (Design crit)"]
    # Nothing points at a missing row (PostgreSQL checks as it goes; SQLite on request).
    if session.get_bind().dialect.name == "sqlite":
        assert session.execute(text("PRAGMA foreign_key_check")).all() == []


def test_members_are_told_the_circle_was_closed(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    response = _login(app, "fran").post(f"/circles/{world['circle']}/delete", {"confirm": "yes"})
    assert response.status_code == 302
    session.rollback()
    told = session.execute(
        select(Notification.recipient_id, Notification.text, Notification.endpoint).where(
            Notification.text.contains("Rust reading group was closed")
        )
    ).all()
    people = world["people"]
    # Every member but the one who deleted it; outsiders hear nothing.
    assert sorted(r.recipient_id for r in told) == sorted([people["ben"].id, people["cleo"].id])
    assert {r.endpoint for r in told} == {"circles.index"}
    inbox = _login(app, "ben").get("/notifications").get_data(as_text=True)
    assert "Rust reading group was closed" in inbox


def test_an_admin_may_delete_any_circle(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    response = _login(app, "admin").post(f"/circles/{world['circle']}/delete", {"confirm": "yes"})
    assert response.status_code == 302
    assert _rows(session, world["circle"])["circles"] == 0
    fran_told = session.scalar(
        select(func.count()).where(
            Notification.recipient_id == world["people"]["fran"].id,
            Notification.text.contains("was closed"),
        )
    )
    assert fran_told == 1


@pytest.mark.parametrize("username", ["ben", "out", "mod"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_members_outsiders_and_moderators_are_refused(
    app: Flask, session: Session, world: dict[str, Any], username: str, method: str
) -> None:
    before = _rows(session, world["circle"])
    browser = _login(app, username)
    path = f"/circles/{world['circle']}/delete"
    response = browser.get(path) if method == "GET" else browser.post(path, {"confirm": "yes"})
    assert response.status_code == 403
    assert "facilitator or an admin can delete it." in response.get_data(as_text=True)
    assert _rows(session, world["circle"]) == before


def test_visitors_unknown_circles_and_missing_csrf(
    app: Flask, session: Session, world: dict[str, Any]
) -> None:
    path = f"/circles/{world['circle']}/delete"
    visitor = Browser(app.test_client())
    for response in (visitor.get(path), visitor.post(path, {"confirm": "yes"})):
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    fran = _login(app, "fran")
    assert fran.get("/circles/9999/delete").status_code == 404
    assert fran.post("/circles/9999/delete", {"confirm": "yes"}).status_code == 404
    forged = fran.client.post(path, data={"confirm": "yes", "csrf_token": "forged"})
    assert forged.status_code == 400
    assert _rows(session, world["circle"])["circles"] == 1
