"""Learning circles: membership, scheduled meetings and peer-led workshops, RSVPs, ratings.

A circle has a facilitator (its creator until they hand it over) and members up to a size
limit. The facilitator (or a moderator) schedules sessions: meetings, or workshops where one
member presents. Members answer yes, maybe or no until a session starts; after a workshop
ends, the people who attended rate it 1–5: those who said yes, unless the facilitator's
attendance checklist marks them absent, and those it marks present. Hosts earn two badges:

* **Workshop Host** (bronze): presented a workshop that has taken place (not cancelled).
* **Popular Host** (silver): presented a workshop rated by at least 5 colleagues with an
  average of 4.5 or more.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import zoneinfo
from collections.abc import Collection
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import and_, delete, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from forum import events
from forum.db import utcnow
from forum.markdown import MarkdownTooLarge, render_markdown
from forum.models import (
    Attendance,
    CalendarToken,
    Circle,
    CircleMember,
    CircleResource,
    CircleSession,
    Post,
    PostKind,
    Rsvp,
    RsvpResponse,
    SessionKind,
    Tag,
    User,
    WorkshopRating,
    circle_tags,
)
from forum.services import badges, notifications
from forum.services import tags as tag_service
from forum.services.errors import Conflict, Forbidden, NotFound, ValidationError
from forum.services.text import has_control_characters, single_line_errors

NAME_MAX = 100
TITLE_MAX = 150
SIZE_MIN = 2
SIZE_MAX = 50
DURATION_MAX = 12 * 60
POPULAR_MIN_RATINGS = 5
POPULAR_MIN_AVERAGE = 4.5


def aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive UTC timestamps; make them aware."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _render(source: str, field_name: str) -> str:
    try:
        return render_markdown(source)
    except MarkdownTooLarge as exc:
        raise ValidationError({field_name: [str(exc)]}) from None


# --- permissions ------------------------------------------------------------------------------


def can_manage(user: User | None, circle: Circle) -> bool:
    """The facilitator and moderators edit a circle and schedule its sessions."""
    return user is not None and (user.id == circle.facilitator_id or user.is_moderator)


def _require_manager(user: User, circle: Circle) -> None:
    if not can_manage(user, circle):
        raise Forbidden("Only the circle's facilitator or a moderator can do that.")


def is_member(session: Session, user: User | None, circle: Circle) -> bool:
    """True when ``user`` belongs to ``circle``."""
    if user is None:
        return False
    return session.get(CircleMember, (circle.id, user.id)) is not None


# --- circles ----------------------------------------------------------------------------------


@dataclass
class CircleData:
    """What the circle form carries."""

    name: str
    description_md: str = ""
    tags: list[str] = field(default_factory=list)
    size_limit: int | None = 8


def _validate_circle(data: CircleData) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    name = (data.name or "").strip()
    if len(name) < 3:
        errors["name"] = ["Give the circle a name of at least 3 characters."]
    elif len(name) > NAME_MAX:
        errors["name"] = [f"Use at most {NAME_MAX} characters."]
    elif problems := single_line_errors(name):
        errors["name"] = problems
    if problems := tag_service.tag_errors(data.tags):
        errors["tags"] = problems
    if data.size_limit is None or not SIZE_MIN <= data.size_limit <= SIZE_MAX:
        errors["size_limit"] = [f"A circle has room for {SIZE_MIN} to {SIZE_MAX} members."]
    return errors


def _tags(session: Session, member: User, names: list[str]) -> list[Tag]:
    found = tag_service.resolve_for_attach(session, member, names)
    return sorted(found, key=lambda t: t.name)


def create_circle(session: Session, *, facilitator: User, data: CircleData) -> Circle:
    """Stage a new circle; its creator facilitates it and is its first member."""
    errors = _validate_circle(data)
    if errors:
        raise ValidationError(errors)
    circle = Circle(
        name=data.name.strip(),
        description_md=data.description_md or "",
        description_html=_render(data.description_md or "", "description"),
        facilitator=facilitator,
        facilitator_id=facilitator.id,
        size_limit=data.size_limit or 8,
        tags=_tags(session, facilitator, data.tags),
    )
    session.add(circle)
    session.flush()
    session.add(CircleMember(circle_id=circle.id, user_id=facilitator.id))
    session.flush()
    return circle


def get_circle(session: Session, circle_id: int) -> Circle:
    """A circle by id."""
    circle = session.get(Circle, circle_id)
    if circle is None:
        raise NotFound("There is no such circle.")
    return circle


def edit_circle(session: Session, *, editor: User, circle: Circle, data: CircleData) -> Circle:
    """Change a circle's name, description, tags or size (facilitator or moderator)."""
    _require_manager(editor, circle)
    errors = _validate_circle(data)
    count = member_count(session, circle)
    if data.size_limit is not None and "size_limit" not in errors and data.size_limit < count:
        errors["size_limit"] = [f"The circle already has {count} members."]
    if errors:
        raise ValidationError(errors)
    circle.name = data.name.strip()
    circle.description_md = data.description_md or ""
    circle.description_html = _render(circle.description_md, "description")
    circle.tags = _tags(session, editor, data.tags)
    circle.size_limit = data.size_limit or circle.size_limit
    session.flush()
    return circle


