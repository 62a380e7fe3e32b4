"""iCalendar (RFC 5545) feeds of circle sessions, built with the ``icalendar`` library.

Each session is one VEVENT whose UID never changes, whose SEQUENCE grows with every change
and whose start and end carry the session's own time zone (with its VTIMEZONE), so calendar
clients show the right local time on both sides of a clock change.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from icalendar import Calendar, Event

from forum.db import utcnow
from forum.models import CircleSession
from forum.services.circles import aware, ends_at, local_start

PRODID = "-//forum//Learning circles//EN"
log = logging.getLogger(__name__)


def event_uid(item: CircleSession, domain: str) -> str:
    """A UID that stays the same for a session whatever changes."""
    return f"circle-session-{item.id}@{domain}"


def build_calendar(
    name: str,
    items: Iterable[CircleSession],
    *,
    domain: str,
    url_for_session: dict[int, str] | None = None,
    now: dt.datetime | None = None,
) -> bytes:
    """A VCALENDAR holding one VEVENT per session, serialised."""
    stamp = (now or utcnow()).astimezone(dt.UTC)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    links = url_for_session or {}
    items = [
        item
        for item in items
        if _add_event(calendar, item, domain=domain, stamp=stamp, url=links.get(item.id))
    ]
    if items:
        # One VTIMEZONE per zone the events use (RFC 5545 requires it for every TZID),
        # with the transitions of a year either side of the events rather than decades.
        year = dt.timedelta(days=366)
        first = min(aware(i.starts_at) for i in items) - year
        last = max(ends_at(i) for i in items) + year
        calendar.add_missing_timezones(first_date=first.date(), last_date=last.date())
    data: bytes = calendar.to_ical()
    return data


def _add_event(
    calendar: Calendar, item: CircleSession, *, domain: str, stamp: dt.datetime, url: str | None
) -> bool:
    """Add the session's VEVENT; a session that cannot be written is logged and left out.

    One bad value (say a link stored before links were checked) must not take down the feed
    of its circle and of every member subscribed to it.
    """
    try:
        event = _event(item, domain=domain, stamp=stamp, url=url)
        event.to_ical()  # serialising is where some bad values surface
    except Exception:
        log.exception("calendar: session %s left out of the feed", item.id)
        return False
    calendar.add_component(event)
    return True


def _event(item: CircleSession, *, domain: str, stamp: dt.datetime, url: str | None) -> Event:
    start = local_start(item)
    end = ends_at(item).astimezone(start.tzinfo)
    event = Event()
    event.add("uid", event_uid(item, domain))
    event.add("dtstamp", stamp)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("sequence", item.sequence)
    event.add("last-modified", aware(item.updated_at).astimezone(dt.UTC))
    kind = "Workshop" if item.is_workshop else "Meeting"
    event.add("summary", f"{item.title} ({item.circle.name})")
    event.add("categories", [kind])
    description = [f"{kind} of the learning circle {item.circle.name}."]
    if item.presenter is not None:
        description.append(f"Presented by {item.presenter.display_name}.")
    if item.agenda_md:
        description.append("")
        description.append(item.agenda_md)
    if url:
        description.append("")
        description.append(url)
    event.add("description", "\n".join(description))
    if item.location:
        event.add("location", item.location)
    elif item.link:
        event.add("location", item.link)
    if item.link:
        event.add("url", item.link)
    elif url:
        event.add("url", url)
    event.add("status", "CANCELLED" if item.is_cancelled else "CONFIRMED")
    return event
