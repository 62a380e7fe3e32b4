"""Reminders sent by ``forum mail reminders`` (cron): circle sessions a day before, and
articles due for review (``article_life.notify_stale``).

Both are notifications of their own kind, so members choose where they go like any other;
on the ``instant`` channel a circle session's reminder carries the session's .ics file.
Each session is reminded of once per start time (``CircleSession.reminded_for``): moving it
reminds its members again, running the command twice does not.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from forum.db import utcnow
from forum.models import CircleMember, CircleSession, Rsvp, RsvpResponse, User
from forum.services import article_life, calendar
from forum.services.circles import aware, local_start
from forum.services.notifications import notify

#: How long before its start a session is reminded of.
AHEAD = dt.timedelta(days=1)


@dataclass(frozen=True)
class ReminderReport:
    """What one run did."""

    sessions: int
    members: int
    articles: int


def session_text(item: CircleSession) -> str:
    """The reminder's text: what, which circle, when (in the session's own time zone)."""
    start = local_start(item)
    when = f"{start:%a %d %b %Y, %H:%M} ({item.timezone})"
    return f"Reminder: “{item.title}” of the circle “{item.circle.name}” starts {when}"


def due_sessions(session: Session, *, now: dt.datetime) -> list[CircleSession]:
    """Sessions starting within a day that were not reminded of at this start time."""
    return list(
        session.scalars(
            select(CircleSession)
            .where(
                CircleSession.cancelled_at.is_(None),
                CircleSession.starts_at > now,
                CircleSession.starts_at <= now + AHEAD,
                or_(
                    CircleSession.reminded_for.is_(None),
                    CircleSession.reminded_for != CircleSession.starts_at,
                ),
            )
            .order_by(CircleSession.starts_at, CircleSession.id)
            .options(selectinload(CircleSession.circle))
        )
    )


def remind_sessions(session: Session, *, domain: str, now: dt.datetime | None = None) -> int:
    """Remind the members of each session starting within a day (not those who said no).

    Returns how many members were told.
    """
    moment = now or utcnow()
    told = 0
    for item in due_sessions(session, now=moment):
        declined = select(Rsvp.user_id).where(
            Rsvp.session_id == item.id, Rsvp.response == RsvpResponse.NO
        )
        members = session.scalars(
            select(User)
            .join(CircleMember, CircleMember.user_id == User.id)
            .where(CircleMember.circle_id == item.circle_id, User.id.not_in(declined))
            .order_by(User.id)
        )
        ics = calendar.build_calendar(item.circle.name, [item], domain=domain, now=moment)
        start_key = aware(item.starts_at).isoformat()
        for member in members:
            sent = notify(
                session,
                recipient=member,
                kind="session_reminder",
                text=session_text(item),
                endpoint="circles.session_detail",
                params={"session_id": item.id},
                ics=ics.decode("utf-8"),
                mail_key=f"session-reminder:{item.id}:{member.id}:{start_key}"[:120],
            )
            told += sent is not None
        item.reminded_for = item.starts_at
    session.flush()
    return told


def run(session: Session, *, domain: str, now: dt.datetime | None = None) -> ReminderReport:
    """Every reminder due now: circle sessions, then stale articles."""
    moment = now or utcnow()
    sessions = len(due_sessions(session, now=moment))
    members = remind_sessions(session, domain=domain, now=moment)
    articles = article_life.notify_stale(session, now=moment)
    return ReminderReport(sessions=sessions, members=members, articles=articles)
