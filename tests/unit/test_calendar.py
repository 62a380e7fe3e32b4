"""Calendar feeds: the .ics text parses back with icalendar into the right events, times and
time zones, with stable UIDs, growing SEQUENCE numbers and cancelled events marked."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
from icalendar import Calendar
from sqlalchemy.orm import Session

from forum.services import calendar, circles
from forum.services.circles import CircleData, SessionData
from tests.factories import make_user


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Members here may create tags (the tag policy is tested in test_tag_policy.py)."""
    return {**app_config, "REPUTATION_THRESHOLDS": {"create_tags": 0}}


NOW = dt.datetime(2031, 1, 10, 9, 0, tzinfo=dt.UTC)


def _setup(session: Session) -> tuple[object, list[object]]:
    fran = make_user(session, "fran", display_name="Fran Okafor")
    ben = make_user(session, "ben", display_name="Ben Ng")
    circle = circles.create_circle(
        session, facilitator=fran, data=CircleData(name="Rust circle", tags=["rust"])
    )
    circles.join(session, user=ben, circle=circle)
    summer = circles.schedule(
        session,
        actor=fran,
        circle=circle,
        data=SessionData(
            title="Ownership",
            kind="meeting",
            date=dt.date(2031, 7, 1),
            time=dt.time(18, 30),
            timezone="Europe/London",
            duration_minutes=90,
            location="Room 4.12",
            agenda_md="1. Borrowing",
        ),
    )
    workshop = circles.schedule(
        session,
        actor=fran,
        circle=circle,
        data=SessionData(
            title="Async in practice",
            kind="workshop",
            date=dt.date(2031, 12, 2),
            time=dt.time(9, 0),
            timezone="America/New_York",
            duration_minutes=60,
            link="https://meet.example.com/async",
            presenter="ben",
        ),
    )
    return circle, [summer, workshop]


def _parse(data: bytes) -> Calendar:
    return Calendar.from_ical(data)


def test_feed_parses_back_with_events_times_and_zones(session: Session) -> None:
    circle, items = _setup(session)
    data = calendar.build_calendar("Rust circle", items, domain="forum.example", now=NOW)
    parsed = _parse(data)
    assert str(parsed["VERSION"]) == "2.0"
    assert str(parsed["PRODID"]) == calendar.PRODID
    events = parsed.walk("VEVENT")
    assert len(events) == 2
    summer, workshop = events

    start = summer.decoded("DTSTART")
    assert start == dt.datetime(2031, 7, 1, 18, 30, tzinfo=zoneinfo.ZoneInfo("Europe/London"))
    assert start.astimezone(dt.UTC) == dt.datetime(2031, 7, 1, 17, 30, tzinfo=dt.UTC)
    assert summer["DTSTART"].params["TZID"] == "Europe/London"
    assert summer.decoded("DTEND") - start == dt.timedelta(minutes=90)
    assert str(summer["SUMMARY"]) == "Ownership (Rust circle)"
    assert str(summer["LOCATION"]) == "Room 4.12"
    assert "1. Borrowing" in str(summer["DESCRIPTION"])
    assert str(summer["STATUS"]) == "CONFIRMED"
    assert summer.decoded("DTSTAMP") == NOW

    assert workshop["DTSTART"].params["TZID"] == "America/New_York"
    assert workshop.decoded("DTSTART").astimezone(dt.UTC) == dt.datetime(
        2031, 12, 2, 14, 0, tzinfo=dt.UTC
    )
    assert str(workshop["URL"]) == "https://meet.example.com/async"
    assert "Presented by Ben Ng" in str(workshop["DESCRIPTION"])

    zones = {str(tz["TZID"]) for tz in parsed.walk("VTIMEZONE")}
    assert zones == {"Europe/London", "America/New_York"}
    assert b"\r\n" in data and b"BEGIN:VCALENDAR" in data


def test_uid_is_stable_and_sequence_grows_with_changes(session: Session) -> None:
    circle, items = _setup(session)
    first = _parse(calendar.build_calendar("c", items, domain="forum.example", now=NOW))
    meeting = items[0]
    fran = meeting.circle.facilitator  # type: ignore[attr-defined]
    circles.edit_session(
        session,
        actor=fran,
        item=meeting,  # type: ignore[arg-type]
        data=SessionData(
            title="Ownership, again",
            kind="meeting",
            date=dt.date(2031, 7, 2),
            time=dt.time(18, 30),
            timezone="Europe/London",
        ),
    )
    circles.cancel_session(session, actor=fran, item=items[1])  # type: ignore[arg-type]
    second = _parse(calendar.build_calendar("c", items, domain="forum.example", now=NOW))
    before = {str(e["UID"]): e for e in first.walk("VEVENT")}
    after = {str(e["UID"]): e for e in second.walk("VEVENT")}
    assert before.keys() == after.keys()
    assert len(after) == 2
    uid = calendar.event_uid(meeting, "forum.example")  # type: ignore[arg-type]
    assert int(before[uid]["SEQUENCE"]) == 0 and int(after[uid]["SEQUENCE"]) == 1
    assert after[uid].decoded("DTSTART").date() == dt.date(2031, 7, 2)
    cancelled = after[calendar.event_uid(items[1], "forum.example")]  # type: ignore[arg-type]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert int(cancelled["SEQUENCE"]) == 1


def test_empty_feed_is_still_a_valid_calendar(session: Session) -> None:
    parsed = _parse(calendar.build_calendar("Nothing yet", [], domain="forum.example"))
    assert parsed.name == "VCALENDAR"
    assert parsed.walk("VEVENT") == []
    assert str(parsed["X-WR-CALNAME"]) == "Nothing yet"
