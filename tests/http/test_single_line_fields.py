"""Single-line fields refuse control characters; one bad session never breaks a calendar feed."""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
import re
import zoneinfo
from typing import Any

import pytest
from flask import Flask
from icalendar import Calendar
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

import forum.forms
from forum.db import utcnow
from forum.forms import BaseForm, is_single_line
from forum.models import Circle, CircleSession
from forum.services import accounts, articles, circles, questions
from forum.services.circles import CircleData, SessionData
from forum.services.errors import ValidationError
from forum.services.text import SINGLE_LINE_MESSAGE
from tests.conftest import Browser
from tests.factories import make_user

BAD_VALUES = ["a\r\nX-Injected: 1", "a\nb", "a\rb", "a\tb", "a\x1bb", "a\x85b", "a\u2028b"]


def _all_forms() -> list[type[BaseForm]]:
    for module in pkgutil.iter_modules(forum.forms.__path__):
        importlib.import_module(f"forum.forms.{module.name}")
    found: list[type[BaseForm]] = []
    pending = list(BaseForm.__subclasses__())
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(found, key=lambda c: c.__qualname__)


def _single_line_fields(app: Flask) -> list[tuple[type[BaseForm], str]]:
    fields = []
    with app.test_request_context(method="POST"):
        for cls in _all_forms():
            form = cls(meta={"csrf": False})
            fields += [(cls, f.name) for f in form if is_single_line(f)]
    return fields


def test_every_single_line_field_of_every_form_refuses_control_characters(app: Flask) -> None:
    fields = _single_line_fields(app)
    names = {(cls.__name__, name) for cls, name in fields}
    # The fields the feeds, headers and e-mails are made of are among them.
    assert {("SessionForm", "link"), ("SessionForm", "location"), ("CircleForm", "name")} <= names
    assert {("RegisterForm", "display_name"), ("AskForm", "title")} <= names
    for cls, name in fields:
        for bad in BAD_VALUES:
            with app.test_request_context(method="POST", data={name: bad}):
                form = cls(meta={"csrf": False})
                assert not form.validate(), (cls.__name__, name, bad)
                assert SINGLE_LINE_MESSAGE in form[name].errors, (cls.__name__, name, bad)


def test_multi_line_fields_and_passwords_keep_their_line_breaks(app: Flask) -> None:
    with app.test_request_context(
        method="POST", data={"notes": "Line one\r\nLine two\ttabbed", "csrf_token": "x"}
    ):
        from forum.forms.circles import NotesForm

        form = NotesForm(meta={"csrf": False})
        assert form.validate() and form.notes.data == "Line one\r\nLine two\ttabbed"


