"""Learning circles: membership and its limits, scheduling in time zones, RSVPs, workshop
ratings, resources, host badges and notifications."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.models import BadgeAward, Notification, Role, RsvpResponse, User
from forum.services import badges, circles
from forum.services.circles import CircleData, SessionData
from forum.services.errors import Conflict, Forbidden, ValidationError
from tests.factories import make_article, make_question, make_user


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """Members here may create tags (the tag policy is tested in test_tag_policy.py)."""
    return {**app_config, "REPUTATION_THRESHOLDS": {"create_tags": 0}}


def new_circle(session: Session, facilitator: User, **kw: Any) -> Any:
    data = CircleData(
        name=kw.pop("name", "Rust reading group"),
        description_md=kw.pop("description_md", "We read *one chapter* a week."),
        tags=kw.pop("tags", ["rust", "reading"]),
        size_limit=kw.pop("size_limit", 4),
    )
    return circles.create_circle(session, facilitator=facilitator, data=data)


def session_data(start: dt.datetime | None = None, **kw: Any) -> SessionData:
    """A meeting at ``start`` (London wall-clock time), next week by default."""
    start = start or (utcnow() + dt.timedelta(days=7)).replace(tzinfo=None)
    return SessionData(
        title=kw.pop("title", "Chapter 3: ownership"),
        kind=kw.pop("kind", "meeting"),
        date=kw.pop("date", start.date()),
        time=kw.pop("time", start.time().replace(second=0, microsecond=0)),
        timezone=kw.pop("timezone", "Europe/London"),
        duration_minutes=kw.pop("duration_minutes", 60),
        location=kw.pop("location", "Room 4.12"),
        link=kw.pop("link", "https://meet.example.com/rust"),
        agenda_md=kw.pop("agenda_md", "1. Borrowing\n2. **Lifetimes**"),
        presenter=kw.pop("presenter", ""),
    )


def past(item: Any, days: int = 2) -> None:
    """Move a session into the past (as if time had passed)."""
    item.starts_at = utcnow() - dt.timedelta(days=days)


@pytest.fixture
def people(session: Session) -> dict[str, User]:
    return {
        "fran": make_user(session, "fran"),
        "ben": make_user(session, "ben"),
        "cleo": make_user(session, "cleo"),
        "dan": make_user(session, "dan"),
        "eve": make_user(session, "eve"),
        "mod": make_user(session, "mod", role=Role.MODERATOR),
    }


def test_the_creator_facilitates_and_is_the_first_member(
    session: Session, people: dict[str, User]
) -> None:
    circle = new_circle(session, people["fran"])
    assert circle.facilitator_id == people["fran"].id
    assert circles.members(session, circle) == [people["fran"]]
    assert [t.name for t in circle.tags] == ["reading", "rust"]
    assert "<em>one chapter</em>" in circle.description_html


@pytest.mark.parametrize(
    ("field", "kw"),
    [
        ("name", {"name": "x"}),
        ("size_limit", {"size_limit": 1}),
        ("size_limit", {"size_limit": 500}),
        ("tags", {"tags": ["not a valid tag!"]}),
    ],
)
def test_bad_circle_input_names_the_field(
    session: Session, people: dict[str, User], field: str, kw: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError) as caught:
        new_circle(session, people["fran"], **kw)
    assert field in caught.value.errors


def test_joining_a_full_circle_is_a_conflict(session: Session, people: dict[str, User]) -> None:
    circle = new_circle(session, people["fran"], size_limit=3)
    circles.join(session, user=people["ben"], circle=circle)
    circles.join(session, user=people["cleo"], circle=circle)
    with pytest.raises(Conflict, match="full"):
        circles.join(session, user=people["dan"], circle=circle)
    assert circles.member_count(session, circle) == 3
    with pytest.raises(Conflict, match="already"):
        circles.join(session, user=people["ben"], circle=circle)


def test_leaving_frees_a_seat_but_the_facilitator_hands_over_first(
    session: Session, people: dict[str, User]
) -> None:
    circle = new_circle(session, people["fran"], size_limit=2)
    circles.join(session, user=people["ben"], circle=circle)
    circles.leave(session, user=people["ben"], circle=circle)
    circles.join(session, user=people["cleo"], circle=circle)
    with pytest.raises(Conflict, match="Hand the circle over"):
        circles.leave(session, user=people["fran"], circle=circle)
    circles.hand_over(session, actor=people["fran"], circle=circle, username="cleo")
    assert circle.facilitator_id == people["cleo"].id
    circles.leave(session, user=people["fran"], circle=circle)
    assert circles.members(session, circle) == [people["cleo"]]


def test_hand_over_only_to_a_member(session: Session, people: dict[str, User]) -> None:
    circle = new_circle(session, people["fran"])
    with pytest.raises(ValidationError):
        circles.hand_over(session, actor=people["fran"], circle=circle, username="dan")


def test_only_facilitator_or_moderator_edits_a_circle(
    session: Session, people: dict[str, User]
) -> None:
    circle = new_circle(session, people["fran"])
    circles.join(session, user=people["ben"], circle=circle)
    data = CircleData(name="Renamed circle", tags=["rust"], size_limit=6)
    with pytest.raises(Forbidden):
        circles.edit_circle(session, editor=people["ben"], circle=circle, data=data)
    circles.edit_circle(session, editor=people["mod"], circle=circle, data=data)
    assert circle.name == "Renamed circle" and circle.size_limit == 6


def test_size_limit_cannot_drop_below_the_members(
    session: Session, people: dict[str, User]
) -> None:
    circle = new_circle(session, people["fran"])
    circles.join(session, user=people["ben"], circle=circle)
    circles.join(session, user=people["cleo"], circle=circle)
    data = CircleData(name=circle.name, tags=["rust"], size_limit=2)
    with pytest.raises(ValidationError) as caught:
        circles.edit_circle(session, editor=people["fran"], circle=circle, data=data)
    assert "already has 3 members" in caught.value.errors["size_limit"][0]


def test_list_filters_by_tag_and_open_seats(session: Session, people: dict[str, User]) -> None:
    rust = new_circle(session, people["fran"], name="Rust circle", size_limit=2)
    circles.join(session, user=people["ben"], circle=rust)
    sql = new_circle(session, people["cleo"], name="SQL circle", tags=["sql"])
    assert [s.circle for s in circles.list_circles(session)] == [rust, sql]
    assert [s.circle for s in circles.list_circles(session, tag="rust")] == [rust]
    assert [s.circle for s in circles.list_circles(session, open_only=True)] == [sql]
    assert [s.open_seats for s in circles.list_circles(session)] == [0, 3]


def test_scheduling_converts_local_time_to_utc(session: Session, people: dict[str, User]) -> None:
    circle = new_circle(session, people["fran"])
    summer = dt.datetime(2031, 7, 1, 18, 30)
    item = circles.schedule(session, actor=people["fran"], circle=circle, data=session_data(summer))
    assert circles.aware(item.starts_at) == dt.datetime(2031, 7, 1, 17, 30, tzinfo=dt.UTC)
    winter = circles.schedule(
        session,
        actor=people["fran"],
        circle=circle,
        data=session_data(dt.datetime(2031, 12, 1, 18, 30), timezone="America/New_York"),
    )
    assert circles.aware(winter.starts_at) == dt.datetime(2031, 12, 1, 23, 30, tzinfo=dt.UTC)
    assert circles.local_start(winter).strftime("%H:%M %Z") == "18:30 EST"
    assert "<strong>Lifetimes</strong>" in item.agenda_html


@pytest.mark.parametrize(
    ("field", "kw"),
    [
        ("timezone", {"timezone": "Mars/Olympus"}),
        ("link", {"link": "javascript:alert(1)"}),
        ("link", {"link": "ftp://files.example.com/x"}),
        ("duration_minutes", {"duration_minutes": 0}),
        ("title", {"title": ""}),
        ("kind", {"kind": "party"}),
        ("presenter", {"kind": "workshop", "presenter": "nobody"}),
        ("date", {"date": None}),
    ],
)
def test_bad_session_input_names_the_field(
    session: Session, people: dict[str, User], field: str, kw: dict[str, Any]
) -> None:
    circle = new_circle(session, people["fran"])
    with pytest.raises(ValidationError) as caught:
        circles.schedule(session, actor=people["fran"], circle=circle, data=session_data(**kw))
    assert field in caught.value.errors


def test_a_time_skipped_by_the_clock_change_is_refused(
    session: Session, people: dict[str, User]
) -> None:
    circle = new_circle(session, people["fran"])
    gap = dt.datetime(2031, 3, 30, 1, 30)  # UK clocks jump from 01:00 to 02:00
    with pytest.raises(ValidationError) as caught:
        circles.schedule(session, actor=people["fran"], circle=circle, data=session_data(gap))
    assert "clocks change" in caught.value.errors["time"][0]


def test_only_the_facilitator_or_a_moderator_schedules(
    session: Session, people: dict[str, User]
) -> None:
    circle = new_circle(session, people["fran"])
    circles.join(session, user=people["ben"], circle=circle)
    with pytest.raises(Forbidden):
        circles.schedule(session, actor=people["ben"], circle=circle, data=session_data())
    assert circles.schedule(session, actor=people["mod"], circle=circle, data=session_data())


def test_rsvp_by_members_before_the_session(session: Session, people: dict[str, User]) -> None:
    circle = new_circle(session, people["fran"])
    circles.join(session, user=people["ben"], circle=circle)
    circles.join(session, user=people["cleo"], circle=circle)
    item = circles.schedule(session, actor=people["fran"], circle=circle, data=session_data())
    circles.rsvp(session, user=people["ben"], item=item, response="yes")
    circles.rsvp(session, user=people["cleo"], item=item, response="maybe")
    circles.rsvp(session, user=people["cleo"], item=item, response="no")
    grouped = circles.attendees(session, item)
    assert grouped[RsvpResponse.YES] == [people["ben"]]
    assert grouped[RsvpResponse.NO] == [people["cleo"]]
    assert grouped[RsvpResponse.MAYBE] == []
    with pytest.raises(Forbidden, match="Join the circle"):
        circles.rsvp(session, user=people["dan"], item=item, response="yes")
    with pytest.raises(ValidationError):
        circles.rsvp(session, user=people["ben"], item=item, response="perhaps")


def test_rsvp_to_a_past_or_cancelled_session_is_a_conflict(
    session: Session, people: dict[str, User]
) -> None:
    circle = new_circle(session, people["fran"])
    circles.join(session, user=people["ben"], circle=circle)
    done = circles.schedule(session, actor=people["fran"], circle=circle, data=session_data())
    past(done)
    with pytest.raises(Conflict, match="already taken place"):
        circles.rsvp(session, user=people["ben"], item=done, response="yes")
    later = circles.schedule(session, actor=people["fran"], circle=circle, data=session_data())
    circles.cancel_session(session, actor=people["fran"], item=later)
    assert later.sequence == 1
    with pytest.raises(Conflict, match="cancelled"):
        circles.rsvp(session, user=people["ben"], item=later, response="yes")


def test_editing_a_session_bumps_its_sequence(session: Session, people: dict[str, User]) -> None:
    circle = new_circle(session, people["fran"])
    item = circles.schedule(session, actor=people["fran"], circle=circle, data=session_data())
    circles.edit_session(
        session, actor=people["fran"], item=item, data=session_data(title="Chapter 4: traits")
    )
    assert item.sequence == 1 and item.title == "Chapter 4: traits"


def test_notes_by_facilitator_or_presenter(session: Session, people: dict[str, User]) -> None:
    circle = new_circle(session, people["fran"])
    circles.join(session, user=people["ben"], circle=circle)
    circles.join(session, user=people["cleo"], circle=circle)
    item = circles.schedule(
        session,
        actor=people["fran"],
        circle=circle,
        data=session_data(kind="workshop", presenter="ben"),
    )
    circles.record_notes(session, actor=people["ben"], item=item, notes_md="We covered **X**.")
    assert item.notes_html is not None and "<strong>X</strong>" in item.notes_html
    with pytest.raises(Forbidden):
        circles.record_notes(session, actor=people["cleo"], item=item, notes_md="Mine")


def _workshop(session: Session, people: dict[str, User]) -> Any:
    circle = new_circle(session, people["fran"], size_limit=10)
    for name in ("ben", "cleo", "dan", "eve"):
        circles.join(session, user=people[name], circle=circle)
    return circles.schedule(
        session,
        actor=people["fran"],
        circle=circle,
        data=session_data(kind="workshop", presenter="ben", title="Intro to async Rust"),
    )


def _present(
    session: Session, people: dict[str, User], item: Any, *names: str, extra: User | None = None
) -> None:
    ids = {people[n].id for n in names} | ({extra.id} if extra else set())
    circles.mark_attendance(session, actor=people["fran"], item=item, present_ids=ids)


def test_workshops_are_rated_after_they_end_once_each(
    session: Session, people: dict[str, User]
) -> None:
    item = _workshop(session, people)
    with pytest.raises(Conflict, match="once it has ended"):
        circles.rate(session, user=people["cleo"], item=item, rating=5)
    past(item)
    with pytest.raises(Forbidden, match="Presenters"):
        circles.rate(session, user=people["ben"], item=item, rating=5)
    with pytest.raises(Forbidden, match="attended"):
        circles.rate(session, user=people["mod"], item=item, rating=5)
    with pytest.raises(Forbidden, match="attended"):  # a member who did not come
        circles.rate(session, user=people["cleo"], item=item, rating=5)
    _present(session, people, item, "cleo", "dan")
    with pytest.raises(ValidationError):
        circles.rate(session, user=people["cleo"], item=item, rating=6)
    circles.rate(session, user=people["cleo"], item=item, rating=3, comment="Too fast")
    circles.rate(session, user=people["cleo"], item=item, rating=4, comment="Better on reread")
    circles.rate(session, user=people["dan"], item=item, rating=5)
    summary = circles.ratings_of(session, item)
    assert summary.count == 2 and summary.average == 4.5
    assert [r.comment for r in summary.ratings] == ["Better on reread", None]


def test_meetings_are_not_rated(session: Session, people: dict[str, User]) -> None:
    circle = new_circle(session, people["fran"])
    circles.join(session, user=people["ben"], circle=circle)
    item = circles.schedule(session, actor=people["fran"], circle=circle, data=session_data())
    past(item)
    with pytest.raises(Conflict, match="Only workshops"):
        circles.rate(session, user=people["ben"], item=item, rating=4)


def test_host_badges(session: Session, people: dict[str, User]) -> None:
    item = _workshop(session, people)
    raters = [people[n] for n in ("cleo", "dan", "eve", "fran")]
    extra = make_user(session, "gil")
    circles.join(session, user=extra, circle=item.circle)
    badges.award(session, [people["ben"].id])
    assert _badge_keys(session, people["ben"]) == set()  # not happened yet
    past(item)
    _present(session, people, item, "cleo", "dan", "eve", "fran", extra=extra)
    for rater in [*raters, extra]:
        circles.rate(session, user=rater, item=item, rating=5 if rater is not extra else 3)
    badges.award(session, [people["ben"].id])
    # average (5*4 + 3) / 5 = 4.6 from 5 ratings
    assert _badge_keys(session, people["ben"]) == {"workshop_host", "popular_host"}
    assert badges.BADGES["popular_host"].tier is badges.Tier.SILVER


def test_four_great_ratings_are_not_yet_popular(session: Session, people: dict[str, User]) -> None:
    item = _workshop(session, people)
    past(item)
    _present(session, people, item, "cleo", "dan", "eve", "fran")
    for name in ("cleo", "dan", "eve", "fran"):
        circles.rate(session, user=people[name], item=item, rating=5)
    badges.award(session, [people["ben"].id])
    assert _badge_keys(session, people["ben"]) == {"workshop_host"}


def test_a_cancelled_workshop_earns_nothing(session: Session, people: dict[str, User]) -> None:
    item = _workshop(session, people)
    circles.cancel_session(session, actor=people["fran"], item=item)
    past(item)
    badges.award(session, [people["ben"].id])
    assert _badge_keys(session, people["ben"]) == set()


def _badge_keys(session: Session, user: User) -> set[str]:
    rows = session.scalars(
        select(BadgeAward.badge_key).where(
            BadgeAward.user_id == user.id,
            BadgeAward.badge_key.in_(["workshop_host", "popular_host"]),
        )
    )
    return set(rows)


def test_resources_by_address_or_number(session: Session, people: dict[str, User]) -> None:
    circle = new_circle(session, people["fran"])
    circles.join(session, user=people["ben"], circle=circle)
    article = make_article(session, people["cleo"], title="Ownership in pictures")
    question = make_question(session, people["dan"], title="Why does the borrow checker complain?")
    circles.add_resource(
        session, actor=people["ben"], circle=circle, reference=f"http://x/articles/{article.slug}"
    )
    circles.add_resource(
        session,
        actor=people["fran"],
        circle=circle,
        reference=f"https://forum.example/questions/{question.id}/why-does",
    )
    assert {r.post_id for r in circles.resources_of(session, circle)} == {article.id, question.id}
    with pytest.raises(ValidationError, match="already linked"):
        circles.add_resource(session, actor=people["ben"], circle=circle, reference=str(article.id))
    with pytest.raises(ValidationError):
        circles.add_resource(session, actor=people["ben"], circle=circle, reference="#999999")
    with pytest.raises(Forbidden):
        circles.add_resource(session, actor=people["eve"], circle=circle, reference="1")
    first = circles.resources_of(session, circle)[0]
    with pytest.raises(Forbidden):
        circles.remove_resource(session, actor=people["ben"], circle=circle, resource_id=first.id)
    circles.remove_resource(session, actor=people["fran"], circle=circle, resource_id=first.id)
    assert len(circles.resources_of(session, circle)) == 1


def test_member_feed_has_own_circles_and_yes_answers(
    session: Session, people: dict[str, User]
) -> None:
    mine = new_circle(session, people["fran"], name="Mine")
    other = new_circle(session, people["cleo"], name="Other")
    circles.join(session, user=people["ben"], circle=other)
    a = circles.schedule(session, actor=people["fran"], circle=mine, data=session_data())
    b = circles.schedule(session, actor=people["cleo"], circle=other, data=session_data())
    assert circles.member_feed(session, people["fran"]) == [a]
    assert circles.member_feed(session, people["ben"]) == [b]
    token = circles.calendar_token(session, people["fran"])
    assert circles.calendar_token(session, people["fran"]) == token
    assert circles.member_by_token(session, token) == people["fran"]
    fresh = circles.regenerate_calendar_token(session, people["fran"])
    assert fresh != token
    with pytest.raises(circles.NotFound):
        circles.member_by_token(session, token)


def test_members_are_notified_of_a_new_session(session: Session, people: dict[str, User]) -> None:
    circle = new_circle(session, people["fran"])
    circles.join(session, user=people["ben"], circle=circle)
    item = circles.schedule(session, actor=people["fran"], circle=circle, data=session_data())
    rows = session.scalars(select(Notification).where(Notification.kind == "circle_session"))
    sent = [(n.recipient_id, n.endpoint, n.params) for n in rows]
    assert sent == [(people["ben"].id, "circles.session_detail", {"session_id": item.id})]