def hand_over(session: Session, *, actor: User, circle: Circle, username: str) -> User:
    """Make another member the facilitator."""
    _require_manager(actor, circle)
    new = session.scalar(select(User).where(User.username == (username or "").strip().lower()))
    if new is None or not is_member(session, new, circle):
        raise ValidationError({"username": ["Choose a member of this circle."]})
    circle.facilitator = new
    circle.facilitator_id = new.id
    session.flush()
    return new


def can_delete(user: User | None, circle: Circle) -> bool:
    """The facilitator and admins may close a circle for good."""
    return user is not None and (user.id == circle.facilitator_id or user.is_admin)


def delete_circle(session: Session, *, actor: User, circle: Circle) -> int:
    """Close a circle for good: its members are told, then its sessions, RSVPs, ratings,
    resources and memberships go with it. Returns how many members were notified."""
    if not can_delete(actor, circle):
        raise Forbidden("Only the circle's facilitator or an admin can delete it.")
    # The same row lock join() takes: nobody joins while the circle is being closed (PostgreSQL).
    session.execute(select(Circle.id).where(Circle.id == circle.id).with_for_update())
    told = 0
    for member in members(session, circle):
        sent = notifications.notify(
            session,
            recipient=member,
            kind="circle_session",
            text=f"The learning circle {circle.name} was closed; its sessions will not take place.",
            endpoint="circles.index",
            params={},
            actor=actor,
        )
        told += sent is not None
    # Children first, explicitly: the result is the same whether or not the database
    # enforces ON DELETE CASCADE, and no row is left pointing at the circle.
    in_circle = select(CircleSession.id).where(CircleSession.circle_id == circle.id)
    session.execute(delete(WorkshopRating).where(WorkshopRating.session_id.in_(in_circle)))
    session.execute(delete(Rsvp).where(Rsvp.session_id.in_(in_circle)))
    session.execute(delete(Attendance).where(Attendance.session_id.in_(in_circle)))
    session.execute(delete(CircleSession).where(CircleSession.circle_id == circle.id))
    session.execute(delete(CircleResource).where(CircleResource.circle_id == circle.id))
    session.execute(delete(CircleMember).where(CircleMember.circle_id == circle.id))
    session.delete(circle)  # the ORM removes its circle_tags rows
    session.flush()
    return told


def member_count(session: Session, circle: Circle) -> int:
    """How many members a circle has."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(CircleMember)
            .where(CircleMember.circle_id == circle.id)
        )
        or 0
    )


def members(session: Session, circle: Circle) -> list[User]:
    """A circle's members, in the order they joined."""
    return list(
        session.scalars(
            select(User)
            .join(CircleMember, CircleMember.user_id == User.id)
            .where(CircleMember.circle_id == circle.id)
            .order_by(CircleMember.joined_at, User.id)
        )
    )


def join(session: Session, *, user: User, circle: Circle) -> None:
    """Join a circle; a full circle is a Conflict."""
    if is_member(session, user, circle):
        raise Conflict("You are already a member of this circle.")
    # Lock the circle row so two people can't take the last seat at once (PostgreSQL).
    session.execute(select(Circle.id).where(Circle.id == circle.id).with_for_update())
    count = member_count(session, circle)
    if count >= circle.size_limit:
        raise Conflict(
            f"This circle is full: all {circle.size_limit} seats are taken. "
            "Ask the facilitator about the next one."
        )
    session.add(CircleMember(circle_id=circle.id, user_id=user.id))
    session.flush()


