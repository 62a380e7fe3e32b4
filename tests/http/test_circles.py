"""Learning circles through the test client: starting and joining circles, a full circle,
scheduling in a time zone, RSVPs (closed once a session has started), workshop ratings,
resources, who may change what, and the calendar feeds a calendar app subscribes to."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

import pytest
from flask import Flask
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.models import BadgeAward, Circle, CircleMember, CircleSession, Role, Rsvp
from tests.conftest import Browser
from tests.factories import make_question, make_user


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Members here may create tags (the tag policy is tested in test_tag_policy.py)."""
    return {**app_config, "REPUTATION_THRESHOLDS": {"create_tags": 0}}


CIRCLE = {
    "name": "Rust reading group",
    "description": "We read **one chapter** a week.",
    "tags": "rust reading",
    "size_limit": "3",
}


@pytest.fixture
def people(session: Session) -> dict[str, Any]:
    found = {
        name: make_user(session, name, display_name=name.capitalize() + " Tester")
        for name in ("fran", "ben", "cleo", "dan")
    }
    found["mod"] = make_user(session, "mod", role=Role.MODERATOR)
    session.commit()
    return found


def _login(app: Flask, username: str) -> Browser:
    browser = Browser(app.test_client())
    assert browser.login(username).status_code == 302
    return browser


def _new_circle(browser: Browser, **overrides: str) -> int:
    response = browser.post("/circles/new", {**CIRCLE, **overrides})
    assert response.status_code == 302, response.get_data(as_text=True)
    match = re.search(r"/circles/(\d+)$", response.headers["Location"])
    assert match
    return int(match.group(1))


def _schedule(browser: Browser, circle_id: int, **overrides: str) -> Any:
    start = (utcnow() + dt.timedelta(days=7)).astimezone(zoneinfo.ZoneInfo("Europe/London"))
    form = {
        "title": "Chapter 3: ownership",
        "kind": "meeting",
        "date": start.strftime("%Y-%m-%d"),
        "time": "18:30",
        "timezone": "Europe/London",
        "duration_minutes": "90",
        "location": "Room 4.12",
        "link": "https://meet.example.com/rust",
        "agenda": "1. Borrowing\n2. *Lifetimes*",
        "presenter": "",
        **overrides,
    }
    return browser.post(f"/circles/{circle_id}/sessions/new", form)


def _session_id(response: Any) -> int:
    match = re.search(r"/circles/sessions/(\d+)$", response.headers["Location"])
    assert match, response.status_code
    return int(match.group(1))


def test_list_and_detail_pages(app: Flask, session: Session, people: dict[str, Any]) -> None:
    fran = _login(app, "fran")
    circle_id = _new_circle(fran)
    _new_circle(fran, name="SQL lunch", tags="sql", size_limit="2")
    page = fran.get("/circles").get_data(as_text=True)
    assert "Rust reading group" in page and "SQL lunch" in page
    filtered = fran.get("/circles?tag=sql").get_data(as_text=True)
    assert "SQL lunch" in filtered and "Rust reading group" not in filtered
    detail = fran.get(f"/circles/{circle_id}")
    assert detail.status_code == 200
    html = detail.get_data(as_text=True)
    assert "<strong>one chapter</strong>" in html and "Fran Tester" in html
    assert "1 of 3 seats taken" in html
    assert Browser(app.test_client()).get(f"/circles/{circle_id}").status_code == 200
    assert fran.get("/circles/9999").status_code == 404