# --- learning circles, through the pages -----------------------------------------------------


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Members here may create tags (the tag policy is tested in test_tag_policy.py)."""
    return {**app_config, "REPUTATION_THRESHOLDS": {"create_tags": 0}}


@pytest.fixture
def fran(app: Flask, session: Session) -> Browser:
    make_user(session, "fran", display_name="Fran Tester")
    make_user(session, "ben", display_name="Ben Tester")
    session.commit()
    browser = Browser(app.test_client())
    assert browser.login("fran").status_code == 302
    return browser


def _session_form(**overrides: str) -> dict[str, str]:
    start = (utcnow() + dt.timedelta(days=7)).astimezone(zoneinfo.ZoneInfo("Europe/London"))
    return {
        "title": "Chapter 3: ownership",
        "kind": "meeting",
        "date": start.strftime("%Y-%m-%d"),
        "time": "18:30",
        "timezone": "Europe/London",
        "duration_minutes": "90",
        "location": "Room 4.12",
        "link": "https://meet.example.com/rust",
        "agenda": "1. Borrowing\n2. Lifetimes",
        **overrides,
    }


def _new_circle(browser: Browser, name: str = "Rust reading group") -> int:
    response = browser.post(
        "/circles/new", {"name": name, "description": "", "tags": "rust", "size_limit": "5"}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    match = re.search(r"/circles/(\d+)$", response.headers["Location"])
    assert match
    return int(match.group(1))


@pytest.mark.parametrize("field", ["link", "title", "location"])
@pytest.mark.parametrize("bad", ["\r\n", "\n", "\t"], ids=["crlf", "lf", "tab"])
def test_a_session_field_with_a_control_character_is_refused_and_kept(
    fran: Browser, session: Session, field: str, bad: str
) -> None:
    circle_id = _new_circle(fran)
    value = f"https://meet.example.com/a{bad}X-Evil:1" if field == "link" else f"Two{bad}lines"
    response = fran.post(f"/circles/{circle_id}/sessions/new", _session_form(**{field: value}))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "control characters" in page
    assert 'value="Chapter 3: ownership"' in page or field == "title"
    assert session.scalar(select(func.count()).select_from(CircleSession)) == 0


def test_a_circle_name_with_a_line_break_is_refused(fran: Browser, session: Session) -> None:
    response = fran.post(
        "/circles/new",
        {"name": "Rust\r\nX-WR-CALNAME:evil", "description": "", "tags": "rust", "size_limit": "5"},
    )
    assert response.status_code == 400
    assert "control characters" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Circle)) == 0


def test_services_refuse_control_characters_without_a_form(session: Session) -> None:
    fran = make_user(session, "fran")
    with pytest.raises(ValidationError) as caught:
        circles.create_circle(session, facilitator=fran, data=CircleData(name="A\nB", tags=["x"]))
    assert "name" in caught.value.errors
    circle = circles.create_circle(
        session, facilitator=fran, data=CircleData(name="Rust", tags=["rust"])
    )
    base = {
        "title": "Ownership",
        "kind": "meeting",
        "date": dt.date(2031, 7, 1),
        "time": dt.time(18, 30),
        "timezone": "Europe/London",
    }
    for field, value in (
        ("link", "https://meet.example.com/x\r\nX-Evil: 1"),
        ("link", "https://meet.example.com/x y"),
        ("title", "Own\u2028ership"),
        ("location", "Room\t4"),
    ):
        with pytest.raises(ValidationError) as caught:
            circles.schedule(
                session, actor=fran, circle=circle, data=SessionData(**{**base, field: value})
            )
        assert field in caught.value.errors, (field, value)


@pytest.mark.parametrize("bad", ["\x01", "\x1b[31m", "\x7f"], ids=["soh", "escape", "delete"])
def test_titles_and_names_refuse_control_characters_in_the_services(
    session: Session, bad: str
) -> None:
    author = make_user(session, "author")
    assert "title" in questions.validate(f"How do I read a{bad} query plan?", "Body text.", ["sql"])
    with pytest.raises(ValidationError) as caught:
        articles.create_article(
            session,
            author=author,
            data=articles.ArticleData(
                title=f"Reading{bad} plans", body_md="Text.", tags_text="sql", article_type="tip"
            ),
        )
    assert "title" in caught.value.errors
    profile = accounts.ProfileData(
        display_name="Ann", email="ann@example.com", department=f"Ops{bad}", job_title=f"Dev{bad}"
    )
    with pytest.raises(ValidationError) as caught:
        accounts.update_profile(session, author, profile)
    assert {"department", "job_title"} <= set(caught.value.errors)


def _events(response: Any) -> list[Any]:
    assert response.status_code == 200, response.status_code
    return list(Calendar.from_ical(response.get_data()).walk("VEVENT"))


def test_one_bad_stored_session_leaves_both_feeds_working(
    app: Flask, fran: Browser, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    circle_id = _new_circle(fran)
    for title in ("Good one", "Broken one", "Good two"):
        response = fran.post(f"/circles/{circle_id}/sessions/new", _session_form(title=title))
        assert response.status_code == 302
    # A value stored before links were checked (or written by another tool).
    session.execute(
        update(CircleSession)
        .where(CircleSession.title == "Broken one")
        .values(link="https://meet.example.com/x\r\nX-Evil: 1")
    )
    session.commit()

    anonymous = Browser(app.test_client())
    events = _events(anonymous.get(f"/circles/{circle_id}/calendar.ics"))
    assert sorted(str(e["SUMMARY"]) for e in events) == [
        "Good one (Rust reading group)",
        "Good two (Rust reading group)",
    ]
    assert "left out of the feed" in caplog.text

    page = fran.get("/circles/calendar").get_data(as_text=True)
    match = re.search(r"/circles/calendar/([^\"/]+)\.ics", page)
    assert match
    events = _events(anonymous.get(f"/circles/calendar/{match.group(1)}.ics"))
    assert len(events) == 2