def leave(session: Session, *, user: User, circle: Circle) -> None:
    """Leave a circle; the facilitator hands it over first."""
    membership = session.get(CircleMember, (circle.id, user.id))
    if membership is None:
        raise Conflict("You are not a member of this circle.")
    if circle.facilitator_id == user.id:
        raise Conflict("Hand the circle over to another member before you leave.")
    session.delete(membership)
    session.flush()


@dataclass(frozen=True)
class CircleSummary:
    """A circle in the list: its size and next session."""

    circle: Circle
    members: int
    next_session: CircleSession | None

    @property
    def open_seats(self) -> int:
        """Seats still free."""
        return max(0, self.circle.size_limit - self.members)


def list_circles(
    session: Session, *, tag: str | None = None, open_only: bool = False
) -> list[CircleSummary]:
    """Circles by name, optionally with a tag or with free seats."""
    counts = (
        select(CircleMember.circle_id, func.count().label("n"))
        .group_by(CircleMember.circle_id)
        .subquery()
    )
    query = (
        select(Circle, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.circle_id == Circle.id)
        .options(selectinload(Circle.tags), selectinload(Circle.facilitator))
        .order_by(func.lower(Circle.name), Circle.id)
    )
    if tag:
        query = query.where(
            exists()
            .where(circle_tags.c.circle_id == Circle.id, circle_tags.c.tag_id == Tag.id)
            .where(Tag.name == tag.strip().lower())
        )
    if open_only:
        query = query.where(func.coalesce(counts.c.n, 0) < Circle.size_limit)
    rows = session.execute(query).all()
    upcoming = _next_sessions(session, [c.id for c, _n in rows])
    return [CircleSummary(c, int(n), upcoming.get(c.id)) for c, n in rows]


def _next_sessions(session: Session, circle_ids: list[int]) -> dict[int, CircleSession]:
    if not circle_ids:
        return {}
    found: dict[int, CircleSession] = {}
    for item in session.scalars(
        select(CircleSession)
        .where(
            CircleSession.circle_id.in_(circle_ids),
            CircleSession.starts_at >= utcnow(),
            CircleSession.cancelled_at.is_(None),
        )
        .order_by(CircleSession.starts_at)
    ):
        found.setdefault(item.circle_id, item)
    return found


def circles_of(session: Session, user: User) -> list[Circle]:
    """The circles a member belongs to."""
    return list(
        session.scalars(
            select(Circle)
            .join(CircleMember, CircleMember.circle_id == Circle.id)
            .where(CircleMember.user_id == user.id)
            .order_by(func.lower(Circle.name))
        )
    )


# --- sessions ---------------------------------------------------------------------------------


@dataclass
class SessionData:
    """What the session form carries: a local date and time in an IANA time zone."""

    title: str
    kind: str
    date: dt.date | None
    time: dt.time | None
    timezone: str
    duration_minutes: int | None = 60
    location: str = ""
    link: str = ""
    agenda_md: str = ""
    presenter: str = ""


def zone(name: str) -> zoneinfo.ZoneInfo | None:
    """The IANA time zone called ``name``, or None when there is none."""
    name = (name or "").strip()
    if not name or name not in available_zones():
        return None
    return zoneinfo.ZoneInfo(name)


_ZONES: list[str] = []


def available_zones() -> list[str]:
    """Every IANA time-zone name this system knows, sorted."""
    if not _ZONES:
        _ZONES.extend(sorted(zoneinfo.available_timezones()))
    return _ZONES


def to_utc(date: dt.date, time: dt.time, tz: zoneinfo.ZoneInfo) -> dt.datetime | None:
    """A local wall-clock time as UTC; None when that time doesn't exist (a clock change gap)."""
    local = dt.datetime.combine(date, time.replace(tzinfo=None), tzinfo=tz)
    moment = local.astimezone(dt.UTC)
    back = moment.astimezone(tz)
    if back.replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return moment


def local_start(item: CircleSession) -> dt.datetime:
    """When a session starts, in its own time zone."""
    tz = zone(item.timezone) or zoneinfo.ZoneInfo("UTC")
    return aware(item.starts_at).astimezone(tz)


