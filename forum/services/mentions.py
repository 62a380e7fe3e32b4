"""@mentions: ``@username`` in member Markdown links to the profile and notifies the member.

Rendering resolves mentions against existing members (see :func:`resolver`); after saving, the
rendered HTML tells who is mentioned, and :func:`notify_mentioned` notifies each member once per
post or comment: a ``Mention`` row remembers who was already told, so edits never repeat it.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import quote, unquote

from sqlalchemy import func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from forum.markdown import MentionResolver
from forum.models import Mention, User
from forum.services.notifications import notify

PROFILE_PATH = "/users/"
_MENTION_TAG_RE = re.compile(r"<a\s[^<>]*\bclass=\"mention\"[^<>]*>")
_HREF_RE = re.compile(r"\bhref=\"" + re.escape(PROFILE_PATH) + r"([^\"/?#]+)\"")


def resolver(session: Session) -> MentionResolver:
    """A mention resolver backed by the database (each username looked up once)."""
    cache: dict[str, str | None] = {}

    def resolve(username: str) -> str | None:
        key = username.lower()
        if key not in cache:
            found = session.scalar(
                select(User.username).where(User.username == key, User.is_active.is_(True))
            )
            cache[key] = PROFILE_PATH + quote(found) if found else None
        return cache[key]

    return resolve


#: How many members an ``@`` suggestion offers at most.
SUGGESTIONS = 8


def suggest(session: Session, prefix: str, *, limit: int = SUGGESTIONS) -> list[tuple[str, str]]:
    """Active members whose username or display name starts with ``prefix``: (username, name).

    Only what every profile shows; exact username matches first, then by username.
    """
    text = prefix.strip().lstrip("@").lower()[:32]
    if not text:
        return []
    pattern = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = session.execute(
        select(User.username, User.display_name)
        .where(
            User.is_active.is_(True),
            or_(
                User.username.like(pattern, escape="\\"),
                func.lower(User.display_name).like(pattern, escape="\\"),
            ),
        )
        .order_by((User.username == text).desc(), User.username)
        .limit(limit)
    ).all()
    return [(str(username), str(name)) for username, name in rows]


def mentioned_usernames(body_html: str) -> list[str]:
    """The usernames a rendered body mentions, in order, each once."""
    names: dict[str, None] = {}
    for tag in _MENTION_TAG_RE.findall(body_html or ""):
        match = _HREF_RE.search(tag)
        if match:
            names[unquote(match.group(1)).lower()] = None
    return list(names)


def _record(session: Session, subject: str, user_id: int) -> bool:
    """Remember the mention; False when a concurrent save recorded it first."""
    insert = (
        postgresql.insert(Mention)
        if session.get_bind().dialect.name == "postgresql"
        else sqlite.insert(Mention)
    )
    inserted = session.scalar(
        insert.values(subject=subject, user_id=user_id)
        .on_conflict_do_nothing(index_elements=["subject", "user_id"])
        .returning(Mention.id)
    )
    return inserted is not None


def subject_of_post(post_id: int) -> str:
    """The ``Mention.subject`` of a post."""
    return f"post:{post_id}"


def subject_of_comment(comment_id: int) -> str:
    """The ``Mention.subject`` of a comment."""
    return f"comment:{comment_id}"


def subject_of_tag(tag_id: int) -> str:
    """The ``Mention.subject`` of a tag's description."""
    return f"tag:{tag_id}"


def notify_mentioned(
    session: Session,
    *,
    body_html: str,
    subject: str,
    author: User,
    anonymous: bool,
    text: str,
    endpoint: str,
    params: dict[str, int | str],
    skip: Collection[int] = (),
) -> list[User]:
    """Notify members newly mentioned in ``body_html`` (never the author, never twice).

    ``text`` is the notification text; ``anonymous`` hides the author (no actor is stored).
    Members in ``skip`` (already notified about the same action) are recorded but not told
    again. Returns the members notified.
    """
    names = mentioned_usernames(body_html)
    if not names:
        return []
    users = list(session.scalars(select(User).where(User.username.in_(names))))
    already = set(
        session.scalars(
            select(Mention.user_id).where(
                Mention.subject == subject, Mention.user_id.in_([u.id for u in users])
            )
        )
    )
    told: list[User] = []
    for user in users:
        if user.id == author.id or user.id in already:
            continue
        if not _record(session, subject, user.id) or user.id in skip:
            continue
        sent = notify(
            session,
            recipient=user,
            kind="mention",
            text=text,
            endpoint=endpoint,
            params=params,
            actor=None if anonymous else author,
        )
        if sent is not None:
            told.append(user)
    return told
