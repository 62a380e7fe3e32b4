"""Demo content for a fictional company, Northwind Labs: people first, then what they write.

The posts are Markdown files under ``forum/demo/content/`` (see :mod:`forum.demo.posts`); the
other modules stage members, tutorial requests, circles, mentoring, paths and notifications.
:mod:`forum.demo.activity` dates votes, reputation, badges and views over the weeks the
content covers.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum.db import utcnow
from forum.demo.activity import Timeline, date_badges, date_members
from forum.demo.bounties import load_bounties
from forum.demo.circles import load_circles
from forum.demo.mentoring import load_mentoring
from forum.demo.moderation import load_moderation
from forum.demo.notifications import load_notifications
from forum.demo.paths import load_paths
from forum.demo.people import PEOPLE
from forum.demo.posts import load_posts
from forum.demo.requests import load_requests
from forum.models import Post, User
from forum.services import badges, departments, reputation
from forum.services.passwords import hash_password


@dataclass
class DemoResult:
    """What ``load`` created, for the command's summary."""

    password: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    #: True when ``only_if_empty`` found content and nothing was loaded.
    skipped: bool = False

    def summary(self) -> str:
        """Counts in a line, e.g. ``12 people``."""
        return ", ".join(f"{n} {what}" for what, n in self.counts.items()) or "nothing"


#: The demo accounts the login page names while the demo content is loaded.
DEMO_ADMIN = "amara"
DEMO_MODERATOR = "jonas"
DEMO_DOMAIN = "northwind.example"


def accounts_loaded(session: Session) -> bool:
    """Whether the demo's members are here (their admin, with her demo address)."""
    found = session.scalar(
        select(User.id).where(
            User.username == DEMO_ADMIN,
            User.email == f"{DEMO_ADMIN}@{DEMO_DOMAIN}",
            User.password_hash.is_not(None),
        )
    )
    return found is not None


def database_is_empty(session: Session) -> bool:
    """True when there are no members and no posts yet."""
    users = session.scalar(select(func.count()).select_from(User)) or 0
    posts = session.scalar(select(func.count()).select_from(Post)) or 0
    return users == 0 and posts == 0


def load(
    session: Session,
    *,
    password: str | None,
    hash_method: str,
    only_if_empty: bool = False,
    progress: Callable[[str], None] = lambda _msg: None,
) -> DemoResult:
    """Stage the demo content; what already exists is left alone (re-runnable).

    With ``only_if_empty``, a database that has members or posts is not touched at all.
    """
    if only_if_empty and not database_is_empty(session):
        return DemoResult(skipped=True)
    result = DemoResult(password=password or secrets.token_urlsafe(9))
    timeline = Timeline(session, utcnow())
    existing = set(session.scalars(select(User.username)).all())
    joined: dict[str, int] = {}
    for person in PEOPLE:
        if person.username in existing:
            continue
        session.add(
            User(
                username=person.username,
                email=f"{person.username}@{DEMO_DOMAIN}",
                display_name=person.display_name,
                department=person.department,
                job_title=person.job_title,
                bio=person.bio,
                role=person.role,
                password_hash=hash_password(result.password or "", hash_method),
            )
        )
        joined[person.username] = person.joined_days_ago
    for name in sorted({person.department for person in PEOPLE if person.department}):
        departments.ensure(session, name)
    session.flush()
    progress(f"{len(joined)} people")
    result.counts["people"] = len(joined)
    posts = load_posts(session, timeline, progress=progress)
    result.counts["articles"] = posts.articles
    result.counts["questions"] = posts.questions
    result.counts["answers"] = posts.answers
    result.counts["tutorial requests"] = load_requests(session, progress=progress)
    result.counts["learning circles"] = load_circles(session, progress=progress)
    result.counts["mentorships"] = load_mentoring(session, progress=progress)
    result.counts["learning paths"] = load_paths(session, progress=progress)
    result.counts["close votes, resolved flags and suggested edits"] = load_moderation(
        session, progress=progress
    )
    result.counts["notifications"] = load_notifications(session, progress=progress)
    date_members(session, joined, timeline.now)
    result.counts["open bounties"] = load_bounties(session, timeline.now, progress=progress)
    # Keep this step last: reputation and badges follow from everything loaded above.
    _settle_recognition(session, timeline, result, progress)
    return result


def _settle_recognition(
    session: Session, timeline: Timeline, result: DemoResult, progress: Callable[[str], None]
) -> None:
    """Check reputation against the demo votes and award the badges they earn, dated."""
    # The timeline keeps the ledger equal to the votes; this only catches a day over the cap.
    report = reputation.recalc(session, fix=True)
    awarded = badges.award(session)
    date_badges(session, timeline, awarded)
    progress(f"reputation settled for {len(report.drift)} members, {len(awarded)} badges")
    result.counts["badges"] = len(awarded)