def ends_at(item: CircleSession) -> dt.datetime:
    """When a session ends (UTC)."""
    return aware(item.starts_at) + dt.timedelta(minutes=item.duration_minutes)


def has_started(item: CircleSession, now: dt.datetime | None = None) -> bool:
    """True once the start time has passed."""
    return aware(item.starts_at) <= (now or utcnow())


def has_ended(item: CircleSession, now: dt.datetime | None = None) -> bool:
    """True once the session is over."""
    return ends_at(item) <= (now or utcnow())


def _clean_link(raw: str) -> tuple[str | None, list[str]]:
    link = (raw or "").strip()
    if not link:
        return None, []
    if has_control_characters(link) or any(c.isspace() for c in link):
        # urlsplit quietly drops tabs and line breaks, but they stay in the stored link and
        # break the calendar feeds it is written to.
        return None, ["Use a web address without spaces, line breaks or control characters."]
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(link) > 500:
        return None, ["Use a full http:// or https:// address (up to 500 characters)."]
    return link, []


def _validated_session(
    session: Session, circle: Circle, data: SessionData
) -> tuple[dict[str, object], dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    title = (data.title or "").strip()
    if len(title) < 3:
        errors["title"] = ["Give the session a title of at least 3 characters."]
    elif len(title) > TITLE_MAX:
        errors["title"] = [f"Use at most {TITLE_MAX} characters."]
    elif problems := single_line_errors(title):
        errors["title"] = problems
    try:
        kind = SessionKind(data.kind)
    except ValueError:
        errors["kind"] = ["Choose a meeting or a workshop."]
        kind = SessionKind.MEETING
    tz = zone(data.timezone)
    if tz is None:
        errors["timezone"] = ["Use a time-zone name such as Europe/London or America/New_York."]
    if data.date is None:
        errors["date"] = ["Enter the date."]
    if data.time is None:
        errors["time"] = ["Enter the start time."]
    starts_at = None
    if tz is not None and data.date is not None and data.time is not None:
        starts_at = to_utc(data.date, data.time, tz)
        if starts_at is None:
            errors["time"] = [
                f"That time doesn't exist in {data.timezone}: the clocks change then."
            ]
    if data.duration_minutes is None or not 1 <= data.duration_minutes <= DURATION_MAX:
        errors["duration_minutes"] = [f"Use 1 to {DURATION_MAX} minutes."]
    link, link_errors = _clean_link(data.link)
    if link_errors:
        errors["link"] = link_errors
    location = (data.location or "").strip()
    if len(location) > 200:
        errors["location"] = ["Use at most 200 characters."]
    elif problems := single_line_errors(location):
        errors["location"] = problems
    presenter = None
    if kind is SessionKind.WORKSHOP:
        name = (data.presenter or "").strip().lower()
        presenter = session.scalar(select(User).where(User.username == name)) if name else None
        if presenter is None or not is_member(session, presenter, circle):
            errors["presenter"] = ["A workshop needs a presenter: the username of a member."]
    values: dict[str, object] = {
        "title": title,
        "kind": kind,
        "starts_at": starts_at,
        "timezone": (data.timezone or "").strip(),
        "duration_minutes": data.duration_minutes,
        "location": location or None,
        "link": link,
        "agenda_md": data.agenda_md or "",
        "presenter": presenter,
    }
    if not errors:
        values["agenda_html"] = _render(data.agenda_md or "", "agenda")
    return values, errors


def schedule(session: Session, *, actor: User, circle: Circle, data: SessionData) -> CircleSession:
    """Schedule a meeting or workshop (facilitator or moderator); members are notified."""
    _require_manager(actor, circle)
    values, errors = _validated_session(session, circle, data)
    if errors:
        raise ValidationError(errors)
    presenter = values.pop("presenter")
    item = CircleSession(circle=circle, circle_id=circle.id, created_by_id=actor.id, **values)
    item.presenter = presenter if isinstance(presenter, User) else None
    session.add(item)
    session.flush()
    _notify_members(session, circle, item, actor)
    events.emit(session, events.CircleSessionScheduled(item=item, actor=actor))
    return item


def _notify_members(session: Session, circle: Circle, item: CircleSession, actor: User) -> None:
    when = local_start(item).strftime("%a %d %b %Y, %H:%M")
    what = "Workshop" if item.is_workshop else "Meeting"
    for member in members(session, circle):
        notifications.notify(
            session,
            recipient=member,
            kind="circle_session",
            text=f"{what} in {circle.name}: {item.title}, {when} ({item.timezone})",
            endpoint="circles.session_detail",
            params={"session_id": item.id},
            actor=actor,
        )


def get_session_item(session: Session, session_id: int) -> CircleSession:
    """A circle session by id."""
    item = session.get(CircleSession, session_id)
    if item is None:
        raise NotFound("There is no such session.")
    return item


def edit_session(
    session: Session, *, actor: User, item: CircleSession, data: SessionData
) -> CircleSession:
    """Change a session's details; calendars see a higher SEQUENCE."""
    _require_manager(actor, item.circle)
    values, errors = _validated_session(session, item.circle, data)
    if errors:
        raise ValidationError(errors)
    presenter = values.pop("presenter")
    for key, value in values.items():
        setattr(item, key, value)
    item.presenter = presenter if isinstance(presenter, User) else None
    item.sequence += 1
    session.flush()
    return item


def record_notes(
    session: Session, *, actor: User, item: CircleSession, notes_md: str
) -> CircleSession:
    """Write the notes after a session (facilitator, presenter or moderator)."""
    if not (can_manage(actor, item.circle) or actor.id == item.presenter_id):
        raise Forbidden("Only the facilitator, the presenter or a moderator can write the notes.")
    text = (notes_md or "").strip()
    item.notes_md = text or None
    item.notes_html = _render(text, "notes") if text else None
    session.flush()
    return item


def cancel_session(session: Session, *, actor: User, item: CircleSession) -> CircleSession:
    """Call a session off; calendars show it as cancelled."""
    _require_manager(actor, item.circle)
    if item.is_cancelled:
        raise Conflict("This session is already cancelled.")
    if has_started(item):
        raise Conflict("This session has already started; it can no longer be cancelled.")
    item.cancelled_at = utcnow()
    item.sequence += 1
    session.flush()
    return item


def sessions_of(session: Session, circle: Circle) -> list[CircleSession]:
    """Every session of a circle, earliest first."""
    return list(
        session.scalars(
            select(CircleSession)
            .where(CircleSession.circle_id == circle.id)
            .options(selectinload(CircleSession.presenter))
            .order_by(CircleSession.starts_at, CircleSession.id)
        )
    )


# --- RSVPs ------------------------------------------------------------------------------------


def rsvp(session: Session, *, user: User, item: CircleSession, response: str) -> Rsvp:
    """Answer yes, maybe or no; only members, only before the session starts."""
    try:
        answer = RsvpResponse(response)
    except ValueError:
        raise ValidationError({"response": ["Answer yes, maybe or no."]}) from None
    if not is_member(session, user, item.circle):
        raise Forbidden("Join the circle to answer for its sessions.")
    if item.is_cancelled:
        raise Conflict("This session is cancelled.")
    if has_started(item):
        raise Conflict("This session has already taken place; RSVPs are closed.")
    row = session.get(Rsvp, (item.id, user.id))
    if row is None:
        row = Rsvp(session_id=item.id, user_id=user.id, response=answer)
        session.add(row)
    else:
        row.response = answer
    session.flush()
    return row


def rsvp_of(session: Session, user: User | None, item: CircleSession) -> RsvpResponse | None:
    """A member's answer to one session."""
    if user is None:
        return None
    row = session.get(Rsvp, (item.id, user.id))
    return row.response if row is not None else None


def attendees(session: Session, item: CircleSession) -> dict[RsvpResponse, list[User]]:
    """Who answered what, by display name."""
    grouped: dict[RsvpResponse, list[User]] = {r: [] for r in RsvpResponse}
    for row in session.scalars(
        select(Rsvp)
        .where(Rsvp.session_id == item.id)
        .options(selectinload(Rsvp.user))
        .join(User, User.id == Rsvp.user_id)
        .order_by(func.lower(User.display_name))
    ):
        grouped[row.response].append(row.user)
    return grouped


# --- attendance -------------------------------------------------------------------------------


def attended(session: Session, user: User | None, item: CircleSession) -> bool:
    """True when ``user`` came: marked present by the facilitator, or said yes (and kept it)
    unless the facilitator marked them absent."""
    if user is None:
        return False
    mark = session.get(Attendance, (item.id, user.id))
    if mark is not None:
        return mark.present
    return rsvp_of(session, user, item) is RsvpResponse.YES


def can_mark_attendance(user: User | None, item: CircleSession) -> bool:
    """The facilitator (or a moderator) records who came, once the session has started."""
    return can_manage(user, item.circle) and has_started(item) and not item.is_cancelled


@dataclass(frozen=True)
class AttendanceEntry:
    """One line of the attendance checklist."""

    user: User
    response: RsvpResponse | None
    present: bool
    marked: bool


def attendance_list(session: Session, item: CircleSession) -> list[AttendanceEntry]:
    """The circle's members and anyone who answered or was marked, by display name."""
    answers = {
        r.user_id: r.response
        for r in session.scalars(select(Rsvp).where(Rsvp.session_id == item.id))
    }
    marks = {
        a.user_id: a.present
        for a in session.scalars(select(Attendance).where(Attendance.session_id == item.id))
    }
    member_ids = set(
        session.scalars(
            select(CircleMember.user_id).where(CircleMember.circle_id == item.circle_id)
        )
    )
    ids = member_ids | answers.keys() | marks.keys()
    if not ids:
        return []
    people = session.scalars(
        select(User).where(User.id.in_(ids)).order_by(func.lower(User.display_name), User.id)
    )
    return [
        AttendanceEntry(
            user=u,
            response=answers.get(u.id),
            present=marks.get(u.id, answers.get(u.id) is RsvpResponse.YES),
            marked=u.id in marks,
        )
        for u in people
    ]


def mark_attendance(
    session: Session, *, actor: User, item: CircleSession, present_ids: Collection[int]
) -> int:
    """Record who came (the checklist): everyone listed and not ticked is marked absent.
    Returns how many were present."""
    _require_manager(actor, item.circle)
    if item.is_cancelled:
        raise Conflict("This session was cancelled; there is no attendance to record.")
    if not has_started(item):
        raise Conflict("Attendance can be recorded once the session has started.")
    listed = {entry.user.id for entry in attendance_list(session, item)}
    chosen = set(present_ids)
    if not chosen <= listed:
        raise ValidationError({"present": ["Tick only people listed for this session."]})
    marks = {
        a.user_id: a
        for a in session.scalars(select(Attendance).where(Attendance.session_id == item.id))
    }
    for user_id in listed:
        mark = marks.get(user_id)
        if mark is None:
            mark = Attendance(session_id=item.id, user_id=user_id)
            session.add(mark)
        mark.present = user_id in chosen
        mark.marked_by_id = actor.id
    session.flush()
    return len(chosen)


# --- workshop ratings -------------------------------------------------------------------------


def can_rate(session: Session, user: User | None, item: CircleSession) -> bool:
    """True when ``user`` may rate this workshop now."""
    try:
        _check_can_rate(session, user, item)
    except (Forbidden, Conflict):
        return False
    return True


def _check_can_rate(session: Session, user: User | None, item: CircleSession) -> None:
    if not item.is_workshop:
        raise Conflict("Only workshops are rated.")
    if item.is_cancelled:
        raise Conflict("This workshop was cancelled.")
    if not has_ended(item):
        raise Conflict("You can rate this workshop once it has ended.")
    if user is None:
        raise Forbidden("Log in to rate workshops.")
    if user.id == item.presenter_id:
        raise Forbidden("Presenters don't rate their own workshop.")
    if not attended(session, user, item):
        raise Forbidden(
            "Only people who attended rate a workshop: say yes before it starts, "
            "or ask the facilitator to mark you present."
        )


def rate(
    session: Session, *, user: User, item: CircleSession, rating: int | None, comment: str = ""
) -> WorkshopRating:
    """Rate a workshop 1–5 (once per attendee; a second rating replaces the first)."""
    _check_can_rate(session, user, item)
    if rating is None or not 1 <= rating <= 5:
        raise ValidationError({"rating": ["Choose a rating from 1 to 5."]})
    text = (comment or "").strip()
    if len(text) > 2000:
        raise ValidationError({"comment": ["Use at most 2000 characters."]})
    row = session.scalar(
        select(WorkshopRating).where(
            WorkshopRating.session_id == item.id, WorkshopRating.user_id == user.id
        )
    )
    if row is None:
        row = WorkshopRating(session_id=item.id, user_id=user.id, rating=rating)
        session.add(row)
    row.rating = rating
    row.comment = text or None
    session.flush()
    return row


@dataclass(frozen=True)
class RatingSummary:
    """A workshop's ratings."""

    average: float | None
    count: int
    ratings: list[WorkshopRating]


def ratings_of(session: Session, item: CircleSession) -> RatingSummary:
    """Every rating of a workshop with the average (None before the first)."""
    rows = list(
        session.scalars(
            select(WorkshopRating)
            .where(WorkshopRating.session_id == item.id)
            .options(selectinload(WorkshopRating.user))
            .order_by(WorkshopRating.created_at, WorkshopRating.id)
        )
    )
    average = round(sum(r.rating for r in rows) / len(rows), 2) if rows else None
    return RatingSummary(average, len(rows), rows)


def rating_of(session: Session, user: User | None, item: CircleSession) -> WorkshopRating | None:
    """A member's own rating of a workshop."""
    if user is None:
        return None
    return session.scalar(
        select(WorkshopRating).where(
            WorkshopRating.session_id == item.id, WorkshopRating.user_id == user.id
        )
    )


# --- resources --------------------------------------------------------------------------------

_QUESTION_PATH = re.compile(r"/questions/(\d+)(?:/|$)")
_ARTICLE_PATH = re.compile(r"/articles/([^/?#]+)/?$")


def find_post(session: Session, reference: str) -> Post:
    """An article or question named by its address (``/questions/12``, ``/articles/slug``),
    ``#12`` or ``12``."""
    text = (reference or "").strip()
    post: Post | None = None
    if re.fullmatch(r"#?\d{1,9}", text):
        post = session.get(Post, int(text.lstrip("#")))
    elif text:
        path = urlsplit(text).path
        if match := _QUESTION_PATH.search(path):
            post = session.get(Post, int(match.group(1)))
        elif match := _ARTICLE_PATH.search(path):
            post = session.scalar(select(Post).where(Post.slug == match.group(1)))
    if (
        post is None
        or post.deleted_at is not None
        or post.kind not in (PostKind.QUESTION, PostKind.ARTICLE)
    ):
        raise ValidationError(
            {"reference": ["Paste the address of an article or question, or its number."]}
        )
    return post


def add_resource(
    session: Session, *, actor: User, circle: Circle, reference: str
) -> CircleResource:
    """Link an article or question from the circle (members, facilitator, moderators)."""
    if not (is_member(session, actor, circle) or can_manage(actor, circle)):
        raise Forbidden("Only members of the circle can add resources.")
    post = find_post(session, reference)
    duplicate = session.scalar(
        select(CircleResource).where(
            CircleResource.circle_id == circle.id, CircleResource.post_id == post.id
        )
    )
    if duplicate is not None:
        raise ValidationError({"reference": ["That is already linked from this circle."]})
    row = CircleResource(circle_id=circle.id, post=post, post_id=post.id, added_by_id=actor.id)
    session.add(row)
    session.flush()
    return row


def remove_resource(session: Session, *, actor: User, circle: Circle, resource_id: int) -> None:
    """Unlink a resource (whoever added it, the facilitator or a moderator)."""
    row = session.get(CircleResource, resource_id)
    if row is None or row.circle_id != circle.id:
        raise NotFound("There is no such resource.")
    if not (can_manage(actor, circle) or row.added_by_id == actor.id):
        raise Forbidden("Only whoever added it, the facilitator or a moderator can remove it.")
    session.delete(row)
    session.flush()


def resources_of(session: Session, circle: Circle) -> list[CircleResource]:
    """The circle's articles and questions that aren't deleted, newest first."""
    return list(
        session.scalars(
            select(CircleResource)
            .join(Post, Post.id == CircleResource.post_id)
            .where(CircleResource.circle_id == circle.id, Post.deleted_at.is_(None))
            .options(selectinload(CircleResource.post))
            .order_by(CircleResource.created_at.desc(), CircleResource.id.desc())
        )
    )


# --- calendar feeds ---------------------------------------------------------------------------


def calendar_token(session: Session, user: User) -> str:
    """The member's calendar-feed secret, created on first use."""
    row = session.get(CalendarToken, user.id)
    if row is None:
        row = CalendarToken(user_id=user.id, token=secrets.token_urlsafe(24))
        session.add(row)
        session.flush()
    return row.token


def regenerate_calendar_token(session: Session, user: User) -> str:
    """Replace the member's feed secret: the old feed address stops working."""
    row = session.get(CalendarToken, user.id)
    token = secrets.token_urlsafe(24)
    if row is None:
        session.add(CalendarToken(user_id=user.id, token=token))
    else:
        row.token = token
    session.flush()
    return token


def member_by_token(session: Session, token: str) -> User:
    """The member a feed secret belongs to."""
    if not token or len(token) > 64:
        raise NotFound("There is no such calendar.")
    row = session.scalar(select(CalendarToken).where(CalendarToken.token == token))
    if row is None or not row.user.is_active:
        raise NotFound("There is no such calendar.")
    return row.user


def member_feed(session: Session, user: User) -> list[CircleSession]:
    """Sessions of the member's circles, and any they said yes to."""
    in_circle = exists().where(
        CircleMember.circle_id == CircleSession.circle_id, CircleMember.user_id == user.id
    )
    said_yes = exists().where(
        Rsvp.session_id == CircleSession.id,
        Rsvp.user_id == user.id,
        Rsvp.response == RsvpResponse.YES,
    )
    return list(
        session.scalars(
            select(CircleSession)
            .where(or_(in_circle, said_yes))
            .options(selectinload(CircleSession.circle), selectinload(CircleSession.presenter))
            .order_by(CircleSession.starts_at, CircleSession.id)
        )
    )


# --- badges -----------------------------------------------------------------------------------


def _only(column: object, user_ids: Collection[int] | None) -> object:
    return column.in_(list(user_ids)) if user_ids is not None else column.is_not(None)  # type: ignore[attr-defined]


def workshops_hosted(session: Session, user_ids: Collection[int] | None) -> dict[int, int]:
    """Workshops a member presented that have ended and weren't cancelled."""
    rows = session.execute(
        select(
            CircleSession.presenter_id, CircleSession.starts_at, CircleSession.duration_minutes
        ).where(
            CircleSession.kind == SessionKind.WORKSHOP,
            CircleSession.cancelled_at.is_(None),
            CircleSession.starts_at <= utcnow(),
            _only(CircleSession.presenter_id, user_ids),  # type: ignore[arg-type]
        )
    )
    now = utcnow()
    counts: dict[int, int] = {}
    for presenter_id, starts_at, minutes in rows:
        if presenter_id is not None and aware(starts_at) + dt.timedelta(minutes=minutes) <= now:
            counts[int(presenter_id)] = counts.get(int(presenter_id), 0) + 1
    return counts


def popular_workshops(session: Session, user_ids: Collection[int] | None) -> dict[int, int]:
    """Workshops a member presented with 5+ ratings averaging 4.5 or more."""
    rows = session.execute(
        select(CircleSession.presenter_id, func.count(), func.avg(WorkshopRating.rating))
        .join(WorkshopRating, WorkshopRating.session_id == CircleSession.id)
        .where(
            and_(
                CircleSession.kind == SessionKind.WORKSHOP,
                CircleSession.cancelled_at.is_(None),
                _only(CircleSession.presenter_id, user_ids),  # type: ignore[arg-type]
            )
        )
        .group_by(CircleSession.id, CircleSession.presenter_id)
    )
    counts: dict[int, int] = {}
    for presenter_id, n, average in rows:
        if (
            presenter_id is not None
            and int(n) >= POPULAR_MIN_RATINGS
            and float(average) >= POPULAR_MIN_AVERAGE
        ):
            counts[int(presenter_id)] = counts.get(int(presenter_id), 0) + 1
    return counts


for _badge in (
    badges.Badge("workshop_host", "Workshop Host", badges.Tier.BRONZE,
                 "Presented a peer-led workshop to a learning circle.", 1,
                 member_metric=workshops_hosted, unit="workshops hosted"),
    badges.Badge("popular_host", "Popular Host", badges.Tier.SILVER,
                 f"Presented a workshop rated {POPULAR_MIN_AVERAGE} or more on average "
                 f"by at least {POPULAR_MIN_RATINGS} attendees.", 1,
                 member_metric=popular_workshops, unit="highly rated workshops"),
):  # fmt: skip
    if _badge.key not in badges.BADGES:
        badges.declare(_badge)
