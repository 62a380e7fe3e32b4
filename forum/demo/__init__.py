"""Demo content for a fictional company, Northwind Labs: people first, then what they write."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forum.demo.people import PEOPLE
from forum.models import Post, User
from forum.services.passwords import hash_password


@dataclass
class DemoResult:
    """What ``load`` created, for the command's summary."""

    password: str | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """Counts in a line, e.g. ``12 people``."""
        return ", ".join(f"{n} {what}" for what, n in self.counts.items()) or "nothing"


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
    progress: Callable[[str], None] = lambda _msg: None,
) -> DemoResult:
    """Stage the demo content; members that already exist are left alone (re-runnable)."""
    result = DemoResult(password=password or secrets.token_urlsafe(9))
    existing = set(session.scalars(select(User.username)).all())
    created = 0
    for person in PEOPLE:
        if person.username in existing:
            continue
        session.add(
            User(
                username=person.username,
                email=f"{person.username}@northwind.example",
                display_name=person.display_name,
                department=person.department,
                job_title=person.job_title,
                bio=person.bio,
                role=person.role,
                password_hash=hash_password(result.password or "", hash_method),
            )
        )
        created += 1
    session.flush()
    progress(f"{created} people")
    result.counts["people"] = created
    from forum.demo.articles import load_articles

    result.counts["articles"] = load_articles(session, progress=progress)
    from forum.demo.questions import load_questions

    result.counts["questions"] = load_questions(session, progress=progress)
    from forum.demo.requests import load_requests

    result.counts["tutorial requests"] = load_requests(session, progress=progress)
    from forum.demo.circles import load_circles

    result.counts["learning circles"] = load_circles(session, progress=progress)
    from forum.demo.mentoring import load_mentoring

    result.counts["mentorships"] = load_mentoring(session, progress=progress)
    from forum.demo.paths import load_paths

    result.counts["learning paths"] = load_paths(session, progress=progress)
    from forum.demo.notifications import load_notifications

    result.counts["notifications"] = load_notifications(session, progress=progress)
    # Keep this step last: reputation and badges follow from everything loaded above.
    _settle_recognition(session, result, progress)
    return result


def _settle_recognition(
    session: Session, result: DemoResult, progress: Callable[[str], None]
) -> None:
    """Bring reputation in line with the demo votes and award the badges they earn."""
    from forum.services import badges, reputation

    report = reputation.recalc(session, fix=True)
    awarded = badges.award(session)
    progress(f"reputation settled for {len(report.drift)} members, {len(awarded)} badges")
    result.counts["badges"] = len(awarded)
