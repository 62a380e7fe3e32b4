"""Email digests: the notifications each member chose to receive in a daily or weekly digest.

A member who set ``daily`` (or ``weekly``) for a kind gets, once per run of
``forum digest send --period daily`` (or ``weekly``), one message listing their notifications
of those kinds from the period that were not emailed before and that they have not already
read in the inbox (nothing unread: no message); each listed notification is then marked
``emailed_at`` so the next run never repeats it. Each kind's section has a link that stops
emailing that kind (see ``forum.delivery``).
"""

from __future__ import annotations

import datetime as dt
import html
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.models import Notification, NotificationPreference, User
from forum.services import visibility
from forum.services.errors import ValidationError
from forum.services.notifications import KIND_LABELS

PERIODS: dict[str, dt.timedelta] = {
    "daily": dt.timedelta(days=1),
    "weekly": dt.timedelta(days=7),
}


@dataclass
class Digest:
    """One member's digest: who, and which notifications."""

    user: User
    items: list[Notification]


@dataclass(frozen=True)
class DigestText:
    """The composed message."""

    subject: str
    text: str
    html: str
    #: The kinds the digest lists, in order.
    kinds: tuple[str, ...] = ()


def period_length(period: str) -> dt.timedelta:
    """The length of a digest period; ValidationError for an unknown one."""
    if period not in PERIODS:
        raise ValidationError({"period": [f"The period must be one of: {', '.join(PERIODS)}."]})
    return PERIODS[period]


def pending(session: Session, period: str, *, now: dt.datetime | None = None) -> list[Digest]:
    """Every member with unsent, unread email-kind notifications in the period, with those
    items (what was read in the inbox is left out of both parts of the message)."""
    since = (now or utcnow()) - period_length(period)
    rows = session.execute(
        select(Notification, User)
        .join(User, User.id == Notification.recipient_id)
        .join(
            NotificationPreference,
            (NotificationPreference.user_id == Notification.recipient_id)
            & (NotificationPreference.kind == Notification.kind),
        )
        .where(
            NotificationPreference.channel == period,
            Notification.emailed_at.is_(None),
            Notification.read_at.is_(None),
            Notification.created_at >= since,
            User.is_active.is_(True),
            User.email.is_not(None),
        )
        .order_by(User.id, Notification.created_at, Notification.id)
    ).all()
    grouped: dict[int, Digest] = {}
    items: defaultdict[int, list[Notification]] = defaultdict(list)
    for notification, user in rows:
        grouped.setdefault(user.id, Digest(user=user, items=[]))
        items[user.id].append(notification)
    for user_id, digest in grouped.items():
        # Notifications about posts removed since are left out (their text names the post).
        removed = visibility.removed_notifications(session, digest.user, items[user_id])
        digest.items = [n for n in items[user_id] if n.id not in removed]
    return [digest for digest in grouped.values() if digest.items]


def mark_emailed(
    session: Session, notifications: list[Notification], *, now: dt.datetime | None = None
) -> None:
    """Record that these notifications went out (only ones not marked before)."""
    ids = [n.id for n in notifications]
    if not ids:
        return
    session.execute(
        update(Notification)
        .where(Notification.id.in_(ids), Notification.emailed_at.is_(None))
        .values(emailed_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    for notification in notifications:
        session.expire(notification, ["emailed_at"])


def compose(
    digest: Digest,
    period: str,
    *,
    link: Callable[[Notification], str | None],
    inbox_url: str,
    settings_url: str,
    unsubscribe: Callable[[str], str] | None = None,
) -> DigestText:
    """Plain text and HTML (every member-written text escaped) for one digest.

    ``unsubscribe(kind)``: the address that stops emailing that kind, under each section.
    """
    count = len(digest.items)
    noun = "notification" if count == 1 else "notifications"
    subject = f"Your {period} forum digest: {count} {noun}"
    grouped: dict[str, list[Notification]] = {}
    for item in digest.items:
        grouped.setdefault(item.kind, []).append(item)

    lines = [f"Hello {digest.user.display_name},", "", f"{count} new {noun} on the forum:"]
    parts = [
        f"<p>Hello {html.escape(digest.user.display_name)},</p>",
        f"<p>{count} new {noun} on the forum:</p>",
    ]
    for kind, items in grouped.items():
        label = KIND_LABELS.get(kind, kind)
        lines += ["", label]
        parts.append(f"<h2>{html.escape(label)}</h2><ul>")
        for item in items:
            url = link(item)
            lines.append(f"- {item.text}" + (f"\n  {url}" if url else ""))
            text = html.escape(item.text)
            if url:
                text = f'<a href="{html.escape(url, quote=True)}">{text}</a>'
            parts.append(f"<li>{text}</li>")
        parts.append("</ul>")
        if unsubscribe is not None:
            stop = unsubscribe(kind)
            lines.append(f"  Stop emailing me these: {stop}")
            parts.append(
                f'<p><a href="{html.escape(stop, quote=True)}">Stop emailing me these</a></p>'
            )
    lines += [
        "",
        f"Your inbox: {inbox_url}",
        f"Choose what is emailed: {settings_url}",
    ]
    parts.append(
        f'<p><a href="{html.escape(inbox_url, quote=True)}">Open your inbox</a> · '
        f'<a href="{html.escape(settings_url, quote=True)}">Choose what is emailed</a></p>'
    )
    body_html = (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head><body>" + "\n".join(parts) + "</body></html>"
    )
    return DigestText(
        subject=subject, text="\n".join(lines) + "\n", html=body_html, kinds=tuple(grouped)
    )