def test_bad_circle_form_keeps_the_text(app: Flask, people: dict[str, Any]) -> None:
    fran = _login(app, "fran")
    response = fran.post("/circles/new", {**CIRCLE, "name": "x", "size_limit": "1"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "We read **one chapter** a week." in html
    assert "room for 2 to 50 members" in html


def test_visitors_are_sent_to_log_in(app: Flask, people: dict[str, Any]) -> None:
    visitor = Browser(app.test_client())
    response = visitor.post("/circles/new", CIRCLE)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_joining_a_full_circle_is_refused_clearly(
    app: Flask, session: Session, people: dict[str, Any]
) -> None:
    circle_id = _new_circle(_login(app, "fran"), size_limit="2")
    assert _login(app, "ben").post(f"/circles/{circle_id}/join").status_code == 302
    response = _login(app, "cleo").post(f"/circles/{circle_id}/join")
    assert response.status_code == 409
    assert "This circle is full" in response.get_data(as_text=True)
    members = session.scalars(
        select(CircleMember.user_id).where(CircleMember.circle_id == circle_id)
    )
    assert set(members) == {people["fran"].id, people["ben"].id}


def test_leaving(app: Flask, session: Session, people: dict[str, Any]) -> None:
    circle_id = _new_circle(_login(app, "fran"))
    ben = _login(app, "ben")
    ben.post(f"/circles/{circle_id}/join")
    assert ben.post(f"/circles/{circle_id}/leave").status_code == 302
    session.commit()
    assert session.get(CircleMember, (circle_id, people["ben"].id)) is None
    response = _login(app, "fran").post(f"/circles/{circle_id}/leave")
    assert response.status_code == 409
    assert "Hand the circle over" in response.get_data(as_text=True)


def test_only_facilitator_or_moderator_edits(
    app: Flask, session: Session, people: dict[str, Any]
) -> None:
    circle_id = _new_circle(_login(app, "fran"))
    ben = _login(app, "ben")
    ben.post(f"/circles/{circle_id}/join")
    edit = {**CIRCLE, "name": "Taken over"}
    assert ben.get(f"/circles/{circle_id}/edit").status_code == 403
    assert ben.post(f"/circles/{circle_id}/edit", edit).status_code == 403
    assert ben.post(f"/circles/{circle_id}/hand-over", {"username": "ben"}).status_code == 403
    assert _schedule(ben, circle_id).status_code == 403
    circle = session.get(Circle, circle_id)
    assert circle is not None and circle.name == "Rust reading group"
    mod = _login(app, "mod")
    assert mod.post(f"/circles/{circle_id}/edit", {**edit, "name": "Moderated"}).status_code == 302
    fran = _login(app, "fran")
    outsider = fran.post(f"/circles/{circle_id}/hand-over", {"username": "dan"})
    assert outsider.status_code == 400
    assert "Choose a member of this circle" in outsider.get_data(as_text=True)
    assert fran.post(f"/circles/{circle_id}/hand-over", {"username": "ben"}).status_code == 302
    session.commit()  # a new transaction sees the requests' changes
    session.expire_all()
    circle = session.get(Circle, circle_id)
    assert circle is not None and circle.name == "Moderated"
    assert circle.facilitator_id == people["ben"].id


def test_scheduling_in_a_time_zone_and_answering(
    app: Flask, session: Session, people: dict[str, Any]
) -> None:
    fran = _login(app, "fran")
    circle_id = _new_circle(fran)
    ben = _login(app, "ben")
    ben.post(f"/circles/{circle_id}/join")
    response = _schedule(
        fran, circle_id, date="2031-07-01", time="18:30", timezone="America/New_York"
    )
    session_id = _session_id(response)
    item = session.get(CircleSession, session_id)
    assert item is not None
    starts = item.starts_at.replace(tzinfo=item.starts_at.tzinfo or dt.UTC)
    assert starts == dt.datetime(2031, 7, 1, 22, 30, tzinfo=dt.UTC)
    page = ben.get(f"/circles/sessions/{session_id}").get_data(as_text=True)
    assert "18:30 EDT" in page and "<em>Lifetimes</em>" in page
    assert ben.post(f"/circles/sessions/{session_id}/rsvp", {"response": "yes"}).status_code == 302
    session.commit()
    rsvp = session.get(Rsvp, (session_id, people["ben"].id))
    assert rsvp is not None and rsvp.response.value == "yes"
    page = fran.get(f"/circles/sessions/{session_id}").get_data(as_text=True)
    assert "Yes (1)" in page and "Ben Tester" in page
    # Not a member: no answer.
    assert (
        _login(app, "dan")
        .post(f"/circles/sessions/{session_id}/rsvp", {"response": "yes"})
        .status_code
        == 403
    )


def test_bad_session_form_is_a_400_with_messages(app: Flask, people: dict[str, Any]) -> None:
    fran = _login(app, "fran")
    circle_id = _new_circle(fran)
    response = _schedule(
        fran, circle_id, timezone="Mars/Olympus", link="javascript:alert(1)", title="Kept title"
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Use a time-zone name" in html and "http:// or https://" in html
    assert 'value="Kept title"' in html
    form = fran.get(f"/circles/{circle_id}/sessions/new").get_data(as_text=True)
    assert 'value="Europe/London"' in form


def test_rsvp_to_a_past_session_is_a_clear_409(
    app: Flask, session: Session, people: dict[str, Any]
) -> None:
    fran = _login(app, "fran")
    circle_id = _new_circle(fran)
    ben = _login(app, "ben")
    ben.post(f"/circles/{circle_id}/join")
    session_id = _session_id(_schedule(fran, circle_id))
    item = session.get(CircleSession, session_id)
    assert item is not None
    item.starts_at = utcnow() - dt.timedelta(days=1)
    session.commit()
    response = ben.post(f"/circles/sessions/{session_id}/rsvp", {"response": "yes"})
    assert response.status_code == 409
    assert "already taken place" in response.get_data(as_text=True)
    session.commit()
    assert session.get(Rsvp, (session_id, people["ben"].id)) is None


def test_workshop_rating_and_host_badge(
    app: Flask, session: Session, people: dict[str, Any]
) -> None:
    fran = _login(app, "fran")
    circle_id = _new_circle(fran, size_limit="6")
    ben, cleo = _login(app, "ben"), _login(app, "cleo")
    ben.post(f"/circles/{circle_id}/join")
    cleo.post(f"/circles/{circle_id}/join")
    session_id = _session_id(
        _schedule(fran, circle_id, kind="workshop", presenter="ben", title="Async Rust")
    )
    cleo.post(f"/circles/sessions/{session_id}/rsvp", {"response": "yes"})
    early = cleo.post(f"/circles/sessions/{session_id}/rating", {"rating": "5"})
    assert early.status_code == 409 and "once it has ended" in early.get_data(as_text=True)
    item = session.get(CircleSession, session_id)
    assert item is not None
    item.starts_at = utcnow() - dt.timedelta(days=1)
    session.commit()
    assert ben.post(f"/circles/sessions/{session_id}/rating", {"rating": "5"}).status_code == 403
    bad = cleo.post(f"/circles/sessions/{session_id}/rating", {"rating": "", "comment": "Hm"})
    assert bad.status_code == 400 and "rating from 1 to 5" in bad.get_data(as_text=True)
    assert (
        cleo.post(
            f"/circles/sessions/{session_id}/rating", {"rating": "3", "comment": "Fast"}
        ).status_code
        == 302
    )
    assert (
        cleo.post(
            f"/circles/sessions/{session_id}/rating", {"rating": "4", "comment": "Great examples"}
        ).status_code
        == 302
    )
    assert fran.post(f"/circles/sessions/{session_id}/rating", {"rating": "5"}).status_code == 403
    ticked = {"present": [str(people["fran"].id), str(people["cleo"].id)]}
    assert fran.post(f"/circles/sessions/{session_id}/attendance", ticked).status_code == 302
    assert fran.post(f"/circles/sessions/{session_id}/rating", {"rating": "5"}).status_code == 302
    page = fran.get(f"/circles/sessions/{session_id}").get_data(as_text=True)
    assert "<strong>4.5</strong> out of 5 from 2 ratings" in page
    assert "Great examples" in page
    session.commit()
    held = session.scalars(
        select(BadgeAward.badge_key).where(BadgeAward.user_id == people["ben"].id)
    )
    assert "workshop_host" in set(held)


def test_only_attendees_rate_and_the_facilitator_marks_attendance(
    app: Flask, session: Session, people: dict[str, Any]
) -> None:
    fran = _login(app, "fran")
    circle_id = _new_circle(fran, size_limit="6")
    ben, cleo, dan = _login(app, "ben"), _login(app, "cleo"), _login(app, "dan")
    for member in (ben, cleo, dan):
        member.post(f"/circles/{circle_id}/join")
    session_id = _session_id(_schedule(fran, circle_id, kind="workshop", presenter="fran"))
    path = f"/circles/sessions/{session_id}"
    ben.post(f"{path}/rsvp", {"response": "yes"})
    cleo.post(f"{path}/rsvp", {"response": "yes"})
    cleo.post(f"{path}/rsvp", {"response": "no"})  # changed her mind
    early = fran.post(f"{path}/attendance", {"present": [str(people["ben"].id)]})
    assert early.status_code == 409 and "once the session has started" in early.get_data(
        as_text=True
    )
    item = session.get(CircleSession, session_id)
    assert item is not None
    item.starts_at = utcnow() - dt.timedelta(days=1)
    session.commit()

    assert ben.post(f"{path}/rating", {"rating": "4"}).status_code == 302  # said yes
    refused = cleo.post(f"{path}/rating", {"rating": "5"})
    assert refused.status_code == 403 and "attended" in refused.get_data(as_text=True)
    assert dan.post(f"{path}/rating", {"rating": "5"}).status_code == 403  # never answered
    assert "Save attendance" not in ben.get(path).get_data(as_text=True)
    assert ben.post(f"{path}/attendance", {"present": []}).status_code == 403
    assert fran.client.post(f"{path}/attendance", data={}).status_code == 400  # no CSRF token
    assert fran.post(f"{path}/attendance", {"present": ["x1"]}).status_code == 400
    stranger = make_user(session, "stranger")
    session.commit()
    assert fran.post(f"{path}/attendance", {"present": [str(stranger.id)]}).status_code == 400

    page = fran.get(path).get_data(as_text=True)
    assert "Save attendance" in page
    assert f'value="{people["ben"].id}" id="present-{people["ben"].id}" checked' in page
    assert f'value="{people["dan"].id}" id="present-{people["dan"].id}">' in page
    # Dan came without answering; Ben said yes but did not come.
    ticked = {"present": [str(people["dan"].id)]}
    assert fran.post(f"{path}/attendance", ticked).status_code == 302
    assert dan.post(f"{path}/rating", {"rating": "5"}).status_code == 302
    assert ben.post(f"{path}/rating", {"rating": "2"}).status_code == 403
    mod = _login(app, "mod")  # moderators record attendance too
    assert mod.post(f"{path}/attendance", {"present": [str(people["cleo"].id)]}).status_code == 302
    assert cleo.post(f"{path}/rating", {"rating": "5"}).status_code == 302


def test_notes_and_cancel(app: Flask, session: Session, people: dict[str, Any]) -> None:
    fran = _login(app, "fran")
    circle_id = _new_circle(fran)
    ben = _login(app, "ben")
    ben.post(f"/circles/{circle_id}/join")
    session_id = _session_id(_schedule(fran, circle_id))
    assert ben.post(f"/circles/sessions/{session_id}/notes", {"notes": "x"}).status_code == 403
    assert ben.post(f"/circles/sessions/{session_id}/cancel").status_code == 403
    assert (
        fran.post(
            f"/circles/sessions/{session_id}/notes", {"notes": "We read **ch. 3**."}
        ).status_code
        == 302
    )
    assert fran.post(f"/circles/sessions/{session_id}/cancel").status_code == 302
    page = ben.get(f"/circles/sessions/{session_id}").get_data(as_text=True)
    assert "<strong>ch. 3</strong>" in page and "This session is cancelled." in page
    again = fran.post(f"/circles/sessions/{session_id}/cancel")
    assert again.status_code == 409


def test_resources_on_the_circle_page(app: Flask, session: Session, people: dict[str, Any]) -> None:
    question = make_question(session, people["dan"], title="Why does the borrow checker complain?")
    session.commit()
    fran = _login(app, "fran")
    circle_id = _new_circle(fran)
    response = fran.post(
        f"/circles/{circle_id}/resources",
        {"reference": f"http://localhost/questions/{question.id}"},
    )
    assert response.status_code == 302
    page = fran.get(f"/circles/{circle_id}").get_data(as_text=True)
    assert "Why does the borrow checker complain?" in page
    bad = fran.post(f"/circles/{circle_id}/resources", {"reference": "nonsense"})
    assert bad.status_code == 400 and 'value="nonsense"' in bad.get_data(as_text=True)
    outsider = _login(app, "dan")
    assert (
        outsider.post(
            f"/circles/{circle_id}/resources", {"reference": str(question.id)}
        ).status_code
        == 403
    )


def _events(response: Any) -> list[Any]:
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.get_data())
    assert str(calendar["VERSION"]) == "2.0" and "PRODID" in calendar
    return list(calendar.walk("VEVENT"))


def test_circle_calendar_feed(app: Flask, session: Session, people: dict[str, Any]) -> None:
    fran = _login(app, "fran")
    circle_id = _new_circle(fran)
    _schedule(fran, circle_id, date="2031-07-01", time="18:30", timezone="Europe/London")
    _schedule(fran, circle_id, date="2031-12-01", time="09:00", title="Winter session")
    events = _events(Browser(app.test_client()).get(f"/circles/{circle_id}/calendar.ics"))
    assert [str(e["SUMMARY"]) for e in events] == [
        "Chapter 3: ownership (Rust reading group)",
        "Winter session (Rust reading group)",
    ]
    summer, winter = (e.decoded("DTSTART") for e in events)
    assert summer.astimezone(dt.UTC) == dt.datetime(2031, 7, 1, 17, 30, tzinfo=dt.UTC)
    assert winter.astimezone(dt.UTC) == dt.datetime(2031, 12, 1, 9, 0, tzinfo=dt.UTC)
    assert events[0]["DTSTART"].params["TZID"] == "Europe/London"
    assert str(events[0]["URL"]) == "https://meet.example.com/rust"
    assert Browser(app.test_client()).get("/circles/999/calendar.ics").status_code == 404


def test_member_feed_by_secret_address(
    app: Flask, session: Session, people: dict[str, Any]
) -> None:
    fran = _login(app, "fran")
    mine = _new_circle(fran)
    other = _new_circle(_login(app, "cleo"), name="Design crit")
    _schedule(fran, mine, title="In my circle")
    _schedule(_login(app, "cleo"), other, title="Not mine")
    page = fran.get("/circles/calendar").get_data(as_text=True)
    match = re.search(r'value="(http://[^"]+/circles/calendar/([^"/]+)\.ics)"', page)
    assert match, page
    anonymous = Browser(app.test_client())
    events = _events(anonymous.get(f"/circles/calendar/{match.group(2)}.ics"))
    assert [str(e["SUMMARY"]) for e in events] == ["In my circle (Rust reading group)"]
    assert "/settings/feeds#calendar" in page
    fresh = fran.post("/settings/feeds/regenerate", {"which": "calendar", "confirm": "yes"})
    assert fresh.status_code == 302
    assert anonymous.get(f"/circles/calendar/{match.group(2)}.ics").status_code == 404
    assert anonymous.get("/circles/calendar/not-a-token.ics").status_code == 404
